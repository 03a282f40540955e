/** Content digests: only "sha256:<64 lowercase hex>" is accepted, because a digest becomes a path. */
import { createHash } from 'node:crypto';
import { BerthError } from '../base/errors.js';

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

/** The hex part of a valid digest; INVALID_ARGUMENT for anything else. */
export function parseDigest(value: string): string {
  if (!DIGEST_RE.test(value)) {
    throw new BerthError('INVALID_ARGUMENT', `digest "${value.slice(0, 100)}" is invalid: want sha256:<64 hex digits>`);
  }
  return value.slice('sha256:'.length);
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
