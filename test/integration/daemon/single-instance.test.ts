// One berthd per root and per socket: a second one refuses to start with a clear error; a stale socket
// left by a killed berthd is replaced.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  baseConfigToml,
  integrationSkipReason,
  makeTempDir,
  restartBerthd,
  runBerthdSync,
  startBerthd,
} from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary } from '../../harness/grpc.js';
import { rm } from 'node:fs/promises';

const skip = integrationSkipReason();

describe('single instance', { skip, timeout: 120_000 }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('refuses a second berthd on the same root', async () => {
    const first = await startBerthd();
    cleanups.push(() => first.cleanup());
    const res = runBerthdSync(['--config', first.configPath]);
    assert.equal(res.status, 1, res.stderr);
    assert.match(res.stderr, /another berthd is already running with this root/);
    // The first one is unharmed and still owns its socket.
    const rt = first.runtime();
    const v = await unary(rt.version.bind(rt), { version: 'v1' });
    assert.equal(v.runtimeName, 'berth');
  });

  it('refuses a second berthd on the same socket with another root', async () => {
    const first = await startBerthd();
    cleanups.push(() => first.cleanup());
    const dir = await makeTempDir();
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const config = join(dir, 'config.toml');
    const toml = baseConfigToml(dir, join(dir, 'cni')).replace(/address = ".*"/, `address = "${first.socketPath}"`);
    await writeFile(config, toml);
    const res = runBerthdSync(['--config', config]);
    assert.equal(res.status, 1, res.stderr);
    assert.match(res.stderr, /socket .* is in use by another process/);
    assert.ok((await stat(first.socketPath)).isSocket(), 'the first socket is left in place');
    const rt = first.runtime();
    await unary(rt.version.bind(rt), { version: 'v1' });
  });

  it('replaces a stale socket left by a killed berthd', async () => {
    let berthd: Berthd = await startBerthd();
    cleanups.push(() => berthd.cleanup());
    await berthd.kill();
    assert.ok((await stat(berthd.socketPath)).isSocket(), 'kill -9 leaves the socket file behind');
    berthd = await restartBerthd(berthd);
    const rt = berthd.runtime();
    const v = await unary(rt.version.bind(rt), { version: 'v1' });
    assert.equal(v.runtimeApiVersion, 'v1');
  });
});
