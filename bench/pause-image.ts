/**
 * containerd's pause image, made here because no registry is reachable: a one-layer image holding the host's
 * static catatonit as /pause (`catatonit -P` only pauses, like the real pause binary), tagged as the
 * sandbox_image containerd is configured with (daemons.ts) and imported with `ctr images import`.
 * Berth pins pod namespaces without any image.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildOneLayerArchive } from '../src/cli/demo-image.js';
import { CONTAINERD_SANDBOX_IMAGE } from './daemons.js';
import type { Daemon } from './daemons.js';

const execFileAsync = promisify(execFile);
const CTR_BIN = '/usr/bin/ctr';
const CATATONIT = '/usr/bin/catatonit';

/** Imports the pause image into a running containerd (its socket and a scratch file are in its temp dir). */
export async function importPause(daemon: Pick<Daemon, 'dir'>): Promise<void> {
  const archive = await buildOneLayerArchive(
    CONTAINERD_SANDBOX_IMAGE,
    [{ name: 'pause', mode: 0o755, body: await readFile(CATATONIT) }],
    { Entrypoint: ['/pause', '-P'], User: '65535:65535' },
  );
  const file = join(daemon.dir, 'pause.tar');
  await writeFile(file, archive);
  await execFileAsync(CTR_BIN, [
    '--address',
    join(daemon.dir, 'containerd.sock'),
    '-n',
    'k8s.io',
    'images',
    'import',
    file,
  ]);
}
