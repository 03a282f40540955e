/**
 * The images every integration test pulls, built from Debian's busybox-static and pushed to a local
 * registry (harness/registry.ts). Nothing is cached on disk outside the registry. Returns references
 * and every digest and size so tests can assert on what they pulled.
 *
 *   berth-test/busybox:{latest,1.0,stable}  3 layers: busybox + /etc; files, links, setuid; whiteouts
 *   berth-test/busybox-user:latest          same layers, User "app"
 *   berth-test/other:{1,2}                  busybox layer 1 + one small layer each (different images)
 *   berth-test/multiarch:latest             OCI index: busybox for this arch + a tiny linux/s390x image
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { buildImage, buildIndex, buildLayer, descriptorOf, hostPlatform, pushImage, pushIndex } from './oci-image.js';
import type {
  Blob,
  Descriptor,
  ImageConfig,
  ImageConfigOptions,
  Layer,
  LayerEntry,
  OciImage,
  Platform,
} from './oci-image.js';
import type { Registry } from './registry.js';

const execFileAsync = promisify(execFile);

export const BUSYBOX_BIN = '/bin/busybox';
export const TEST_REPOSITORIES = Object.freeze([
  'berth-test/busybox',
  'berth-test/busybox-user',
  'berth-test/multiarch',
  'berth-test/other',
]);

/** Applets linked into /bin when this busybox has them (`busybox --list`). */
const WANTED_APPLETS = Object.freeze([
  'sh',
  'ls',
  'cat',
  'echo',
  'sleep',
  'id',
  'env',
  'hostname',
  'true',
  'false',
  'wc',
  'head',
  'tail',
  'top',
  'ps',
  'mkdir',
  'rm',
  'touch',
  'stat',
  'date',
  'uname',
  'grep',
  'sed',
  'awk',
  'cp',
  'mv',
  'ln',
  'chmod',
  'chown',
  'kill',
  'pwd',
  'readlink',
  'printf',
  'test',
  'tee',
  'cut',
  'sort',
  'uniq',
  'tr',
  'seq',
  'yes',
  'find',
  'du',
  'df',
  'nproc',
  'whoami',
  'groups',
  'xargs',
  'timeout',
  'nc',
  'wget',
  'which',
  'basename',
  'dirname',
  'sha256sum',
  'md5sum',
  'mount',
  'umount',
  'ip',
  'ifconfig',
  'ping',
  'dd',
  'hexdump',
  'xxd',
  'stty',
  'httpd',
]);

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
  '',
].join('\n');

const GROUP = ['root:x:0:', 'app:x:1000:', 'extra:x:3000:app', 'nogroup:x:65534:', ''].join('\n');

export interface LayerInfo {
  readonly mediaType: string;
  /** Blob digest (of the gzip bytes). */
  readonly digest: string;
  readonly size: number;
  readonly diffId: string;
  readonly uncompressedSize: number;
  /** What the tar holds, in tar order. */
  readonly entries: readonly LayerEntry[];
}

export interface TestImage {
  readonly repository: string;
  readonly tags: readonly string[];
  /** host/repository:firstTag */
  readonly reference: string;
  /** host/repository:tag for every tag. */
  readonly references: readonly string[];
  /** host/repository@manifestDigest */
  readonly digestReference: string;
  readonly manifestMediaType: string;
  readonly manifestDigest: string;
  readonly manifestSize: number;
  readonly configDigest: string;
  readonly configSize: number;
  readonly config: ImageConfig;
  readonly layers: readonly LayerInfo[];
  readonly platform: Platform;
}

export interface TestIndex {
  readonly repository: string;
  readonly tag: string;
  readonly reference: string;
  readonly digestReference: string;
  readonly mediaType: string;
  readonly indexDigest: string;
  readonly indexSize: number;
  readonly manifests: readonly Descriptor[];
  /** The entry for this machine (linux/amd64 or linux/arm64): the busybox image. */
  readonly native: TestImage;
  /** The linux/s390x entry: a tiny image that cannot run here. */
  readonly foreign: TestImage;
}

export interface TestImages {
  readonly registry: { readonly host: string; readonly url: string };
  /** Applets symlinked to /bin/busybox in /bin. */
  readonly applets: readonly string[];
  readonly busybox: TestImage;
  readonly busyboxUser: TestImage;
  readonly other1: TestImage;
  readonly other2: TestImage;
  readonly multiarch: TestIndex;
  /** Wall time to build and push everything. */
  readonly buildMs: number;
}

async function availableApplets(): Promise<readonly string[]> {
  const { stdout } = await execFileAsync(BUSYBOX_BIN, ['--list'], { timeout: 10_000 });
  const have = new Set(stdout.split('\n').map((s) => s.trim()));
  return WANTED_APPLETS.filter((a) => have.has(a));
}

function baseEntries(busybox: Buffer, applets: readonly string[]): LayerEntry[] {
  return [
    { type: 'dir', path: 'bin' },
    { type: 'file', path: 'bin/busybox', content: busybox, mode: 0o755 },
    ...applets.map((a): LayerEntry => ({ type: 'symlink', path: `bin/${a}`, target: '/bin/busybox' })),
    { type: 'dir', path: 'etc' },
    { type: 'file', path: 'etc/passwd', content: PASSWD },
    { type: 'file', path: 'etc/group', content: GROUP },
    { type: 'dir', path: 'home' },
    { type: 'dir', path: 'home/app', uid: 1000, gid: 1000 },
    { type: 'dir', path: 'root', mode: 0o700 },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'usr' },
    { type: 'dir', path: 'usr/bin' },
    { type: 'dir', path: 'var' },
  ];
}

const FILES_ENTRIES: readonly LayerEntry[] = Object.freeze([
  { type: 'dir', path: 'bin' },
  { type: 'file', path: 'bin/suid-test', content: '#!/bin/sh\nid\n', mode: 0o4755 },
  { type: 'dir', path: 'data' },
  { type: 'file', path: 'data/keep.txt', content: 'keep\n' },
  { type: 'file', path: 'data/gone.txt', content: 'gone\n' },
  { type: 'symlink', path: 'data/link', target: 'keep.txt' },
  { type: 'hardlink', path: 'data/hard', target: 'data/keep.txt' },
  { type: 'dir', path: 'opaque' },
  { type: 'file', path: 'opaque/a.txt', content: 'a\n' },
  { type: 'file', path: 'opaque/b.txt', content: 'b\n' },
]);

/** OCI image spec layer.md "Whiteouts": `.wh.NAME` deletes NAME, `.wh..wh..opq` hides the lower dir. */
const WHITEOUT_ENTRIES: readonly LayerEntry[] = Object.freeze([
  { type: 'dir', path: 'data' },
  { type: 'file', path: 'data/.wh.gone.txt', content: '' },
  { type: 'dir', path: 'opaque' },
  { type: 'file', path: 'opaque/.wh..wh..opq', content: '' },
  { type: 'file', path: 'opaque/c.txt', content: 'c\n' },
]);

const BUSYBOX_CONFIG: ImageConfigOptions = Object.freeze({
  env: ['PATH=/bin:/usr/bin', 'BERTH_TEST=1'],
  cmd: ['/bin/sh'],
  workingDir: '/',
  labels: { 'org.berth.test': 'busybox' },
  stopSignal: 'SIGTERM',
  createdBy: ['busybox-static and /etc', 'files, links, setuid', 'whiteouts'],
});

function otherEntries(version: string): LayerEntry[] {
  return [
    { type: 'dir', path: 'other' },
    { type: 'file', path: `other/version-${version}.txt`, content: `${version}\n` },
  ];
}

async function buildBusyboxLayers(applets: readonly string[]): Promise<readonly Layer[]> {
  const busybox = await readFile(BUSYBOX_BIN);
  return Promise.all([
    buildLayer(baseEntries(busybox, applets)),
    buildLayer(FILES_ENTRIES),
    buildLayer(WHITEOUT_ENTRIES),
  ]);
}

async function buildOther(base: Layer, version: string): Promise<OciImage> {
  const extra = await buildLayer(otherEntries(version));
  return buildImage([base, extra], {
    env: ['PATH=/bin:/usr/bin'],
    cmd: ['/bin/cat', `/other/version-${version}.txt`],
    labels: { 'org.berth.test': `other-${version}` },
    createdBy: ['busybox-static and /etc', `other ${version}`],
  });
}

async function buildForeign(): Promise<OciImage> {
  const layer = await buildLayer([{ type: 'file', path: 'arch.txt', content: 's390x\n' }]);
  return buildImage([layer], { architecture: 's390x', os: 'linux', cmd: ['/arch.txt'] });
}

function layerInfo(layer: Layer): LayerInfo {
  const { mediaType, digest, size, diffId, uncompressedSize, entries } = layer;
  return { mediaType, digest, size, diffId, uncompressedSize, entries };
}

function describeImage(host: string, repository: string, tags: readonly string[], image: OciImage): TestImage {
  const references = tags.map((t) => `${host}/${repository}:${t}`);
  return {
    repository,
    tags,
    reference: references[0] ?? `${host}/${repository}@${image.manifest.digest}`,
    references,
    digestReference: `${host}/${repository}@${image.manifest.digest}`,
    manifestMediaType: image.manifest.mediaType,
    manifestDigest: image.manifest.digest,
    manifestSize: image.manifest.size,
    configDigest: image.config.digest,
    configSize: image.config.size,
    config: image.configJson,
    layers: image.layers.map(layerInfo),
    platform: image.platform,
  };
}

function describeIndex(
  host: string,
  repository: string,
  tag: string,
  index: Blob,
  manifests: readonly Descriptor[],
): Omit<TestIndex, 'native' | 'foreign'> {
  return {
    repository,
    tag,
    reference: `${host}/${repository}:${tag}`,
    digestReference: `${host}/${repository}@${index.digest}`,
    mediaType: index.mediaType,
    indexDigest: index.digest,
    indexSize: index.size,
    manifests,
  };
}

export async function buildTestImages(registry: Pick<Registry, 'host' | 'url'>): Promise<TestImages> {
  const startedMs = Date.now();
  const applets = await availableApplets();
  const layers = await buildBusyboxLayers(applets);
  const base = layers[0];
  if (base === undefined) throw new Error('busybox base layer missing');
  const busybox = buildImage(layers, BUSYBOX_CONFIG);
  const busyboxUser = buildImage(layers, { ...BUSYBOX_CONFIG, user: 'app' });
  const [other1, other2, foreign] = await Promise.all([buildOther(base, '1'), buildOther(base, '2'), buildForeign()]);
  const manifests = [
    descriptorOf(busybox.manifest, { platform: hostPlatform() }),
    descriptorOf(foreign.manifest, { platform: foreign.platform }),
  ];
  const index = buildIndex(manifests);
  const { url, host } = registry;
  await Promise.all([
    pushImage(url, 'berth-test/busybox', busybox, ['latest', '1.0', 'stable']),
    pushImage(url, 'berth-test/busybox-user', busyboxUser, ['latest']),
    pushImage(url, 'berth-test/other', other1, ['1']).then(() => pushImage(url, 'berth-test/other', other2, ['2'])),
    pushIndex(url, 'berth-test/multiarch', index, [busybox, foreign], ['latest']),
  ]);
  return {
    registry: { host, url },
    applets,
    busybox: describeImage(host, 'berth-test/busybox', ['latest', '1.0', 'stable'], busybox),
    busyboxUser: describeImage(host, 'berth-test/busybox-user', ['latest'], busyboxUser),
    other1: describeImage(host, 'berth-test/other', ['1'], other1),
    other2: describeImage(host, 'berth-test/other', ['2'], other2),
    multiarch: {
      ...describeIndex(host, 'berth-test/multiarch', 'latest', index, manifests),
      native: describeImage(host, 'berth-test/multiarch', [], busybox),
      foreign: describeImage(host, 'berth-test/multiarch', [], foreign),
    },
    buildMs: Date.now() - startedMs,
  };
}
