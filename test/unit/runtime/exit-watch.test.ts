// ConmonRuntime's exit watcher on a real exit dir: each exit reported once, only once conmon has written it, and
// found from the event's file name (issue #7: a dir scan per event made every exit cost O(containers)).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/base/logger.js';
import { ConmonRuntime } from '../../../src/runtime/conmon-runtime.js';
import type { ContainerExit } from '../../../src/runtime/index.js';

const idOf = (n: number): string => n.toString(16).padStart(64, '0');
const never = (): never => {
  throw new Error('not used by this test');
};

async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('issue #7: exits are reported once each, when their file is complete, with many exit files around', async (t) => {
  const stateDir = await mkdtemp(join(tmpdir(), 'berth-exit-watch-'));
  const runtime = new ConmonRuntime({
    exec: never,
    spawnWithSyncPipe: never,
    spawnInteractive: never,
    conmonPath: '/usr/bin/conmon',
    runtimes: { runc: '/usr/sbin/runc' },
    stateDir,
    bundleDirOf: (id) => join(stateDir, 'bundles', id),
    cgroupDriver: 'cgroupfs',
    log: createLogger('silent'),
    nowNs: () => 0n,
  });
  t.after(async () => {
    runtime.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  const seen: ContainerExit[] = [];
  runtime.onExit((exit) => seen.push(exit));
  await runtime.init();
  const exits = join(stateDir, 'exits');

  // Containers that exited earlier: the first scan reports each one once.
  for (let i = 0; i < 200; i++) await writeFile(join(exits, idOf(i)), String(i % 256));
  await waitFor('200 exits', () => seen.length >= 200);

  // conmon writes a temp file and renames it (g_file_set_contents): reported once, from the final name.
  const late = idOf(1000);
  await writeFile(join(exits, `${late}.AB12CD`), '137');
  await rename(join(exits, `${late}.AB12CD`), join(exits, late));
  // A file written in place, empty first: not reported before it has its code.
  const slow = idOf(1001);
  await writeFile(join(exits, slow), '');
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(
    seen.some((e) => e.id === slow),
    false,
  );
  await writeFile(join(exits, slow), '3');
  await waitFor('the two new exits', () => seen.some((e) => e.id === late) && seen.some((e) => e.id === slow));
  // Let more events and a periodic rescan (every 2 s) pass: nothing is reported twice.
  await new Promise((resolve) => setTimeout(resolve, 2_500));

  assert.equal(seen.length, 202);
  assert.equal(new Set(seen.map((e) => e.id)).size, 202);
  assert.equal(seen.find((e) => e.id === late)?.exitCode, 137);
  assert.equal(seen.find((e) => e.id === slow)?.exitCode, 3);
  assert.equal(seen.find((e) => e.id === idOf(7))?.exitCode, 7);
  assert.equal((await readdir(exits)).length, 202);
});
