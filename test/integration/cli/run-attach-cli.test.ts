// berth run -i/-t (attach instead of the log file) against a real berthd, registry, runc and conmon; the
// real-terminal cases run berth under util-linux script(1), which gives it a pty.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { integrationSkipReason, runBerth, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { startBerth, startProcess, until } from '../../harness/berth-process.js';
import type { Running } from '../../harness/berth-process.js';
import { BERTH_MAIN } from '../../harness/paths.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());
const SCRIPT = '/usr/bin/script';

/** One argument for sh, quoted. */
function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

describe('berth run -i/-t', { skip, timeout: 300_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let image: string;
  let logRoot: string;
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd();
    image = `${registry.host}/berth-test/busybox:latest`;
    logRoot = join(berthd.dir, 'pods');
    assert.equal(berth('pull', image).status, 0);
  });
  after(async () => {
    await berthd?.cleanup();
    await registry?.stop();
  });
  const berth = (...args: string[]) => runBerth(['--address', berthd.address, ...args], {}, 60_000);
  const runArgs = (args: readonly string[]): string[] => [
    '--address',
    berthd.address,
    'run',
    '--log-root',
    logRoot,
    ...args,
  ];
  const runImage = (args: readonly string[], isStdinPiped = false): Running =>
    startBerth(runArgs(args), { isStdinPiped });
  /** berth run on a terminal of its own (40 rows, 100 columns): script's stdin is the keyboard. */
  const runOnTerminal = (args: readonly string[]): Running => {
    const line = [process.execPath, BERTH_MAIN, ...runArgs(args)].map(shellQuote).join(' ');
    return startProcess(SCRIPT, ['-qec', `stty rows 40 cols 100; exec ${line}`, '/dev/null'], {
      isStdinPiped: true,
    });
  };
  const noPodsLeft = (): void => {
    assert.equal(berth('ps', '-a', '-q').stdout, '', 'no container left');
    assert.equal(berth('pods', '-q').stdout, '', 'no pod left');
  };

  it('-i: piped stdin reaches the container and its end ends the input (stdin_once)', async () => {
    const run = runImage(['-i', '--rm', image, 'sh', '-c', 'wc -l'], true);
    run.stdin!.end('a\nb\n');
    const res = await run.done;
    assert.equal(res.stderr, '');
    assert.equal(res.stdout.toString().trim(), '2');
    assert.equal(res.status, 0);
    noPodsLeft();
  });

  it('-i: the exit code and stderr pass through; berth ends with the container, its stdin still open', async () => {
    const run = runImage(['-i', '--rm', image, 'sh', '-c', 'read x; echo "got $x"; echo err >&2; exit 6'], true);
    run.stdin!.write('one\n');
    const res = await run.done;
    assert.equal(res.stdout.toString(), 'got one\n');
    assert.equal(res.stderr, 'err\n');
    assert.equal(res.status, 6);
    const missing = await runImage(['-it', '--rm', image, '/no/such/command'], true).done;
    assert.equal(missing.status, 127, missing.stderr);
    noPodsLeft();
  });

  it('-i: Ctrl-C (not a terminal) stops the container, cleans up with --rm and exits 130', async () => {
    const run = runImage(['-i', '--rm', image, 'sh', '-c', 'echo started; cat'], true);
    await until('the container to start', () => run.stdout().includes('started'));
    run.kill('SIGINT');
    const res = await run.done;
    assert.equal(res.status, 130, res.stderr);
    noPodsLeft();
  });

  it('-t without a terminal: a terminal in the container, output from its first byte, the exit code', async () => {
    const res = await runImage(['--rm', '-t', image, 'sh', '-c', 'echo hi; echo err >&2; tty; exit 4']).done;
    assert.equal(res.stderr, '', 'stderr is on the terminal too');
    const lines = res.stdout.toString().split('\r\n');
    assert.deepEqual(lines.slice(0, 2), ['hi', 'err'], 'the terminal ends lines with CR LF');
    assert.match(lines[2] ?? '', /^\/dev\/pts\/\d+$/);
    assert.equal(res.status, 4);
    noPodsLeft();
  });

  it('-t: a reader that goes away (| head) stops the container; --rm cleans up, exit 141', async () => {
    const run = runImage(['--rm', '-t', image, 'sh', '-c', 'trap "exit 0" TERM; while :; do echo y; done']);
    await until('output', () => run.stdout().length > 0);
    run.closeStdout();
    const res = await run.done;
    assert.equal(res.status, 141, res.stderr);
    noPodsLeft();
  });

  it('-it on a real terminal: raw keys in, the window size, Ctrl-C to the container', async () => {
    const session = runOnTerminal([
      '--rm',
      '-it',
      image,
      'sh',
      '-c',
      'tty; read line; stty size; echo "got:$line"; exit 3',
    ]);
    await until('the container to print its tty', () => /\/dev\/pts\/\d+/.test(session.stdout()));
    session.stdin!.write('hello\r');
    const res = await session.done;
    const text = res.stdout.toString().replaceAll('\r', '');
    assert.match(text, /^\/dev\/pts\/\d+$/m, 'the container has a terminal');
    assert.match(text, /^40 100$/m, "the container's terminal has the size of berth's");
    assert.match(text, /^got:hello$/m, 'Enter arrives as CR and the terminal turns it into a line end');
    assert.equal(res.status, 3, `script passes berth's exit code on; output: ${text} ${res.stderr}`);

    // Ctrl-C is a byte for the container's terminal (SIGINT to its shell), not a signal for berth (130).
    const trapped = runOnTerminal([
      '--rm',
      '-it',
      image,
      'sh',
      '-c',
      'trap "echo trapped; exit 7" INT; tty; while :; do sleep 1; done',
    ]);
    await until('the container to print its tty', () => /\/dev\/pts\/\d+/.test(trapped.stdout()));
    trapped.stdin!.write('\x03');
    const interrupted = await trapped.done;
    assert.match(interrupted.stdout.toString(), /trapped/);
    assert.equal(interrupted.status, 7, interrupted.stdout.toString());
    noPodsLeft();
  });

  it('-i and -t are refused with config files', () => {
    const res = berth('run', '-it', BERTH_MAIN, BERTH_MAIN);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /-i\/--interactive, -t\/--tty: only for run IMAGE/);
  });
});
