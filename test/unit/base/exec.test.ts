import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { exec } from '../../../src/base/exec.js';

/** Pids of processes whose argv contains marker. */
async function processesWith(marker: string): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (argv.split('\0').includes(marker)) out.push(pid);
  }
  return out;
}

describe('exec', () => {
  it('returns exit code, stdout and stderr without throwing on failure', async () => {
    const res = await exec({ file: '/bin/sh', args: ['-c', 'echo out; echo err >&2; exit 3'], timeoutMs: 5000 });
    assert.equal(res.exitCode, 3);
    assert.equal(res.stdout, 'out\n');
    assert.equal(res.stderr, 'err\n');
    assert.equal(res.truncated, false);
  });

  it('passes stdin and an explicit env only', async () => {
    const res = await exec({
      file: '/bin/sh',
      args: ['-c', 'cat; echo "$FOO-$HOME"'],
      env: { FOO: 'bar' },
      stdin: 'in\n',
      timeoutMs: 5000,
    });
    assert.equal(res.stdout, 'in\nbar-\n');
  });

  it('caps output and says so', async () => {
    const res = await exec({
      file: '/bin/sh',
      args: ['-c', 'head -c 100000 /dev/zero'],
      timeoutMs: 5000,
      maxOutputBytes: 1000,
    });
    assert.equal(res.stdout.length, 1000);
    assert.equal(res.truncated, true);
  });

  it('kills a child that overruns its timeout with DEADLINE_EXCEEDED naming the argv', async () => {
    const started = Date.now();
    await assert.rejects(exec({ file: '/bin/sleep', args: ['30'], timeoutMs: 200 }), {
      code: 'DEADLINE_EXCEEDED',
      message: /\/bin\/sleep 30 did not finish within 200 ms/,
    });
    assert.ok(Date.now() - started < 5000);
  });

  // A wrapper script (a failpoint runc, a CNI plugin in sh) waiting on a child: SIGTERM ends the script, its
  // child kept the pipes open, and exec used to wait for them forever (issue #7).
  it('times out a child whose own child hangs, and kills both', { timeout: 20_000 }, async () => {
    const marker = `31.${process.pid}`;
    await assert.rejects(exec({ file: '/bin/sh', args: ['-c', `sleep ${marker}; true`], timeoutMs: 300 }), {
      code: 'DEADLINE_EXCEEDED',
    });
    assert.deepEqual(await processesWith(marker), [], 'the grandchild is killed too');
  });

  it('does not wait for a process the child left behind holding its output', { timeout: 20_000 }, async () => {
    const marker = `40.${process.pid}`;
    const res = await exec({ file: '/bin/sh', args: ['-c', `sleep ${marker} & echo started`], timeoutMs: 60_000 });
    assert.equal(res.exitCode, 0);
    assert.equal(res.stdout, 'started\n');
    for (const pid of await processesWith(marker)) process.kill(Number(pid), 'SIGKILL');
  });

  it('a missing binary is FAILED_PRECONDITION "not found"', async () => {
    await assert.rejects(exec({ file: '/nonexistent/runc', args: [], timeoutMs: 1000 }), {
      code: 'FAILED_PRECONDITION',
      message: '/nonexistent/runc not found',
    });
  });

  it('an aborted signal stops the child with CANCELLED', async () => {
    const ac = new AbortController();
    const p = exec({ file: '/bin/sleep', args: ['30'], timeoutMs: 10_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(p, { code: 'CANCELLED' });
  });
});
