/**
 * Is the node able to run containers? The default OCI runtime binary and conmon must exist and be
 * executable. This feeds the CRI Status RuntimeReady condition, which kubelet turns into node readiness.
 */
import { access, constants } from 'node:fs/promises';
import type { Condition } from '../base/condition.js';

export interface RuntimeReadinessConfig {
  readonly defaultRuntimeName: string;
  readonly runtimes: Readonly<Record<string, { readonly binary: string }>>;
  readonly conmonPath: string;
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export class RuntimeReadiness {
  constructor(private readonly config: RuntimeReadinessConfig) {}

  async check(): Promise<Condition> {
    const name = this.config.defaultRuntimeName;
    const runtime = this.config.runtimes[name];
    if (runtime === undefined || !(await isExecutable(runtime.binary))) {
      return {
        isReady: false,
        reason: 'OCIRuntimeNotFound',
        message: `default runtime "${name}": binary ${runtime?.binary ?? '(none configured)'} not found or not executable`,
      };
    }
    if (!(await isExecutable(this.config.conmonPath))) {
      return {
        isReady: false,
        reason: 'ConmonNotFound',
        message: `conmon not found or not executable at ${this.config.conmonPath}`,
      };
    }
    return { isReady: true, reason: '', message: '' };
  }
}
