/**
 * A one-layer image made on the spot from the host's static busybox (Debian's busybox-static), as a docker-save
 * archive: what `berth demo` loads, so the first pod runs on a machine with no registry and no internet.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tar from 'tar-stream';

export const DEMO_BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'echo', 'sleep', 'cat', 'date', 'hostname', 'ls', 'id', 'ps', 'uname', 'env', 'true'];
const MTIME = new Date('2024-01-01T00:00:00Z');

async function tarOf(entries: readonly ArchiveEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) {
    const header = { name: e.name, mode: e.mode, mtime: MTIME, uid: 0, gid: 0 };
    if (e.dir) pack.entry({ ...header, type: 'directory' });
    else if (e.linkname !== undefined) pack.entry({ ...header, type: 'symlink', linkname: e.linkname });
    else pack.entry({ ...header, type: 'file' }, e.body ?? Buffer.alloc(0));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface ArchiveEntry {
  readonly name: string;
  readonly mode: number;
  readonly body?: Buffer;
  readonly linkname?: string;
  readonly dir?: boolean;
}

/** The docker-save archive of `name` (e.g. "berth.local/demo/busybox:latest"). */
export async function buildDemoArchive(name: string): Promise<Buffer> {
  const busybox = await readFile(DEMO_BUSYBOX);
  return buildOneLayerArchive(
    name,
    [
      { name: 'bin/', mode: 0o755, dir: true },
      { name: 'bin/busybox', mode: 0o755, body: busybox },
      ...APPLETS.map((a) => ({ name: `bin/${a}`, mode: 0o777, linkname: 'busybox' })),
      { name: 'etc/', mode: 0o755, dir: true },
      { name: 'etc/passwd', mode: 0o644, body: Buffer.from('root:x:0:0:root:/root:/bin/sh\n') },
      { name: 'etc/group', mode: 0o644, body: Buffer.from('root:x:0:\n') },
      { name: 'tmp/', mode: 0o1777, dir: true },
    ],
    { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
  );
}

/** A docker-save archive of one image with one uncompressed layer (also the benchmarks' pause image). */
export async function buildOneLayerArchive(
  name: string,
  entries: readonly ArchiveEntry[],
  runConfig: Readonly<Record<string, unknown>>,
): Promise<Buffer> {
  const layer = await tarOf(entries);
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      os: 'linux',
      created: MTIME.toISOString(),
      config: runConfig,
      rootfs: { type: 'layers', diff_ids: [diffId] },
    }),
  );
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  const manifest = Buffer.from(JSON.stringify([{ Config: configName, RepoTags: [name], Layers: ['layer.tar'] }]));
  return tarOf([
    { name: configName, mode: 0o644, body: config },
    { name: 'layer.tar', mode: 0o644, body: layer },
    { name: 'manifest.json', mode: 0o644, body: manifest },
  ]);
}
