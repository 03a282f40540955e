import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeResult, hasJsonStatus } from '../../../src/streaming/index.js';
import { exitCodeOf } from '../../../src/cli/stream-client.js';
import { expectedRoles } from '../../../src/streaming/spdy-command.js';

describe('remotecommand status', () => {
  it('v4 success is a metav1.Status Success', () => {
    assert.deepEqual(JSON.parse(encodeResult('v4.channel.k8s.io', { kind: 'success' }).toString()), {
      metadata: {},
      status: 'Success',
    });
  });

  it('v4 non-zero exit carries the code as an ExitCode cause (JSON key "reason"), as Go clients decode it', () => {
    const status = JSON.parse(
      encodeResult('v4.channel.k8s.io', { kind: 'exit', exitCode: 3, cmd: ['sh', '-c', 'exit 3'] }).toString(),
    ) as Record<string, unknown>;
    assert.equal(status['status'], 'Failure');
    assert.equal(status['reason'], 'NonZeroExitCode');
    assert.deepEqual(status['details'], { causes: [{ reason: 'ExitCode', message: '3' }] });
    assert.match(String(status['message']), /exit code 3/);
  });

  it('older protocols get plain text, and nothing for success', () => {
    assert.equal(encodeResult('channel.k8s.io', { kind: 'success' }).length, 0);
    assert.equal(encodeResult('v2.channel.k8s.io', { kind: 'error', message: 'boom' }).toString(), 'boom');
    assert.equal(hasJsonStatus('v3.channel.k8s.io'), false);
    assert.equal(hasJsonStatus('v5.channel.k8s.io'), true);
  });

  it('the CLI reads back what the server writes', () => {
    assert.equal(exitCodeOf(encodeResult('v4.channel.k8s.io', { kind: 'success' })), 0);
    assert.equal(exitCodeOf(Buffer.alloc(0)), 0);
    assert.equal(exitCodeOf(encodeResult('v4.channel.k8s.io', { kind: 'exit', exitCode: 42, cmd: ['x'] })), 42);
    assert.throws(
      () => exitCodeOf(encodeResult('v4.channel.k8s.io', { kind: 'error', message: 'container gone' })),
      /container gone/,
    );
  });

  it('expects the streams kubelet expects', () => {
    const base = { kind: 'exec', namespace: 'k8s.io', containerId: 'c', cmd: ['sh'] } as const;
    const roles = (r: { tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }, p = 'v4.channel.k8s.io') =>
      [...expectedRoles({ ...base, ...r }, p)].sort();
    assert.deepEqual(roles({ tty: false, stdin: false, stdout: true, stderr: true }), ['error', 'stderr', 'stdout']);
    assert.deepEqual(roles({ tty: true, stdin: true, stdout: true, stderr: false }), [
      'error',
      'resize',
      'stdin',
      'stdout',
    ]);
    assert.deepEqual(roles({ tty: true, stdin: true, stdout: true, stderr: false }, 'v2.channel.k8s.io'), [
      'error',
      'stdin',
      'stdout',
    ]);
  });
});
