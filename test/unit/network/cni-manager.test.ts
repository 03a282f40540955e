// CniManager against a fake Exec that plays the plugins: chain order, prevResult threading, the result
// cache, rollback, error mapping, idempotent DEL and config reloads.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import type { Exec, ExecRequest, ExecResult } from '../../../src/base/exec.js';
import { CniManager } from '../../../src/network/cni/cni-manager.js';
import type { CniPod } from '../../../src/network/cni/types.js';

const log = pino({ level: 'silent' });

interface Call {
  readonly plugin: string;
  readonly command: string;
  readonly ifName: string;
  readonly netns: string;
  readonly stdin: Record<string, unknown>;
}

/** Plays bridge/portmap/loopback/failer; `failOn` makes one plugin fail one command with an error object. */
class FakePlugins {
  readonly calls: Call[] = [];
  /** unshare/umount runs (the stand-in netns for DEL without the pod's own). */
  readonly tools: string[] = [];
  toolStdin = '';
  isToolBroken = false;
  failOn: { plugin: string; command: string; code: number } | undefined;

  readonly exec: Exec = async (req: ExecRequest): Promise<ExecResult> => {
    const env = req.env ?? {};
    const plugin = basename(req.file);
    if (plugin === 'unshare' || plugin === 'umount') {
      this.tools.push([plugin, ...req.args].join(' '));
      if (plugin === 'unshare') this.toolStdin = String(req.stdin);
      return {
        exitCode: plugin === 'unshare' && this.isToolBroken ? 1 : 0,
        signal: null,
        stdout: '',
        stderr: '',
        stdoutBytes: Buffer.alloc(0),
        stderrBytes: Buffer.alloc(0),
        truncated: false,
        durationMs: 1,
      };
    }
    const command = env['CNI_COMMAND'] ?? '';
    const stdin = JSON.parse(String(req.stdin)) as Record<string, unknown>;
    this.calls.push({ plugin, command, ifName: env['CNI_IFNAME'] ?? '', netns: env['CNI_NETNS'] ?? '', stdin });
    const done = (exitCode: number, stdout: string): ExecResult => ({
      exitCode,
      signal: null,
      stdout,
      stderr: '',
      stdoutBytes: Buffer.from(stdout),
      stderrBytes: Buffer.alloc(0),
      truncated: false,
      durationMs: 1,
    });
    if (this.failOn?.plugin === plugin && this.failOn.command === command) {
      return done(1, JSON.stringify({ cniVersion: '1.0.0', code: this.failOn.code, msg: 'boom', details: 'why' }));
    }
    if (command !== 'ADD') return done(0, '');
    if (plugin === 'bridge') {
      return done(
        0,
        JSON.stringify({
          cniVersion: stdin['cniVersion'],
          interfaces: [{ name: 'br0' }, { name: 'eth0', sandbox: env['CNI_NETNS'] }],
          ips: [
            { address: 'fd00::5/64', interface: 1 },
            { address: '10.9.0.5/24', gateway: '10.9.0.1', interface: 1 },
          ],
        }),
      );
    }
    // Chained plugins pass the previous result on; loopback returns a minimal result.
    return done(0, JSON.stringify(stdin['prevResult'] ?? { cniVersion: stdin['cniVersion'] }));
  };

  of(command: string): string[] {
    return this.calls.filter((c) => c.command === command).map((c) => `${c.plugin}/${c.ifName}`);
  }
}

function list(name: string, version = '1.0.0', extra: object[] = []): string {
  return JSON.stringify({
    cniVersion: version,
    name,
    plugins: [{ type: 'bridge', bridge: 'br0' }, { type: 'portmap', capabilities: { portMappings: true } }, ...extra],
  });
}

describe('CniManager (fake plugins)', () => {
  let base = '';
  let bin = '';
  let n = 0;

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'berth-cni-mgr-'));
    bin = join(base, 'bin');
    await mkdir(bin);
    for (const p of ['bridge', 'portmap', 'loopback', 'failer']) {
      await writeFile(join(bin, p), '#!/bin/sh\n');
      await chmod(join(bin, p), 0o755);
    }
  });
  after(async () => rm(base, { recursive: true, force: true }));

  async function setup(files: Record<string, string> = { '10-a.conflist': list('net1') }) {
    const dir = join(base, `case-${n++}`);
    const confDir = join(dir, 'net.d');
    const cacheDir = join(dir, 'cache');
    await mkdir(confDir, { recursive: true });
    for (const [f, text] of Object.entries(files)) await writeFile(join(confDir, f), text);
    const fake = new FakePlugins();
    const manager = new CniManager({ binDirs: [bin], confDir, cacheDir, exec: fake.exec, log, reloadDebounceMs: 10 });
    const pod: CniPod = {
      id: (n.toString(16) + 'f'.repeat(64)).slice(0, 64),
      netnsPath: join(dir, 'netns'), // not a real netns: DEL passes an empty CNI_NETNS for it
      podName: 'p',
      podNamespace: 'ns',
      podUid: 'u',
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    };
    return { fake, manager, pod, confDir, cacheDir };
  }

  it('ADD runs loopback on lo, then the chain on eth0 threading prevResult; returns IPv4 first and caches', async () => {
    const { fake, manager, pod, cacheDir } = await setup();
    const net = await manager.setUp(pod);
    assert.deepEqual(fake.of('ADD'), ['loopback/lo', 'bridge/eth0', 'portmap/eth0']);
    const [lo, bridge, portmap] = fake.calls;
    assert.equal(lo?.stdin['name'], 'cni-loopback');
    assert.equal(bridge?.stdin['prevResult'], undefined);
    assert.equal(bridge?.stdin['name'], 'net1');
    assert.deepEqual((portmap?.stdin['prevResult'] as { ips: unknown[] }).ips.length, 2);
    assert.deepEqual(portmap?.stdin['runtimeConfig'], {
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    });
    assert.deepEqual(
      net.ips.map((ip) => `${ip.address}/${ip.prefix}`),
      ['10.9.0.5/24', 'fd00::5/64'],
    );
    const cached = JSON.parse(await readFile(join(cacheDir, `${pod.id}.json`), 'utf8')) as Record<string, unknown>;
    assert.equal(cached['state'], 'ready');
    assert.equal((cached['network'] as { name: string }).name, 'net1');
    assert.ok(cached['result'] !== undefined);
  });

  it('DEL runs in reverse with the cached result and the ADD-time config, then loopback; idempotent', async () => {
    const { fake, manager, pod, confDir, cacheDir } = await setup();
    await manager.setUp(pod);
    // The operator switches networks after ADD: DEL must still undo what ADD did.
    await writeFile(join(confDir, '00-new.conflist'), list('other'));
    await manager.tearDown({ ...pod, portMappings: undefined });
    const dels = fake.calls.filter((c) => c.command === 'DEL');
    assert.deepEqual(
      dels.map((c) => `${c.plugin}/${c.ifName}`),
      ['portmap/eth0', 'bridge/eth0', 'loopback/lo'],
    );
    assert.ok(dels.slice(0, 2).every((c) => c.stdin['name'] === 'net1' && c.stdin['prevResult'] !== undefined));
    // The pod's netns path is not a netns: DEL runs against a stand-in holding eth0 with the cached addresses.
    const standIn = join(cacheDir, `${pod.id}.netns`);
    assert.ok(dels.every((c) => c.netns === standIn));
    assert.deepEqual(fake.tools, [`unshare --net=${standIn} /usr/sbin/ip -batch -`, `umount ${standIn}`]);
    assert.deepEqual(dels[0]?.stdin['runtimeConfig'], {
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
    });
    assert.deepEqual(await readdir(cacheDir), []);
    const count = fake.calls.length;
    await manager.tearDown(pod);
    assert.equal(fake.calls.length, count, 'a second DEL has nothing to do');
  });

  it('the stand-in netns carries eth0 with the cached addresses; without one DEL gets an empty CNI_NETNS', async () => {
    const { fake, manager, pod, cacheDir } = await setup();
    await manager.setUp(pod);
    await manager.tearDown(pod);
    assert.equal(
      fake.toolStdin,
      'link add eth0 type veth peer name berth-standin\naddr add 10.9.0.5/24 dev eth0\naddr add fd00::5/64 dev eth0\nlink set eth0 up\n',
    );
    fake.calls.length = 0;
    fake.isToolBroken = true;
    await manager.setUp(pod);
    await manager.tearDown(pod);
    assert.ok(fake.calls.filter((c) => c.command === 'DEL').every((c) => c.netns === ''));
    assert.deepEqual(await readdir(cacheDir), []);
  });

  it('DEL of a pod never set up succeeds without running plugins', async () => {
    const { fake, manager, pod } = await setup();
    await manager.tearDown(pod);
    assert.equal(fake.calls.length, 0);
  });

  it('a failing ADD becomes a clear error and rolls back everything', async () => {
    const { fake, manager, pod, cacheDir } = await setup();
    fake.failOn = { plugin: 'portmap', command: 'ADD', code: 11 };
    await assert.rejects(manager.setUp(pod), {
      code: 'UNAVAILABLE',
      message: `CNI plugin "portmap" ADD in network "net1" for pod ${pod.id} failed: boom (why) [CNI error 11]`,
    });
    assert.deepEqual(fake.of('DEL'), ['portmap/eth0', 'bridge/eth0', 'loopback/lo']);
    assert.deepEqual(await readdir(cacheDir), []);
  });

  it('rollback goes on past a failing DEL', async () => {
    const { fake, manager, pod } = await setup({ '10-a.conflist': list('net1', '1.0.0', [{ type: 'failer' }]) });
    fake.failOn = { plugin: 'failer', command: 'ADD', code: 7 };
    await assert.rejects(manager.setUp(pod), { code: 'FAILED_PRECONDITION', message: /"failer" ADD .*boom/ });
    fake.failOn = undefined;
    assert.deepEqual(fake.of('DEL'), ['failer/eth0', 'portmap/eth0', 'bridge/eth0', 'loopback/lo']);
  });

  it('a failing DEL keeps the record for a retry and names the plugin', async () => {
    const { fake, manager, pod, cacheDir } = await setup();
    await manager.setUp(pod);
    fake.failOn = { plugin: 'bridge', command: 'DEL', code: 5 };
    await assert.rejects(manager.tearDown(pod), { code: 'UNKNOWN', message: /"bridge" DEL .*boom/ });
    assert.deepEqual(fake.of('DEL'), ['portmap/eth0', 'bridge/eth0', 'loopback/lo']);
    assert.deepEqual(await readdir(cacheDir), [`${pod.id}.json`]);
    fake.failOn = undefined;
    await manager.tearDown(pod);
    assert.deepEqual(await readdir(cacheDir), []);
  });

  it('a plugin printing no error object fails with its stderr and exit code', async () => {
    const { pod, confDir, cacheDir } = await setup();
    const broken = new CniManager({
      binDirs: [bin],
      confDir,
      cacheDir,
      exec: async () => ({
        exitCode: 2,
        signal: null,
        stdout: '',
        stderr: 'panic: nil map',
        stdoutBytes: Buffer.alloc(0),
        stderrBytes: Buffer.from('panic: nil map'),
        truncated: false,
        durationMs: 1,
      }),
      log,
    });
    await assert.rejects(broken.setUp(pod), {
      code: 'UNKNOWN',
      message: /"loopback" ADD .* failed: the plugin exited with 2: panic: nil map/,
    });
  });

  it('CHECK passes the cached result to every plugin; refused below 0.4.0; NOT_FOUND when not set up', async () => {
    const { fake, manager, pod } = await setup();
    await assert.rejects(manager.check(pod), { code: 'NOT_FOUND' });
    await manager.setUp(pod);
    await manager.check(pod);
    const checks = fake.calls.filter((c) => c.command === 'CHECK');
    assert.deepEqual(
      checks.map((c) => c.plugin),
      ['bridge', 'portmap'],
    );
    assert.ok(checks.every((c) => (c.stdin['prevResult'] as { ips?: unknown[] }).ips?.length === 2));

    const old = await setup({ '10-a.conflist': list('old', '0.3.1') });
    await old.manager.setUp(old.pod);
    await assert.rejects(old.manager.check(old.pod), {
      code: 'FAILED_PRECONDITION',
      message: /0\.3\.1: CHECK needs 0\.4\.0/,
    });
  });

  it('status: not ready without a config, with an invalid one, or without loopback; ready otherwise', async () => {
    const { manager, confDir } = await setup({});
    const none = await manager.status();
    assert.equal(none.isReady, false);
    assert.equal(none.reason, 'NetworkPluginNotReady');
    assert.match(none.message, /no CNI network config found/);
    await assert.rejects(
      manager.setUp({ id: 'a'.repeat(64), netnsPath: '/x', podName: 'p', podNamespace: 'n', podUid: 'u' }),
      {
        code: 'FAILED_PRECONDITION',
        message: /no CNI network config found/,
      },
    );

    await writeFile(join(confDir, '10-a.conflist'), list('net1', '1.0.0', [{ type: 'missing-plugin' }]));
    assert.match((await manager.status()).message, /plugin "missing-plugin" not found/);
    await writeFile(join(confDir, '10-a.conflist'), list('net1'));
    assert.deepEqual(await manager.status(), { isReady: true, reason: '', message: '' });

    const noLo = new CniManager({
      binDirs: [join(base, 'bin-nolo')],
      confDir,
      cacheDir: join(base, 'c'),
      exec: new FakePlugins().exec,
      log,
    });
    await mkdir(join(base, 'bin-nolo'), { recursive: true });
    for (const p of ['bridge', 'portmap']) {
      await writeFile(join(base, 'bin-nolo', p), '');
      await chmod(join(base, 'bin-nolo', p), 0o755);
    }
    assert.match((await noLo.status()).message, /"loopback" not found/);
  });

  it('re-checks conf_dir before each operation and reloads from the watcher', async () => {
    const { fake, manager, pod, confDir } = await setup();
    await manager.start();
    try {
      assert.equal((await manager.status()).isReady, true);
      await writeFile(join(confDir, '05-first.conflist'), list('newer'));
      // No waiting for the watcher: the re-check sees the new first file.
      await manager.setUp(pod);
      assert.equal(fake.calls.find((c) => c.plugin === 'bridge')?.stdin['name'], 'newer');
      await writeFile(join(confDir, '05-first.conflist'), '{ broken');
      await new Promise((r) => setTimeout(r, 100));
      const state = await manager.config();
      assert.equal(state.kind, 'invalid');
    } finally {
      await manager.close();
      await manager.close();
    }
  });

  it('writes the default config only into an empty conf_dir', async () => {
    const { manager, confDir } = await setup({});
    await rm(confDir, { recursive: true });
    assert.equal(await manager.writeDefaultConfig(), true);
    const conf = JSON.parse(await readFile(join(confDir, '10-berth.conflist'), 'utf8')) as { name: string };
    assert.equal(conf.name, 'berth');
    assert.equal((await manager.status()).isReady, true);
    assert.equal(await manager.writeDefaultConfig(), false);
  });

  it('serializes operations on one pod', async () => {
    const { fake, manager, pod } = await setup();
    await Promise.all([manager.setUp(pod), manager.tearDown(pod), manager.setUp(pod)]);
    assert.deepEqual(
      fake.calls.map((c) => `${c.command}:${c.plugin}`),
      [
        ...['ADD:loopback', 'ADD:bridge', 'ADD:portmap'],
        ...['DEL:portmap', 'DEL:bridge', 'DEL:loopback'],
        ...['ADD:loopback', 'ADD:bridge', 'ADD:portmap'],
      ],
    );
  });

  it('rejects bad pod ids and CNI_ARGS values before running anything', async () => {
    const { fake, manager, pod } = await setup();
    await assert.rejects(manager.setUp({ ...pod, id: '../../etc' }), { code: 'INVALID_ARGUMENT' });
    await assert.rejects(manager.setUp({ ...pod, podName: 'a;b' }), { code: 'INVALID_ARGUMENT' });
    assert.equal(fake.calls.length, 0);
  });
});
