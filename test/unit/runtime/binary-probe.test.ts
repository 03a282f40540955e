// The runtime binary probe behind `berth plugins`, with a fake Exec.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BerthError } from '../../../src/base/errors.js';
import type { Exec, ExecResult } from '../../../src/base/exec.js';
import { probeBinary, versionLine } from '../../../src/runtime/index.js';

function result(exitCode: number, stdout: string, stderr = ''): ExecResult {
  return {
    exitCode,
    signal: null,
    stdout,
    stderr,
    stdoutBytes: Buffer.from(stdout),
    stderrBytes: Buffer.from(stderr),
    truncated: false,
    durationMs: 1,
  };
}

describe('probeBinary', () => {
  it('reports the first line of --version', async () => {
    const calls: string[][] = [];
    const exec: Exec = async (r) => {
      calls.push([r.file, ...r.args]);
      return result(0, '\nrunc version 1.1.5\ncommit: v1.1.5\nspec: 1.0.2\n');
    };
    const probe = await probeBinary(exec, '/usr/sbin/runc');
    assert.deepEqual(calls, [['/usr/sbin/runc', '--version']]);
    assert.deepEqual(probe, {
      isReady: true,
      reason: '/usr/sbin/runc: runc version 1.1.5',
      details: { path: '/usr/sbin/runc', version: 'runc version 1.1.5' },
    });
    assert.equal(versionLine(''), '');
  });

  it('is not ready when the binary is missing or fails', async () => {
    const missing: Exec = async (r) => {
      throw new BerthError('FAILED_PRECONDITION', `${r.file} not found`);
    };
    assert.deepEqual(await probeBinary(missing, '/no/conmon'), {
      isReady: false,
      reason: '/no/conmon not found',
      details: { path: '/no/conmon' },
    });
    const failing: Exec = async () => result(2, '', 'unknown flag\n');
    const probe = await probeBinary(failing, '/bin/x');
    assert.equal(probe.isReady, false);
    assert.equal(probe.reason, '/bin/x --version exited with 2: unknown flag');
  });
});
