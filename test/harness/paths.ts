/** Where the built entry points live, relative to this compiled file (dist/test/harness/). */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BERTHD_MAIN = fileURLToPath(new URL('../../src/daemon/main.js', import.meta.url));
export const BERTH_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
