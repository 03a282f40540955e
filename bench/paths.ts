/** Where the repository and the built daemon live, relative to this compiled file (dist/bench/). */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BERTHD_MAIN = fileURLToPath(new URL('../src/daemon/main.js', import.meta.url));
export const PACKAGE_JSON = fileURLToPath(new URL('../../package.json', import.meta.url));
export const BENCHMARKS_MD = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url));
export const CONTAINERD_BIN = '/usr/bin/containerd';
