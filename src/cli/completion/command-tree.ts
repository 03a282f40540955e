/**
 * What shell completion needs to know about the berth program, read from commander's own tree (the
 * commands, aliases and options shown in --help), so completion can never list a command that does not
 * exist or miss a new one. The shell scripts (bash.ts, zsh.ts, fish.ts) are generated from this.
 */
import type { Command } from 'commander';

export interface CompletionOption {
  /** "-a", or undefined. */
  readonly short: string | undefined;
  /** "--address", or undefined. */
  readonly long: string | undefined;
  readonly description: string;
  /** The option is followed by a value (`--address SOCK`), so that word is no command name. */
  readonly takesValue: boolean;
  /** The values it accepts, when commander knows them (`.choices()`). */
  readonly choices: readonly string[];
}

export interface CompletionCommand {
  /** The command and its ancestors' names, root first: "berth namespaces ls". */
  readonly path: string;
  readonly name: string;
  readonly aliases: readonly string[];
  readonly description: string;
  readonly options: readonly CompletionOption[];
  /** The values the first argument accepts (`berth completion <shell>`), when commander knows them. */
  readonly argumentChoices: readonly string[];
  readonly subcommands: readonly CompletionCommand[];
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? '';
}

/** The tree below (and including) `cmd`, as `--help` shows it: hidden commands and options are left out. */
export function completionTree(cmd: Command, parentPath = ''): CompletionCommand {
  const help = cmd.createHelp();
  const path = parentPath === '' ? cmd.name() : `${parentPath} ${cmd.name()}`;
  return {
    path,
    name: cmd.name(),
    aliases: cmd.aliases(),
    description: firstLine(cmd.summary() || cmd.description()),
    options: help.visibleOptions(cmd).map((o) => ({
      short: o.short,
      long: o.long,
      description: firstLine(o.description),
      takesValue: o.required || o.optional,
      choices: o.argChoices ?? [],
    })),
    argumentChoices: cmd.registeredArguments[0]?.argChoices ?? [],
    subcommands: help.visibleCommands(cmd).map((sub) => completionTree(sub, path)),
  };
}

/** Every command of the tree, depth first, the root first. */
export function allCommands(root: CompletionCommand): CompletionCommand[] {
  return [root, ...root.subcommands.flatMap(allCommands)];
}

/** "-a --address" style flag words of an option. */
export function flagsOf(option: CompletionOption): string[] {
  return [option.short, option.long].filter((f): f is string => f !== undefined);
}

/** A shell function name made of a command path: "berth ns ls" -> "berth_ns_ls". */
export function identifierOf(path: string): string {
  return path.replace(/[^A-Za-z0-9]+/g, '_');
}
