// berth install / uninstall in a temp root: what is written, what is never overwritten, and that uninstall
// takes back exactly what install wrote. systemctl and the host's mounts are faked where they matter.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  defaultCniConfigList,
  defaultConfig,
  renderCniConfigList,
  renderConfigToml,
} from '../../../src/config/index.js';
import { installNode, uninstallNode } from '../../../src/cli/node-install.js';
import type { HostOps, InstallOptions } from '../../../src/cli/node-install.js';
import {
  BERTHD_MAIN_PATH,
  oomScoreAdjFor,
  readUnitTemplate,
  renderUnit,
  systemdWord,
} from '../../../src/cli/service-unit.js';
import { runBerth } from '../../harness/berthd.js';

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'berth-install-'));
  try {
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Every path below root ("etc/berth/config.toml", "etc/berth/"), sorted. */
async function tree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.map((e) => relative(root, join(e.parentPath, e.name)) + (e.isDirectory() ? '/' : '')).sort();
}

function berth(root: string, ...args: string[]) {
  const res = runBerth([...args, '--root-dir', root]);
  return { ...res, lines: res.stdout.trim().split('\n') };
}

const UNIT = 'etc/systemd/system/berthd.service';
const CONFIG = 'etc/berth/config.toml';
const CONFLIST = 'etc/cni/net.d/10-berth.conflist';
const CRICTL = 'etc/crictl.yaml';

describe('berth install --root-dir', () => {
  it('writes the unit, the default config and the default CNI conflist; no crictl.yaml without --crictl', async () => {
    await withRoot(async (root) => {
      const res = berth(root, 'install');
      assert.equal(res.status, 0, res.stderr);
      assert.equal(await readFile(join(root, CONFIG), 'utf8'), renderConfigToml(defaultConfig()));
      assert.equal((await stat(join(root, CONFIG))).mode & 0o777, 0o600);
      assert.equal(await readFile(join(root, CONFLIST), 'utf8'), renderCniConfigList(defaultCniConfigList()));
      await assert.rejects(stat(join(root, CRICTL)), { code: 'ENOENT' });

      const unit = await readFile(join(root, UNIT), 'utf8');
      assert.match(unit, /^# Written by `berth install`/);
      const directives = unit.split('\n').filter((l) => /^[A-Za-z]+=/.test(l));
      for (const d of ['Delegate=yes', 'KillMode=process', 'Restart=always', 'LimitNOFILE=1048576']) {
        assert.ok(directives.includes(d), `${d} in\n${unit}`);
      }
      assert.ok(
        directives.includes(`ExecStart=${process.execPath} ${BERTHD_MAIN_PATH} --config /etc/berth/config.toml`),
        unit,
      );
      assert.ok(!unit.includes('@'), 'every placeholder is filled');
      assert.ok(
        res.lines.some((l) => l.startsWith('not running systemctl for --root-dir')),
        res.stdout,
      );
    });
  });

  it('passes systemd-analyze verify', async (t) => {
    if (spawnSync('systemd-analyze', ['--version']).status !== 0) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    await withRoot(async (root) => {
      assert.equal(berth(root, 'install').status, 0);
      const res = spawnSync('systemd-analyze', ['verify', join(root, UNIT)], { encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      assert.equal(res.stderr, '', 'no warnings');
    });
  });

  it('--crictl points crictl at the socket of the config in place, which is never replaced', async () => {
    await withRoot(async (root) => {
      const config = '[grpc]\naddress = "/run/other/berth.sock"\n';
      await mkdir(join(root, 'etc/berth'), { recursive: true });
      await writeFile(join(root, CONFIG), config);
      const res = berth(root, 'install', '--crictl', '--force');
      assert.equal(res.status, 0, res.stderr);
      assert.equal(await readFile(join(root, CONFIG), 'utf8'), config);
      const crictl = await readFile(join(root, CRICTL), 'utf8');
      assert.match(crictl, /^runtime-endpoint: unix:\/\/\/run\/other\/berth\.sock$/m);
      assert.match(crictl, /^image-endpoint: unix:\/\/\/run\/other\/berth\.sock$/m);
    });
  });

  it('never overwrites a different crictl.yaml or unit without --force', async () => {
    await withRoot(async (root) => {
      await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
      await writeFile(join(root, CRICTL), 'runtime-endpoint: unix:///run/containerd/containerd.sock\n');
      await writeFile(join(root, UNIT), '[Service]\nExecStart=/usr/local/bin/berthd\n');
      const res = berth(root, 'install', '--crictl');
      assert.equal(res.status, 0, res.stderr);
      assert.equal(
        await readFile(join(root, CRICTL), 'utf8'),
        'runtime-endpoint: unix:///run/containerd/containerd.sock\n',
      );
      assert.equal(await readFile(join(root, UNIT), 'utf8'), '[Service]\nExecStart=/usr/local/bin/berthd\n');
      assert.ok(
        res.lines.some((l) => l.startsWith(`kept ${join(root, CRICTL)}: it differs`)),
        res.stdout,
      );
      assert.ok(
        res.lines.some((l) => l.startsWith(`kept ${join(root, UNIT)}: it differs`)),
        res.stdout,
      );

      const forced = berth(root, 'install', '--crictl', '--force');
      assert.equal(forced.status, 0, forced.stderr);
      assert.match(await readFile(join(root, CRICTL), 'utf8'), /unix:\/\/\/run\/berth\/berth\.sock/);
      assert.match(await readFile(join(root, UNIT), 'utf8'), /^KillMode=process$/m);
      assert.ok(forced.lines.includes(`replaced ${join(root, CRICTL)}`), forced.stdout);
      // A second install changes nothing.
      assert.ok(berth(root, 'install', '--crictl').lines.includes(`unchanged ${join(root, UNIT)}`));
    });
  });

  it('leaves a conf_dir that holds a network config alone', async () => {
    await withRoot(async (root) => {
      await mkdir(join(root, 'etc/cni/net.d'), { recursive: true });
      await writeFile(join(root, 'etc/cni/net.d/05-flannel.conflist'), '{}');
      const res = berth(root, 'install');
      assert.equal(res.status, 0, res.stderr);
      assert.deepEqual(await readdir(join(root, 'etc/cni/net.d')), ['05-flannel.conflist']);
    });
  });

  it('refuses an invalid config, naming the key, and writes nothing', async () => {
    await withRoot(async (root) => {
      await mkdir(join(root, 'etc/berth'), { recursive: true });
      await writeFile(join(root, CONFIG), '[plugins.cri]\nstream_server_port = "x"\n');
      const res = berth(root, 'install');
      assert.equal(res.status, 1);
      assert.match(res.stderr, /plugins\.cri\.stream_server_port/);
      assert.deepEqual(await tree(root), ['etc/', 'etc/berth/', CONFIG]);
    });
  });
});

describe('berth uninstall --root-dir', () => {
  it('removes the unit and its crictl.yaml, keeps config and data; --purge leaves the tree as it was', async () => {
    await withRoot(async (root) => {
      // Directories that existed before install stay; the ones install made go.
      await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
      await mkdir(join(root, 'run'));
      const before = await tree(root);
      assert.equal(berth(root, 'install', '--crictl').status, 0);
      await mkdir(join(root, 'var/lib/berth/content'), { recursive: true });
      await writeFile(join(root, 'var/lib/berth/meta.db'), 'x');
      await mkdir(join(root, 'run/berth'), { recursive: true });

      const res = berth(root, 'uninstall');
      assert.equal(res.status, 0, res.stderr);
      await assert.rejects(stat(join(root, UNIT)), { code: 'ENOENT' });
      await assert.rejects(stat(join(root, CRICTL)), { code: 'ENOENT' });
      for (const kept of [CONFIG, CONFLIST, 'var/lib/berth/meta.db', 'run/berth']) await stat(join(root, kept));
      assert.ok(
        res.lines.some((l) => l.startsWith('kept ') && l.endsWith('(--purge removes them)')),
        res.stdout,
      );

      const purge = berth(root, 'uninstall', '--purge');
      assert.equal(purge.status, 0, purge.stderr);
      assert.deepEqual(await tree(root), before);
    });
  });

  it('keeps a crictl.yaml and a unit berth install did not write', async () => {
    await withRoot(async (root) => {
      await mkdir(join(root, 'etc/systemd/system'), { recursive: true });
      await writeFile(join(root, CRICTL), 'runtime-endpoint: unix:///run/crio/crio.sock\n');
      await writeFile(join(root, UNIT), '[Service]\nExecStart=/opt/berthd\n');
      const res = berth(root, 'uninstall', '--purge');
      assert.equal(res.status, 0, res.stderr);
      await stat(join(root, CRICTL));
      await stat(join(root, UNIT));
      assert.ok(res.lines.some((l) => l.startsWith(`kept ${join(root, UNIT)}: berth install did not write it`)));
      assert.equal(berth(root, 'uninstall', '--force').status, 0);
      await assert.rejects(stat(join(root, UNIT)), { code: 'ENOENT' });
    });
  });

  it('--purge refuses a root that is not named for Berth', async () => {
    await withRoot(async (root) => {
      await mkdir(join(root, 'etc/berth'), { recursive: true });
      await mkdir(join(root, 'var/data'), { recursive: true });
      await writeFile(join(root, CONFIG), 'root = "/var/data"\n');
      const res = berth(root, 'uninstall', '--purge');
      assert.equal(res.status, 1);
      assert.match(res.stderr, /--purge removes only directories named for Berth; \/var\/data is not/);
      await stat(join(root, 'var/data'));
      await stat(join(root, CONFIG));
    });
  });
});

/** HostOps that record systemctl calls instead of running them. */
function fakeOps(init: string, mounts: string[] = []): HostOps & { calls: string[]; lines: string[] } {
  const calls: string[] = [];
  const lines: string[] = [];
  return {
    calls,
    lines,
    isRoot: () => true,
    initName: async () => init,
    systemctl: async (args) => void calls.push(args.join(' ')),
    mountPoints: async () => mounts,
    say: (line) => void lines.push(line),
  };
}

function hostOptions(root: string, extra: Partial<InstallOptions> = {}): InstallOptions {
  return {
    rootDir: root,
    isStaging: false,
    unitDir: '/etc/systemd/system',
    configPath: '/etc/berth/config.toml',
    crictlConfigPath: '/etc/crictl.yaml',
    berthd: ['/usr/local/bin/berthd'],
    oomScoreAdj: undefined,
    isCrictl: false,
    isForce: false,
    isSystemctl: true,
    isNow: false,
    ...extra,
  };
}

describe('install and uninstall on a host', () => {
  it('with systemd: daemon-reload and enable; uninstall disables (stops) first', async () => {
    await withRoot(async (root) => {
      const ops = fakeOps('systemd');
      await installNode(hostOptions(root, { isNow: true }), ops);
      assert.deepEqual(ops.calls, ['daemon-reload', 'enable --now berthd.service']);
      const un = fakeOps('systemd');
      await uninstallNode({ ...hostOptions(root), isPurge: false }, un);
      assert.deepEqual(un.calls, ['disable --now berthd.service', 'daemon-reload']);
    });
  });

  it('without systemd: says how to run berthd in the foreground', async () => {
    await withRoot(async (root) => {
      const ops = fakeOps('tini');
      await installNode(hostOptions(root), ops);
      assert.deepEqual(ops.calls, []);
      assert.ok(ops.lines.includes('systemd is not the init here (PID 1 is tini): run berthd in the foreground with'));
      assert.ok(
        ops.lines.includes('  /usr/local/bin/berthd --config /etc/berth/config.toml --log-format text'),
        ops.lines.join('\n'),
      );
    });
  });

  it('--purge refuses while mounts remain below root or state, and removes nothing', async () => {
    await withRoot(async (root) => {
      await installNode(hostOptions(root), fakeOps('tini'));
      const netns = join(root, 'run/berth/sandboxes/abc/netns');
      await assert.rejects(
        uninstallNode({ ...hostOptions(root), isPurge: true }, fakeOps('tini', ['/', netns])),
        /1 mount\(s\) below .*berth rmp --all/,
      );
      await stat(join(root, UNIT));
      await stat(join(root, CONFIG));
    });
  });

  it('needs root unless staging', async () => {
    await withRoot(async (root) => {
      const ops = { ...fakeOps('systemd'), isRoot: () => false };
      await assert.rejects(installNode(hostOptions(root), ops), /run it as root/);
      assert.deepEqual(await tree(root), []);
    });
  });
});

describe('berthd.service rendering', () => {
  it('quotes ExecStart words the way systemd reads them', () => {
    assert.equal(systemdWord('/usr/bin/node'), '/usr/bin/node');
    assert.equal(systemdWord('/opt/my berth/main.js'), '"/opt/my berth/main.js"');
    assert.equal(systemdWord('/opt/100%/$HOME'), '"/opt/100%%/$$HOME"');
  });

  it('sets OOMScoreAdjust only as low as the host allows', async () => {
    const withCap = 'CapBnd:\t000001ffffffffff\n';
    const withoutCap = 'CapBnd:\t000001fffeffffff\n'; // bit 24, CAP_SYS_RESOURCE, cleared (this CI machine)
    assert.equal(oomScoreAdjFor(withCap, 0), -999);
    assert.equal(oomScoreAdjFor(withoutCap, 0), undefined);
    assert.equal(oomScoreAdjFor(withoutCap, -500), -500);
    const template = await readUnitTemplate();
    const values = { berthd: ['/usr/bin/berthd'], configPath: '/etc/berth/config.toml' };
    assert.match(renderUnit(template, { ...values, oomScoreAdj: -999 }), /^OOMScoreAdjust=-999$/m);
    assert.doesNotMatch(renderUnit(template, { ...values, oomScoreAdj: undefined }), /^OOMScoreAdjust=/m);
  });
});
