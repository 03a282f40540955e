/**
 * Writes docs/config-reference.md from the config schema (src/config/reference.ts). With --check it writes
 * nothing and exits 1 when the checked-in file differs, so CI catches a schema change without its docs.
 * Run after the build: node dist/scripts/gen-config-reference.js [--check] (npm run gen:config-reference).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderConfigReference } from '../src/config/index.js';

// dist/scripts/gen-config-reference.js -> docs/ at the package root.
const REFERENCE_PATH = fileURLToPath(new URL('../../docs/config-reference.md', import.meta.url));

async function main(): Promise<void> {
  const text = renderConfigReference();
  if (!process.argv.includes('--check')) {
    await writeFile(REFERENCE_PATH, text);
    process.stderr.write(`gen-config-reference: wrote ${REFERENCE_PATH}\n`);
    return;
  }
  const current = await readFile(REFERENCE_PATH, 'utf8').catch(() => '');
  if (current !== text) {
    process.stderr.write(
      `gen-config-reference: ${REFERENCE_PATH} is stale: run npm run build && npm run gen:config-reference and commit it\n`,
    );
    process.exitCode = 1;
    return;
  }
  process.stderr.write('gen-config-reference: docs/config-reference.md is up to date\n');
}

await main();
