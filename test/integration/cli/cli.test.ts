// The berth CLI against a real berthd, and without one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { integrationSkipReason, makeTempDir, runBerth, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { readPackageInfo } from '../../../src/base/version.js';

const skip = integrationSkipReason();

describe('berth CLI with berthd running', { skip, timeout: 120_000 }, () => {
  let berthd: Berthd;
  before(async () => {
    berthd = await startBerthd();
  });
  after(async () => {
    await berthd?.cleanup();
  });

  it('version prints the runtime fields like crictl', () => {
    const res = runBerth(['--address', berthd.address, 'version']);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /^Version:\s+0\.1\.0$/m);
    assert.match(res.stdout, /^RuntimeName:\s+berth$/m);
    assert.match(
      res.stdout,
      new RegExp(`^RuntimeVersion:\\s+${readPackageInfo().version.replace(/\./g, '\\.')}$`, 'm'),
    );
    assert.match(res.stdout, /^RuntimeApiVersion:\s+v1$/m);
  });

  it('version -o json, with the address from BERTH_ADDRESS', () => {
    const res = runBerth(['version', '-o', 'json'], { BERTH_ADDRESS: berthd.socketPath });
    assert.equal(res.status, 0, res.stderr);
    const v = JSON.parse(res.stdout) as Record<string, string>;
    assert.equal(v['runtimeName'], 'berth');
    assert.equal(v['clientVersion'], readPackageInfo().version);
  });

  it('info shows the conditions and the effective config', () => {
    const res = runBerth(['--address', berthd.address, 'info']);
    assert.equal(res.status, 0, res.stderr);
    const info = JSON.parse(res.stdout) as {
      status: { conditions: { type: string; status: boolean }[] };
      config: { root: string };
    };
    assert.deepEqual(
      info.status.conditions.map((c) => c.type),
      ['RuntimeReady', 'NetworkReady'],
    );
    assert.equal(info.config.root, berthd.root);
    const yaml = runBerth(['--address', berthd.address, 'info', '-o', 'yaml']);
    assert.equal(yaml.status, 0, yaml.stderr);
    assert.match(yaml.stdout, /^status:/m);
  });

  it('namespaces ls lists the built-ins', () => {
    const res = runBerth(['--address', berthd.address, 'namespaces', 'ls', '-q']);
    assert.equal(res.status, 0, res.stderr);
    assert.deepEqual(res.stdout.trim().split('\n').sort(), ['default', 'k8s.io', 'moby']);
  });

  it('a server error is one line with its code', () => {
    const res = runBerth(['--address', berthd.address, 'namespaces', 'rm', 'k8s.io']);
    assert.equal(res.status, 1);
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
    assert.match(res.stderr, /^berth: FAILED_PRECONDITION: namespace "k8s.io" is built in/);
  });
});

describe('berth CLI without berthd', () => {
  it('prints one line naming the socket and how to start berthd, exit 1', async (t) => {
    const dir = await makeTempDir();
    t.after(() => rm(dir, { recursive: true, force: true }));
    const sock = join(dir, 'berth.sock');
    const res = runBerth(['--address', `unix://${sock}`, 'version']);
    assert.equal(res.status, 1);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0] ?? '', new RegExp(`^berth: cannot connect to berthd at unix://${sock}`));
    assert.match(lines[0] ?? '', /start it with "berthd"/);
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
  });

  it('config default needs no daemon', () => {
    const res = runBerth(['config', 'default']);
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /^root = "\/var\/lib\/berth"$/m);
  });
});
