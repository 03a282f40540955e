// Every berth command's --help ends with an example (issue #8): walk the whole program tree.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from '../../../src/cli/program.js';

function allCommands(cmd: Command, path: string[] = []): { path: string; cmd: Command }[] {
  const here = [...path, cmd.name()];
  return [{ path: here.join(' '), cmd }, ...cmd.commands.flatMap((sub) => allCommands(sub, here))];
}

/** The full --help text, including what addHelpText adds after commander's own part. */
function helpOf(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return text;
}

describe('berth --help', () => {
  const commands = allCommands(buildProgram());

  it('walks a tree with every command group', () => {
    const paths = commands.map((c) => c.path);
    for (const path of ['berth', 'berth ps', 'berth namespaces ls', 'berth config default', 'berth completion']) {
      assert.ok(paths.includes(path), `${path} is in the program`);
    }
  });

  for (const { path, cmd } of commands) {
    it(`${path} --help has an example`, () => {
      const help = helpOf(cmd);
      const section = /^Examples?:\n((?: {2}\S.*\n?)+)/m.exec(help);
      assert.ok(section, `"${path} --help" has no "Example:" section:\n${help}`);
      const root = path.split(' ')[0] ?? '';
      for (const line of section[1]?.trim().split('\n') ?? []) {
        assert.match(line, new RegExp(`\\b${root}d? `), `example "${line.trim()}" runs ${root}`);
      }
    });
  }
});
