/**
 * OCI and Docker v2 manifests, indexes and image configs: media types, zod schemas and the platform choice.
 * Unknown fields are tolerated (the specs allow them); wrong types are INVALID_ARGUMENT naming the blob.
 */
import { z } from 'zod';
import { BerthError } from '../base/errors.js';

export const MEDIA_TYPE = Object.freeze({
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
});

const DigestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/);

export const DescriptorSchema = z.looseObject({
  mediaType: z.string(),
  digest: DigestSchema,
  size: z.number().int().nonnegative(),
  platform: z
    .looseObject({
      architecture: z.string(),
      os: z.string(),
      variant: z.string().optional(),
    })
    .optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type Descriptor = z.infer<typeof DescriptorSchema>;

const IndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  manifests: z.array(DescriptorSchema),
});

const ManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export const ImageConfigSchema = z.looseObject({
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z
    .looseObject({
      User: z.string().optional(),
      Env: z.array(z.string()).nullish(),
      Entrypoint: z.array(z.string()).nullish(),
      Cmd: z.array(z.string()).nullish(),
      WorkingDir: z.string().optional(),
      Labels: z.record(z.string(), z.string()).nullish(),
      StopSignal: z.string().optional(),
    })
    .optional(),
  rootfs: z.looseObject({ type: z.literal('layers'), diff_ids: z.array(DigestSchema) }),
});
export type ImageConfig = z.infer<typeof ImageConfigSchema>;

export type ManifestDocument =
  | { readonly kind: 'index'; readonly manifests: readonly Descriptor[] }
  | { readonly kind: 'manifest'; readonly manifest: Manifest };

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new BerthError('INVALID_ARGUMENT', `${what} is not valid JSON`);
  }
}

function issuesOf(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
}

/** Parses a manifest or index; `contentType` is the registry's Content-Type, used when the body names none. */
export function parseManifestDocument(bytes: Uint8Array, contentType: string, what: string): ManifestDocument {
  const doc = parseJson(bytes, what);
  const declared =
    (typeof doc === 'object' && doc !== null && 'mediaType' in doc ? doc.mediaType : undefined) ?? contentType;
  const isSchema1 =
    declared === MEDIA_TYPE.dockerSchema1 ||
    declared === MEDIA_TYPE.dockerSchema1Signed ||
    (typeof doc === 'object' && doc !== null && 'schemaVersion' in doc && doc.schemaVersion === 1);
  if (isSchema1) {
    throw new BerthError(
      'FAILED_PRECONDITION',
      `${what} is a Docker schema 1 manifest, which is not supported: push the image again with a current client`,
    );
  }
  const isIndex =
    declared === MEDIA_TYPE.ociIndex ||
    declared === MEDIA_TYPE.dockerList ||
    (typeof doc === 'object' && doc !== null && 'manifests' in doc);
  if (isIndex) {
    const res = IndexSchema.safeParse(doc);
    if (!res.success) throw new BerthError('INVALID_ARGUMENT', `${what}: malformed index: ${issuesOf(res.error)}`);
    return { kind: 'index', manifests: res.data.manifests };
  }
  const res = ManifestSchema.safeParse(doc);
  if (!res.success) throw new BerthError('INVALID_ARGUMENT', `${what}: malformed manifest: ${issuesOf(res.error)}`);
  return { kind: 'manifest', manifest: res.data };
}

export function parseImageConfig(bytes: Uint8Array, what: string): ImageConfig {
  const res = ImageConfigSchema.safeParse(parseJson(bytes, what));
  if (!res.success) throw new BerthError('INVALID_ARGUMENT', `${what}: malformed image config: ${issuesOf(res.error)}`);
  return res.data;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

const ARCH: Readonly<Record<string, Platform>> = Object.freeze({
  x64: { os: 'linux', architecture: 'amd64' },
  arm64: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  arm: { os: 'linux', architecture: 'arm', variant: 'v7' },
  ppc64: { os: 'linux', architecture: 'ppc64le' },
  s390x: { os: 'linux', architecture: 's390x' },
  riscv64: { os: 'linux', architecture: 'riscv64' },
});

export function hostPlatform(arch: string = process.arch): Platform {
  return ARCH[arch] ?? { os: 'linux', architecture: arch };
}

function platformName(p: { os: string; architecture: string; variant?: string | undefined }): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The index entry for this platform; arm64's variant may be empty or v8. NOT_FOUND lists what exists. */
export function selectManifest(manifests: readonly Descriptor[], platform: Platform, what: string): Descriptor {
  const matches = (d: Descriptor): boolean => {
    const p = d.platform;
    if (p === undefined || p.os !== platform.os || p.architecture !== platform.architecture) return false;
    if (platform.architecture === 'arm64') return p.variant === undefined || p.variant === '' || p.variant === 'v8';
    return platform.variant === undefined || p.variant === undefined || p.variant === platform.variant;
  };
  const found = manifests.find(matches);
  if (found === undefined) {
    const available = manifests.flatMap((d) => (d.platform ? [platformName(d.platform)] : [])).join(', ') || 'none';
    throw new BerthError('NOT_FOUND', `no manifest for ${platformName(platform)} in ${what}; available: ${available}`);
  }
  return found;
}
