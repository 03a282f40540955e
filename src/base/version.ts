/** Berth's own version, read once from package.json (the single source of truth for releases). */
import { readFileSync } from 'node:fs';

// dist/src/base/version.js -> package.json at the package root.
const PACKAGE_JSON = new URL('../../../package.json', import.meta.url);

export interface PackageInfo {
  readonly name: string;
  readonly version: string;
}

export function readPackageInfo(): PackageInfo {
  const parsed: unknown = JSON.parse(readFileSync(PACKAGE_JSON, 'utf8'));
  if (typeof parsed === 'object' && parsed !== null) {
    const { name, version } = parsed as Record<string, unknown>;
    if (typeof name === 'string' && typeof version === 'string') return { name, version };
  }
  throw new Error(`${PACKAGE_JSON.pathname}: no name or version`);
}
