// CniManager with Debian's real CNI plugins (root): bridge + host-local + portmap, loopback run by Berth,
// in namespaces and a bridge that exist only for this test. Nothing here sends traffic off the host.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import { pino } from 'pino';
import { exec } from '../../../src/base/exec.js';
import { CniManager } from '../../../src/network/cni/cni-manager.js';
import type { CniPod } from '../../../src/network/cni/types.js';
import { createNetns, inNetns, removeNetns } from './netns.js';

const CNI_BIN = '/usr/lib/cni';
const HOST_LOCAL_DIR = '/var/lib/cni/networks';

function cniSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'CNI integration tests need root';
  for (const plugin of ['bridge', 'host-local', 'portmap', 'loopback']) {
    if (!existsSync(join(CNI_BIN, plugin)))
      return `${CNI_BIN}/${plugin} is missing (package containernetworking-plugins)`;
  }
  for (const tool of ['unshare', 'nsenter', 'ip', 'iptables-save', 'umount']) {
    if (spawnSync('which', [tool]).status !== 0) return `${tool} is not installed`;
  }
  return false;
}

const skip = cniSkipReason();
const log = pino({ level: 'silent' });

function conflist(name: string, subnet: string, extraPlugins: readonly object[] = []): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'bridge',
        bridge: name,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      ...extraPlugins,
    ],
  });
}

/** host-local's lease files: one per address, named by it (besides "lock" and "last_reserved_ip.0"). */
async function leases(network: string): Promise<string[]> {
  try {
    return (await readdir(join(HOST_LOCAL_DIR, network))).filter((f) => isIPv4(f));
  } catch {
    return [];
  }
}

function iptablesLinesMentioning(text: string): string[] {
  return execFileSync('iptables-save', { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(text));
}

function bridgePorts(bridge: string): string[] {
  return execFileSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() !== '');
}

describe('CNI pod network with real plugins', { skip, timeout: 600_000 }, () => {
  const tag = randomBytes(3).toString('hex');
  const network = `bt${tag}`;
  const failNetwork = `bf${tag}`;
  const octet = randomInt(0, 250);
  let base = '';
  let manager: CniManager;
  let failManager: CniManager;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'berth-cni-'));
    const confDir = join(base, 'net.d');
    const failConfDir = join(base, 'fail.d');
    const failBin = join(base, 'bin');
    await mkdir(confDir);
    await mkdir(failConfDir);
    await mkdir(failBin);
    await writeFile(join(confDir, '10-test.conflist'), conflist(network, `10.250.${octet}.0/24`));
    // A plugin that fails ADD the way the spec says (error JSON on stdout, non-zero exit) and whose DEL succeeds.
    await writeFile(
      join(failBin, 'berth-fail'),
      [
        '#!/bin/sh',
        'cat >/dev/null',
        'if [ "$CNI_COMMAND" = ADD ]; then',
        '  printf \'{"cniVersion":"1.0.0","code":7,"msg":"injected failure","details":"berth test"}\'',
        '  exit 1',
        'fi',
        'exit 0',
        '',
      ].join('\n'),
    );
    await chmod(join(failBin, 'berth-fail'), 0o755);
    await writeFile(
      join(failConfDir, '10-fail.conflist'),
      conflist(failNetwork, `10.251.${octet}.0/24`, [{ type: 'berth-fail' }]),
    );
    manager = new CniManager({ binDirs: [CNI_BIN], confDir, exec, cacheDir: join(base, 'cache'), log });
    failManager = new CniManager({
      binDirs: [failBin, CNI_BIN],
      confDir: failConfDir,
      exec,
      cacheDir: join(base, 'fail-cache'),
      log,
    });
    await manager.start();
    await failManager.start();
  });

  after(async () => {
    await manager?.close();
    await failManager?.close();
    for (const link of [network, failNetwork]) spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
    for (const dir of [network, failNetwork]) await rm(join(HOST_LOCAL_DIR, dir), { recursive: true, force: true });
    if (base !== '') await rm(base, { recursive: true, force: true });
  });

  async function newPod(extra: Partial<CniPod> = {}): Promise<CniPod> {
    const id = randomBytes(32).toString('hex');
    const netnsPath = join(base, `netns-${id.slice(0, 12)}`);
    await createNetns(netnsPath);
    return {
      id,
      netnsPath,
      podName: `pod-${id.slice(0, 6)}`,
      podNamespace: 'default',
      podUid: `uid-${id.slice(0, 8)}`,
      ...extra,
    };
  }

  it('is ready with a valid config', async () => {
    assert.deepEqual(await manager.status(), { isReady: true, reason: '', message: '' });
  });

  it('ADD gives the pod an address in its netns, lo up and hostPort rules; DEL removes them and frees the lease', async () => {
    const hostPort = randomInt(20000, 30000);
    const pod = await newPod({ portMappings: [{ hostPort, containerPort: 80, protocol: 'tcp' }] });
    try {
      const net = await manager.setUp(pod);
      const ip = net.ips[0];
      assert.ok(ip !== undefined && ip.family === 4, JSON.stringify(net));
      assert.match(ip.address, new RegExp(`^10\\.250\\.${octet}\\.\\d+$`));
      assert.equal(ip.prefix, 24);
      assert.equal(ip.gateway, `10.250.${octet}.1`);
      assert.ok(net.interfaces.some((i) => i.name === 'eth0' && i.sandbox === pod.netnsPath));

      const addrs = inNetns(pod.netnsPath, ['ip', '-o', 'addr']);
      assert.match(addrs, new RegExp(`eth0\\s+inet ${ip.address.replace(/\./g, '\\.')}/24`));
      assert.match(addrs, /lo\s+inet 127\.0\.0\.1\/8/);
      assert.match(inNetns(pod.netnsPath, ['ip', '-o', 'link', 'show', 'lo']), /[<,]UP[,>]/);

      assert.deepEqual(await leases(network), [ip.address]);
      const rules = iptablesLinesMentioning(pod.id);
      assert.ok(
        rules.some((r) => r.includes(`--dports ${hostPort}`)),
        rules.join('\n'),
      );
      assert.equal(bridgePorts(network).length, 1);

      await manager.tearDown(pod);
      assert.deepEqual(await leases(network), []);
      assert.deepEqual(iptablesLinesMentioning(pod.id), []);
      assert.equal(bridgePorts(network).length, 0);
      assert.doesNotMatch(inNetns(pod.netnsPath, ['ip', '-o', 'link']), /eth0/);
    } finally {
      await manager.tearDown(pod);
      await removeNetns(pod.netnsPath);
    }
  });

  it('CHECK passes on a set-up pod', async () => {
    const pod = await newPod();
    try {
      await manager.setUp(pod);
      await manager.check(pod);
    } finally {
      await manager.tearDown(pod);
      await removeNetns(pod.netnsPath);
    }
  });

  it('DEL is idempotent: twice, with nothing set up, and after the netns is gone', async () => {
    const pod = await newPod();
    await manager.tearDown(pod); // nothing set up yet
    await manager.setUp(pod);
    await manager.tearDown(pod);
    await manager.tearDown(pod);

    await manager.setUp(pod);
    assert.equal((await leases(network)).length, 1);
    await removeNetns(pod.netnsPath); // the veth dies with the netns; the lease and rules do not
    await manager.tearDown(pod);
    await manager.tearDown(pod);
    assert.deepEqual(await leases(network), []);
    assert.equal(bridgePorts(network).length, 0);
    assert.deepEqual(iptablesLinesMentioning(pod.id), []);
  });

  it('a failing plugin gives a clear error and leaves nothing behind', async () => {
    const pod = await newPod({
      portMappings: [{ hostPort: randomInt(20000, 30000), containerPort: 80, protocol: 'tcp' }],
    });
    try {
      await assert.rejects(failManager.setUp(pod), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'FAILED_PRECONDITION');
        assert.match(
          err.message,
          /CNI plugin "berth-fail" ADD in network "bf[0-9a-f]+" for pod [0-9a-f]{64} failed: injected failure \(berth test\) \[CNI error 7\]/,
        );
        return true;
      });
      assert.deepEqual(await leases(failNetwork), []);
      assert.deepEqual(iptablesLinesMentioning(pod.id), []);
      assert.equal(bridgePorts(failNetwork).length, 0);
      assert.doesNotMatch(inNetns(pod.netnsPath, ['ip', '-o', 'link']), /eth0/);
      await failManager.tearDown(pod); // nothing left to undo
    } finally {
      await removeNetns(pod.netnsPath);
    }
  });

  it('a bridge left with another subnet fails ADD with FAILED_PRECONDITION saying how to fix the node', async () => {
    const stale = `bs${tag}`;
    const confDir = join(base, 'stale.d');
    await mkdir(confDir);
    await writeFile(join(confDir, '10-stale.conflist'), conflist(stale, `10.252.${octet}.0/24`));
    // What an earlier network config (another default_subnet) leaves behind: the bridge with its old gateway.
    execFileSync('ip', ['link', 'add', stale, 'type', 'bridge']);
    const staleManager = new CniManager({
      binDirs: [CNI_BIN],
      confDir,
      exec,
      cacheDir: join(base, 'stale-cache'),
      log,
    });
    const pod = await newPod();
    try {
      execFileSync('ip', ['addr', 'add', `10.253.${octet}.1/24`, 'dev', stale]);
      await staleManager.start();
      await assert.rejects(staleManager.setUp(pod), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'FAILED_PRECONDITION', err.message);
        assert.match(err.message, new RegExp(`already has an IP address different from 10\\.252\\.${octet}\\.1/24`));
        assert.match(err.message, new RegExp(`remove it with "ip link del ${stale}"`));
        return true;
      });
      assert.deepEqual(await leases(stale), [], 'the lease taken before the failure is released');
      assert.equal(bridgePorts(stale).length, 0, 'no veth is left on the bridge');
    } finally {
      await staleManager.close();
      await removeNetns(pod.netnsPath);
      spawnSync('ip', ['link', 'del', stale], { stdio: 'ignore' });
      await rm(join(HOST_LOCAL_DIR, stale), { recursive: true, force: true });
    }
  });

  it('50 ADD/DEL cycles leave no lease, no iptables rule naming a pod and no veth', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const pod = await newPod({ portMappings: [{ hostPort: 31000 + i, containerPort: 8080, protocol: 'tcp' }] });
      ids.push(pod.id);
      try {
        const net = await manager.setUp(pod);
        assert.equal(net.ips.length, 1);
        await manager.tearDown(pod);
      } finally {
        await removeNetns(pod.netnsPath);
      }
    }
    assert.deepEqual(await leases(network), []);
    const rules = execFileSync('iptables-save', { encoding: 'utf8' });
    assert.deepEqual(
      ids.filter((id) => rules.includes(id)),
      [],
    );
    assert.equal(bridgePorts(network).length, 0);
  });
});
