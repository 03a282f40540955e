/**
 * berthd's systemd unit: packaging/berthd.service with this installation's paths filled in. The template
 * holds every setting (Delegate, KillMode=process, limits); this module only substitutes its @NAMES@,
 * quoting each value the way systemd reads ExecStart.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CliError } from './errors.js';

export const UNIT_NAME = 'berthd.service';
/** The first line of every unit (and crictl.yaml) `berth install` writes: uninstall removes only these. */
export const INSTALL_MARKER = 'Written by `berth install`';

// dist/src/cli/service-unit.js -> the package root.
const PACKAGE_ROOT = new URL('../../../', import.meta.url);
export const UNIT_TEMPLATE_PATH = fileURLToPath(new URL('packaging/berthd.service', PACKAGE_ROOT));
/** berthd's entry point in this installation (the `berthd` bin of package.json). */
export const BERTHD_MAIN_PATH = fileURLToPath(new URL('dist/src/daemon/main.js', PACKAGE_ROOT));
const INSTALL_DOC_URL = pathToFileURL(fileURLToPath(new URL('docs/install.md', PACKAGE_ROOT))).href;

/** containerd's unit value: the kernel kills berthd last, after the containers. */
export const PREFERRED_OOM_SCORE_ADJ = -999;

export interface UnitValues {
  /** argv of berthd: [node, main.js] or [berthd]. */
  readonly berthd: readonly string[];
  readonly configPath: string;
  /** OOMScoreAdjust for berthd; undefined leaves the host default (0). */
  readonly oomScoreAdj: number | undefined;
}

const BARE_WORD = /^[A-Za-z0-9_@+=:,./-]+$/;

/**
 * One word of a systemd command line: bare when safe, else in double quotes. `%` (specifiers) and `$`
 * (variables) are doubled either way, so a path is taken literally.
 */
export function systemdWord(word: string): string {
  if (BARE_WORD.test(word)) return word;
  const escaped = word
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/%/g, '%%')
    .replace(/\$/g, '$$$$');
  return `"${escaped}"`;
}

/** The template with the values substituted; throws when the template lost a placeholder. */
export function renderUnit(template: string, values: UnitValues): string {
  const oomLine =
    values.oomScoreAdj === undefined
      ? '# OOMScoreAdjust: the host default (this host does not allow lowering it)'
      : `OOMScoreAdjust=${values.oomScoreAdj}`;
  const substitutions: Readonly<Record<string, string>> = {
    '@BERTHD@': values.berthd.map(systemdWord).join(' '),
    '@CONFIG@': systemdWord(values.configPath),
    '@DOCS@': INSTALL_DOC_URL,
    '@OOM_SCORE_ADJUST@': oomLine,
  };
  let out = template;
  for (const [name, value] of Object.entries(substitutions)) {
    if (!out.includes(name)) throw new CliError(`unit template ${UNIT_TEMPLATE_PATH} has no ${name}`);
    out = out.split(name).join(value);
  }
  return out;
}

export async function readUnitTemplate(path = UNIT_TEMPLATE_PATH): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the unit template ${path}: ${(err as Error).message}`);
  }
}

/** Whether lowering oom_score_adj is allowed: CAP_SYS_RESOURCE (bit 24) in a /proc status's CapBnd. */
export function hasSysResource(procStatus: string): boolean {
  const CAP_SYS_RESOURCE = 24n;
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(procStatus)?.[1];
  return hex !== undefined && ((BigInt(`0x${hex}`) >> CAP_SYS_RESOURCE) & 1n) === 1n;
}

/**
 * The lowest score the host lets berthd have: containerd's -999 with CAP_SYS_RESOURCE; without it only the
 * score berthd would start with anyway (a negative one inherited here), else none (undefined).
 */
export function oomScoreAdjFor(procStatus: string, ownOomScoreAdj: number): number | undefined {
  if (hasSysResource(procStatus)) return PREFERRED_OOM_SCORE_ADJ;
  return ownOomScoreAdj < 0 ? ownOomScoreAdj : undefined;
}
