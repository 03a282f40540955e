/**
 * CniPlugin: runs one CNI plugin binary once (ADD, DEL or CHECK) through Exec, with a timeout, and turns a
 * failure into a BerthError naming the plugin, the command, the network and the plugin's own message.
 * Knows nothing about chains or caches; CniManager does.
 */
import { BerthError, wrap, type ErrorCode } from '../../base/errors.js';
import { stderrTail, type Exec } from '../../base/exec.js';
import type { Logger } from '../../base/logger.js';
import { findPluginBinary, type NetworkConfigList, type PluginConfig } from './config.js';
import { buildPluginEnv, buildPluginStdin, type CniCommand } from './invocation.js';
import { berthCodeOfCniError, hintOfCniFailure, parseCniError } from './result.js';
import type { CniPod, JsonObject } from './types.js';

/** Results and error objects are small; a plugin printing more is broken. */
const MAX_PLUGIN_OUTPUT_BYTES = 1024 * 1024;

export interface PluginRun {
  readonly command: CniCommand;
  readonly list: NetworkConfigList;
  readonly plugin: PluginConfig;
  readonly pod: CniPod;
  readonly netnsPath: string;
  readonly ifName: string;
  readonly prevResult?: JsonObject;
  readonly signal?: AbortSignal;
}

export class CniPlugin {
  constructor(
    private readonly exec: Exec,
    private readonly binDirs: readonly string[],
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Runs the plugin; returns its result object for ADD, undefined for DEL and CHECK. */
  async run(run: PluginRun): Promise<JsonObject | undefined> {
    const what = `CNI plugin "${run.plugin.type}" ${run.command} in network "${run.list.name}" for pod ${run.pod.id}`;
    const file = await findPluginBinary(run.plugin.type, this.binDirs);
    if (file === undefined) {
      throw new BerthError('FAILED_PRECONDITION', `${what}: plugin not found in ${this.binDirs.join(':')}`);
    }
    const res = await this.exec({
      file,
      args: [],
      env: buildPluginEnv({
        command: run.command,
        pod: run.pod,
        netnsPath: run.netnsPath,
        ifName: run.ifName,
        binDirs: this.binDirs,
      }),
      stdin: buildPluginStdin(run.list, run.plugin, run.pod, run.prevResult),
      timeoutMs: this.timeoutMs,
      maxOutputBytes: MAX_PLUGIN_OUTPUT_BYTES,
      ...(run.signal !== undefined ? { signal: run.signal } : {}),
    }).catch((err: unknown) => {
      throw wrap(err, what); // a time limit or a plugin that cannot run: say which plugin, command and pod
    });
    this.log.debug(
      { plugin: run.plugin.type, command: run.command, exitCode: res.exitCode, durationMs: Math.round(res.durationMs) },
      'cni plugin ran',
    );
    if (res.exitCode !== 0) throw this.failure(what, res.exitCode, res.signal, res.stdout, res.stderr);
    if (run.command !== 'ADD') return undefined;
    let result: unknown;
    try {
      result = JSON.parse(res.stdout);
    } catch {
      throw new BerthError('INTERNAL', `${what}: the plugin printed no JSON result: ${stderrTail(res.stdout, 500)}`);
    }
    if (typeof result !== 'object' || result === null || Array.isArray(result)) {
      throw new BerthError('INTERNAL', `${what}: the plugin's result is not a JSON object`);
    }
    return result as JsonObject;
  }

  private failure(
    what: string,
    exitCode: number | null,
    signal: NodeJS.Signals | null,
    stdout: string,
    stderr: string,
  ): BerthError {
    // Spec 1.0: a failing plugin prints {cniVersion, code, msg, details} on stdout; some print it on stderr.
    const cniError = parseCniError(stdout) ?? parseCniError(stderr);
    if (cniError !== undefined) {
      const details = cniError.details !== undefined ? ` (${cniError.details})` : '';
      const said = `${what} failed: ${cniError.msg}${details} [CNI error ${cniError.code}]`;
      const hint = hintOfCniFailure(cniError.msg);
      if (hint !== undefined) return new BerthError(hint.code, `${said}; ${hint.hint}`);
      const code: ErrorCode = berthCodeOfCniError(cniError.code);
      return new BerthError(code, said);
    }
    const how = exitCode === null ? `was killed by ${signal ?? 'a signal'}` : `exited with ${exitCode}`;
    const output = stderrTail(`${stderr}\n${stdout}`, 2000);
    return new BerthError('UNKNOWN', `${what} failed: the plugin ${how}${output !== '' ? `: ${output}` : ''}`);
  }
}
