import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compareCniVersions,
  listConfigFiles,
  loadConfDir,
  parseNetworkConfig,
} from '../../../src/network/cni/config.js';
import { defaultCniConfigList as defaultConfigList } from '../../../src/config/index.js';

const LIST = JSON.stringify({
  cniVersion: '1.0.0',
  name: 'net1',
  plugins: [
    { type: 'bridge', ipam: { type: 'host-local' } },
    { type: 'portmap', capabilities: { portMappings: true, dns: false } },
  ],
});

describe('CNI config parsing', () => {
  it('reads a conflist with its plugins and declared capabilities', () => {
    const list = parseNetworkConfig(LIST, '10-a.conflist');
    assert.equal(list.name, 'net1');
    assert.equal(list.cniVersion, '1.0.0');
    assert.deepEqual(
      list.plugins.map((p) => [p.type, p.capabilities]),
      [
        ['bridge', []],
        ['portmap', ['portMappings']],
      ],
    );
    assert.deepEqual(list.plugins[0]?.raw, { type: 'bridge', ipam: { type: 'host-local' } });
  });

  it('wraps a single .conf or .json plugin config into a one-plugin list', () => {
    for (const file of ['10-a.conf', '10-a.json']) {
      const list = parseNetworkConfig('{"cniVersion":"0.4.0","name":"one","type":"bridge","bridge":"br9"}', file);
      assert.equal(list.name, 'one');
      assert.equal(list.cniVersion, '0.4.0');
      assert.equal(list.plugins.length, 1);
      assert.equal(list.plugins[0]?.type, 'bridge');
      assert.equal(list.plugins[0]?.raw['bridge'], 'br9');
    }
  });

  const bad: [string, string, string, RegExp][] = [
    ['not JSON', '{', 'a.conflist', /a\.conflist: not JSON/],
    ['an array', '[]', 'a.conflist', /not a JSON object/],
    ['no name', '{"cniVersion":"1.0.0","plugins":[{"type":"x"}]}', 'a.conflist', /no "name"/],
    ['a bad name', '{"name":"-x","cniVersion":"1.0.0","plugins":[{"type":"x"}]}', 'a.conflist', /network name "-x"/],
    ['no cniVersion', '{"name":"n","plugins":[{"type":"x"}]}', 'a.conflist', /no "cniVersion"/],
    ['a bad cniVersion', '{"name":"n","cniVersion":"1.0","plugins":[{"type":"x"}]}', 'a.conflist', /cniVersion "1\.0"/],
    ['no plugins', '{"name":"n","cniVersion":"1.0.0"}', 'a.conflist', /no "plugins"/],
    ['empty plugins', '{"name":"n","cniVersion":"1.0.0","plugins":[]}', 'a.conflist', /no "plugins"/],
    [
      'a plugin without type',
      '{"name":"n","cniVersion":"1.0.0","plugins":[{}]}',
      'a.conflist',
      /plugins\[0\] has no "type"/,
    ],
    [
      'a plugin type that is a path',
      '{"name":"n","cniVersion":"1.0.0","plugins":[{"type":"../../bin/sh"}]}',
      'a.conflist',
      /type "\.\.\/\.\.\/bin\/sh" is not a plugin file name/,
    ],
    ['a .conf without type', '{"name":"n","cniVersion":"1.0.0"}', 'a.conf', /plugins\[0\] has no "type"/],
  ];
  for (const [what, text, file, message] of bad) {
    it(`rejects ${what} with FAILED_PRECONDITION naming the file`, () => {
      assert.throws(() => parseNetworkConfig(text, file), { code: 'FAILED_PRECONDITION', message });
    });
  }

  it('compares versions numerically', () => {
    assert.equal(compareCniVersions('0.4.0', '0.4.0'), 0);
    assert.equal(compareCniVersions('0.3.1', '0.4.0'), -1);
    assert.equal(compareCniVersions('1.0.0', '0.10.0'), 1);
    assert.equal(compareCniVersions('0.10.0', '0.9.0'), 1);
  });

  it('builds the default list: bridge berth0 + host-local on the subnet + portmap, no loopback', () => {
    const conf = defaultConfigList();
    const list = parseNetworkConfig(JSON.stringify(conf), '10-berth.conflist');
    assert.equal(list.name, 'berth');
    assert.deepEqual(
      list.plugins.map((p) => p.type),
      ['bridge', 'portmap'],
    );
    assert.deepEqual(list.plugins[0]?.raw, {
      type: 'bridge',
      bridge: 'berth0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.88.0.0/16' }]], routes: [{ dst: '0.0.0.0/0' }] },
    });
    assert.deepEqual(list.plugins[1]?.capabilities, ['portMappings']);
    const dual = defaultConfigList('10.1.0.0/24,fd00:1::/64');
    assert.deepEqual((dual['plugins'] as { ipam?: unknown }[])[0]?.ipam, {
      type: 'host-local',
      ranges: [[{ subnet: '10.1.0.0/24' }], [{ subnet: 'fd00:1::/64' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
    });
    assert.throws(() => defaultConfigList('nonsense'), { code: 'INVALID_ARGUMENT' });
  });
});

describe('CNI conf_dir loading', () => {
  let base = '';
  let bin = '';
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'berth-cni-conf-'));
    bin = join(base, 'bin');
    await mkdir(bin);
    for (const p of ['bridge', 'portmap']) {
      await writeFile(join(bin, p), '#!/bin/sh\n');
      await chmod(join(bin, p), 0o755);
    }
    await writeFile(join(bin, 'not-executable'), '');
  });
  after(async () => rm(base, { recursive: true, force: true }));

  async function confDir(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(join(base, 'conf-'));
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return dir;
  }

  it('is "none" for a missing or empty dir, with a message naming it', async () => {
    const missing = join(base, 'missing');
    const state = await loadConfDir(missing, [bin]);
    assert.equal(state.kind, 'none');
    assert.match(state.kind === 'none' ? state.message : '', /no CNI network config found in .*missing/);
    assert.equal((await loadConfDir(await confDir({ 'README.md': 'x' }), [bin])).kind, 'none');
  });

  it('picks the first config file in lexical order, ignoring dot files and other extensions', async () => {
    const dir = await confDir({
      '20-b.conflist': LIST.replace('net1', 'second'),
      '10-a.conf': '{"cniVersion":"1.0.0","name":"first","type":"bridge"}',
      '.05-editor.conflist': LIST.replace('net1', 'hidden'),
      '00-notes.txt': 'x',
      '99-c.json': '{"cniVersion":"1.0.0","name":"third","type":"bridge"}',
    });
    assert.deepEqual(await listConfigFiles(dir), ['10-a.conf', '20-b.conflist', '99-c.json']);
    const state = await loadConfDir(dir, [bin]);
    assert.equal(state.kind, 'ok');
    assert.equal(state.kind === 'ok' ? state.config.name : '', 'first');
  });

  it('reports an invalid first file instead of falling through to the next', async () => {
    const dir = await confDir({ '10-a.conflist': '{ nope', '20-b.conflist': LIST });
    const state = await loadConfDir(dir, [bin]);
    assert.equal(state.kind, 'invalid');
    assert.match(
      state.kind === 'invalid' ? state.message : '',
      /network plugin is not ready: invalid CNI network config .*10-a\.conflist: not JSON/,
    );
  });

  it('reports plugins missing from every bin dir (or not executable)', async () => {
    const dir = await confDir({
      '10-a.conflist': JSON.stringify({
        cniVersion: '1.0.0',
        name: 'n',
        plugins: [{ type: 'bridge' }, { type: 'flannel' }, { type: 'not-executable' }],
      }),
    });
    const state = await loadConfDir(dir, [join(base, 'nowhere'), bin]);
    assert.equal(state.kind, 'invalid');
    assert.match(
      state.kind === 'invalid' ? state.message : '',
      /plugin "flannel", "not-executable" not found in .*nowhere:.*bin/,
    );
  });
});
