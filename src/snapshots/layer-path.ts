/**
 * Entry names of a layer tar, made safe: relative, no "..", no NUL. A layer never needs ".." and
 * resolving it is how hostile layers escape (CVE-2014-6407, CVE-2021-32760), so it is refused outright.
 */
import { BerthError } from '../base/errors.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** "./a//b/" -> ["a", "b"]; the root itself -> []. INVALID_ARGUMENT for anything that could escape. */
export function layerPathParts(name: string, layer: string): string[] {
  if (name.includes('\0')) throw new BerthError('INVALID_ARGUMENT', `layer ${layer}: entry name contains NUL`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new BerthError('INVALID_ARGUMENT', `layer ${layer}: entry "${name.slice(0, 200)}" escapes the layer root`);
  }
  return parts;
}

export type WhiteoutKind = { readonly kind: 'opaque' } | { readonly kind: 'file'; readonly target: string } | undefined;

/** What a basename means: an opaque-dir marker, a whiteout of `target`, or an ordinary name. */
export function whiteoutOf(basename: string, layer: string): WhiteoutKind {
  if (basename === OPAQUE_MARKER) return { kind: 'opaque' };
  if (!basename.startsWith(WHITEOUT_PREFIX)) return undefined;
  const target = basename.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..' || target.startsWith(WHITEOUT_PREFIX)) {
    throw new BerthError('INVALID_ARGUMENT', `layer ${layer}: whiteout "${basename}" names no valid entry`);
  }
  return { kind: 'file', target };
}
