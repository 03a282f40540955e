/** berth completion bash|zsh|fish: a shell completion script generated from this program's command tree. */
import type { Command } from 'commander';
import { Argument } from 'commander';
import { bashCompletion } from '../completion/bash.js';
import { completionTree } from '../completion/command-tree.js';
import { fishCompletion } from '../completion/fish.js';
import { zshCompletion } from '../completion/zsh.js';

const SHELLS = Object.freeze(['bash', 'zsh', 'fish'] as const);
type Shell = (typeof SHELLS)[number];

export function registerCompletion(program: Command): void {
  program
    .command('completion')
    .description('Print a shell completion script (commands, subcommands, options, option values)')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  source <(berth completion bash)\n' +
        '  berth completion bash > /etc/bash_completion.d/berth\n' +
        '  berth completion zsh > "${fpath[1]}/_berth"\n' +
        '  berth completion fish > ~/.config/fish/completions/berth.fish\n',
    )
    .action((shell: Shell) => {
      const tree = completionTree(program);
      const render = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell];
      process.stdout.write(render(tree));
    });
}
