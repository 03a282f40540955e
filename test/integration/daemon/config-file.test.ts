// berthd's config handling end to end: bad files name the key path and exit non-zero; --dry-run prints
// the effective config; `berth config default` is valid input for --config.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { makeTempDir, runBerth, runBerthdSync } from '../../harness/berthd.js';

async function withConfig(toml: string, fn: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await makeTempDir();
  try {
    const path = join(dir, 'config.toml');
    await writeFile(path, toml);
    await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('berthd --config', () => {
  it('an unknown key fails with its key path', async () => {
    await withConfig('[plugins.cri]\nstream_server_prot = 1\n', (path) => {
      const res = runBerthdSync(['--config', path, '--dry-run']);
      assert.equal(res.status, 1);
      assert.match(res.stderr, /plugins\.cri\.stream_server_prot: unknown key/);
      assert.match(res.stderr, new RegExp(path.replace(/[.]/g, '\\.')));
    });
  });

  it('a wrong type fails with its key path', async () => {
    await withConfig('[plugins.cri]\nenable_tls_streaming = "yes"\n', (path) => {
      const res = runBerthdSync(['--config', path]);
      assert.equal(res.status, 1);
      assert.match(res.stderr, /plugins\.cri\.enable_tls_streaming: expected boolean, received string/);
    });
  });

  it('a missing explicit file is an error', () => {
    const res = runBerthdSync(['--config', '/nonexistent/berth.toml']);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /cannot read config \/nonexistent\/berth\.toml/);
  });

  it('--dry-run prints the effective config (file values over defaults)', async () => {
    await withConfig('[plugins.cri]\ncgroup_driver = "systemd"\n', (path) => {
      const res = runBerthdSync(['--config', path, '--dry-run']);
      assert.equal(res.status, 0, res.stderr);
      const doc = parseToml(res.stdout) as { root: string; plugins: { cri: { cgroup_driver: string } } };
      assert.equal(doc.plugins.cri.cgroup_driver, 'systemd');
      assert.equal(doc.root, '/var/lib/berth');
    });
  });

  it('`berth config default` round-trips through berthd --dry-run', async () => {
    const printed = runBerth(['config', 'default']);
    assert.equal(printed.status, 0, printed.stderr);
    await withConfig(printed.stdout, (path) => {
      const res = runBerthdSync(['--config', path, '--dry-run']);
      assert.equal(res.status, 0, res.stderr);
      assert.deepEqual(parseToml(res.stdout), parseToml(printed.stdout));
    });
  });
});
