// berth completion bash|zsh|fish: scripts generated from the command tree, run through the real shells.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../../src/cli/program.js';
import { bashCompletion } from '../../../src/cli/completion/bash.js';
import { completionTree } from '../../../src/cli/completion/command-tree.js';
import { fishCompletion } from '../../../src/cli/completion/fish.js';
import { zshCompletion } from '../../../src/cli/completion/zsh.js';
import { runBerth } from '../../harness/berthd.js';

function hasShell(name: string): boolean {
  return spawnSync(name, ['-c', 'exit 0']).status === 0;
}

async function withScript<T>(text: string, fn: (path: string) => T): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-completion-'));
  try {
    const path = join(dir, 'completion');
    await writeFile(path, text);
    return fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function run(shell: string, args: readonly string[]): string {
  const res = spawnSync(shell, args, { encoding: 'utf8', timeout: 20_000 });
  assert.equal(res.status, 0, `${shell} ${args.join(' ')}: ${res.stderr}`);
  return res.stdout;
}

/** What bash's completion function offers for the words (the last one is the word being completed). */
function bashComplete(script: string, words: readonly string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const out = run('bash', [
    '-c',
    `source '${script}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _berth; printf '%s\\n' "\${COMPREPLY[@]}"`,
  ]);
  return out.split('\n').filter((l) => l !== '');
}

describe('berth completion bash', () => {
  const script = bashCompletion(completionTree(buildProgram()));

  it('is what `berth completion bash` prints, and bash -n accepts it', async () => {
    const res = runBerth(['completion', 'bash']);
    assert.equal(res.status, 0, res.stderr);
    assert.equal(res.stdout, script);
    await withScript(script, (path) => run('bash', ['-n', path]));
  });

  it('completes commands, aliases, options, option values and argument choices', async () => {
    await withScript(script, (path) => {
      assert.deepEqual(bashComplete(path, ['berth', 'ex']), ['exec']);
      assert.deepEqual(bashComplete(path, ['berth', 'ns', '']), ['ls', 'create', 'rm', 'help']);
      assert.deepEqual(bashComplete(path, ['berth', 'namespaces', 'l']), ['ls']);
      // The value of a global option is no command name.
      assert.deepEqual(bashComplete(path, ['berth', '-a', '/run/x.sock', 've']), ['version']);
      assert.deepEqual(bashComplete(path, ['berth', 'ps', '-o', '']), ['table', 'json', 'yaml']);
      assert.ok(bashComplete(path, ['berth', 'ps', '--']).includes('--all'));
      assert.deepEqual(bashComplete(path, ['berth', 'completion', '']), ['bash', 'zsh', 'fish']);
      // After "--" the words are the container's command: nothing from berth.
      assert.deepEqual(bashComplete(path, ['berth', 'exec', 'abc', '--', '']), []);
    });
  });

  it('follows the program tree: a command added to it is completed', async () => {
    const program = buildProgram();
    program.command('zz-probe').option('--probe-flag', 'x').description('probe');
    await withScript(bashCompletion(completionTree(program)), (path) => {
      assert.deepEqual(bashComplete(path, ['berth', 'zz']), ['zz-probe']);
      assert.deepEqual(bashComplete(path, ['berth', 'zz-probe', '--p']), ['--probe-flag']);
    });
  });
});

describe('berth completion zsh', { skip: hasShell('zsh') ? undefined : 'zsh is not installed' }, () => {
  it('parses (zsh -n) and completes through _describe/compadd', async () => {
    await withScript(zshCompletion(completionTree(buildProgram())), (path) => {
      run('zsh', ['-n', path]);
      // Stand-ins for the completion system's functions print what they were given, filtered like zsh would.
      const driver = [
        'compdef() { :; }',
        `source '${path}'`,
        '_describe() { local w; for w in "${(@)${(P)4}%%:*}"; do [[ $w == ${words[CURRENT]}* ]] && print -r -- $w; done; }',
        'compadd() { [[ $1 == -a ]] && print -rl -- "${(@P)2}"; }',
        '_files() { print -r -- "<files>"; }',
        't() { words=("$@"); CURRENT=${#words}; _berth; print -- ---; }',
        "t berth ex; t berth ns ''; t berth -a /run/x.sock ve; t berth ps -o ''; t berth exec abc -- ''",
      ].join('\n');
      const answers = run('zsh', ['-c', driver])
        .split('---\n')
        .map((block) => block.split('\n').filter((l) => l !== ''));
      assert.deepEqual(answers.slice(0, 5), [
        ['exec'],
        ['ls', 'create', 'rm', 'help'],
        ['version'],
        ['table', 'json', 'yaml'],
        ['<files>'],
      ]);
    });
  });
});

describe('berth completion fish', { skip: hasShell('fish') ? undefined : 'fish is not installed' }, () => {
  it('parses (fish -n) and completes with complete -C', async () => {
    await withScript(fishCompletion(completionTree(buildProgram())), (path) => {
      run('fish', ['-n', path]);
      const complete = (line: string): string[] =>
        run('fish', ['-c', `source '${path}'; complete -C '${line}'`])
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => l.split('\t')[0] ?? '');
      assert.deepEqual(complete('berth ex'), ['exec']);
      assert.deepEqual(complete('berth ns ').sort(), ['create', 'help', 'ls', 'rm']);
      assert.deepEqual(complete('berth -a /run/x.sock ve'), ['version']);
      assert.deepEqual(complete('berth ps -o ').sort(), ['json', 'table', 'yaml']);
      assert.deepEqual(complete('berth completion ').sort(), ['bash', 'fish', 'zsh']);
    });
  });
});
