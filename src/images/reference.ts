/**
 * Image references, normalised as docker and containerd do (distribution/reference):
 *   busybox                         -> docker.io/library/busybox:latest
 *   user/app                        -> docker.io/user/app:latest
 *   localhost:5000/x, 127.0.0.1:5000/x:1, registry.k8s.io/pause:3.6
 *   name@sha256:…, name:tag@sha256:… (the digest decides what is pulled; the tag is kept)
 * The first path component is a registry host when it holds "." or ":" or is "localhost".
 */
import { BerthError } from '../base/errors.js';

export interface ImageReference {
  /** "docker.io", "127.0.0.1:5000" */
  readonly domain: string;
  /** "library/busybox" */
  readonly path: string;
  /** "docker.io/library/busybox" */
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const PATH_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*(?::[0-9]+)?$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;
const MAX_NAME_LENGTH = 255;

function invalid(ref: string, why: string): BerthError {
  return new BerthError('INVALID_ARGUMENT', `invalid image reference "${ref.slice(0, 300)}": ${why}`);
}

/** "sha256:<64 hex>" or bare 64 hex: an image id, never a name (docker refuses such names too). */
export function looksLikeImageId(value: string): boolean {
  return DIGEST_RE.test(value) || HEX64_RE.test(value);
}

export function parseReference(input: string): ImageReference {
  const ref = input.trim();
  if (ref === '') throw invalid(input, 'empty');
  if (HEX64_RE.test(ref)) throw invalid(input, 'a 64-character hex string is an image id, not a name');

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw invalid(input, 'digest must be sha256:<64 lowercase hex digits>');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw invalid(input, `tag "${tag}" is not valid`);
  }

  let domain = 'docker.io';
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      domain = first === 'index.docker.io' ? 'docker.io' : first;
      path = rest.slice(slash + 1);
      if (!DOMAIN_RE.test(domain)) throw invalid(input, `registry host "${domain}" is not valid`);
    }
  }
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  if (path !== path.toLowerCase()) throw invalid(input, 'repository name must be lowercase');
  if (!PATH_RE.test(path)) throw invalid(input, `repository name "${path}" is not valid`);
  const repository = `${domain}/${path}`;
  if (repository.length > MAX_NAME_LENGTH) throw invalid(input, `repository name is longer than ${MAX_NAME_LENGTH}`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { domain, path, repository, tag, digest };
}

/** The full name stored and shown as a CRI repo tag: "docker.io/library/busybox:latest". */
export function nameWithTag(ref: ImageReference): string | undefined {
  return ref.tag === undefined ? undefined : `${ref.repository}:${ref.tag}`;
}

/** The CRI repo digest form: "docker.io/library/busybox@sha256:…". */
export function nameWithDigest(ref: ImageReference, digest: string): string {
  return `${ref.repository}@${digest}`;
}

/** The canonical string of a reference (tag and digest both when given). */
export function referenceString(ref: ImageReference): string {
  return `${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** Docker's short display form: "busybox:latest", "user/app:1", "127.0.0.1:5000/x:1". */
export function familiarName(ref: ImageReference): string {
  let name = ref.repository;
  if (ref.domain === 'docker.io') {
    name = ref.path.startsWith('library/') && ref.path.split('/').length === 2 ? ref.path.slice(8) : ref.path;
  }
  return `${name}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}
