/**
 * CniManager: the pod network of every sandbox, through CNI plugins (CNI spec 1.0, issue #4).
 *
 *   setUp(pod)     loopback ADD on "lo", then ADD through the conf_dir network's plugin chain on "eth0";
 *                  returns the pod's IPs. A failure half-way runs DEL on everything and leaves nothing.
 *   tearDown(pod)  DEL in reverse order with the config and result recorded at ADD time; idempotent.
 *   check(pod)     CHECK with the recorded result (lists with cniVersion >= 0.4.0).
 *   status()       NetworkReady for CRI Status: ready when conf_dir's first config file is valid.
 *
 * The config is re-read when conf_dir changes (fs.watch, debounced) and re-checked (readdir + stat) before
 * every operation, so a change the watcher missed or has not delivered yet is never ignored.
 * Operations on one pod are serialized; different pods run in parallel (host-local locks its own store).
 */
import { watch, type FSWatcher } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Condition, ProbeResult } from '../../base/condition.js';
import { crashPoint } from '../../base/crash-point.js';
import { BerthError, errorCode, messageOf } from '../../base/errors.js';
import type { Exec } from '../../base/exec.js';
import { ensureDir, writeFileAtomic } from '../../base/fs.js';
import type { Logger } from '../../base/logger.js';
import { SingleFlight } from '../../base/single-flight.js';
import { DEFAULT_CNI_CONFIG_FILE, defaultCniConfigList, renderCniConfigList } from '../../config/index.js';
import { CniPlugin } from './cni-plugin.js';
import {
  LOOPBACK_NETWORK,
  compareCniVersions,
  findPluginBinary,
  fingerprintOf,
  listConfigFiles,
  loadConfDir,
  parseNetworkConfig,
  type ConfigState,
  type NetworkConfigList,
} from './config.js';
import { assertPodId, buildCniArgs, type CniCommand } from './invocation.js';
import { ResultCache, type CacheEntry } from './result-cache.js';
import { StandInNetns } from './stand-in-netns.js';
import { parseCniResult } from './result.js';
import type { CniPod, JsonObject, PodNetwork } from './types.js';

export interface CniManagerOptions {
  /** CNI_PATH: plugin binaries are looked up in these dirs, in order (config cni.bin_dir split on ':'). */
  readonly binDirs: readonly string[];
  readonly confDir: string;
  readonly exec: Exec;
  /** Where each pod's ADD config and result are kept for DEL and CHECK. */
  readonly cacheDir: string;
  readonly log: Logger;
  /** Subnet(s) of the default config ("10.88.0.0/16", or "v4cidr,v6cidr"). */
  readonly defaultSubnet?: string;
  /** Per plugin run. */
  readonly pluginTimeoutMs?: number;
  readonly reloadDebounceMs?: number;
  /** The pod's interface (CNI_IFNAME). */
  readonly ifName?: string;
}

export interface CniCallOptions {
  readonly signal?: AbortSignal;
}

const DEFAULT_PLUGIN_TIMEOUT_MS = 60_000;
const DEFAULT_RELOAD_DEBOUNCE_MS = 200;
const DEFAULT_IF_NAME = 'eth0';
const LOOPBACK_IF_NAME = 'lo';
/** A Linux interface name (IFNAMSIZ 16 with the NUL). */
const IF_NAME = /^[a-zA-Z0-9_.-]{1,15}$/;
/** statfs f_type of nsfs, the filesystem of a pinned namespace file (linux/magic.h NSFS_MAGIC). */
const NSFS_MAGIC = 0x6e736673;
/** CHECK exists from spec 0.4.0 on. */
const CHECK_MIN_VERSION = '0.4.0';

function serializeList(list: NetworkConfigList): JsonObject {
  return {
    name: list.name,
    cniVersion: list.cniVersion,
    ...(list.disableCheck ? { disableCheck: true } : {}),
    plugins: list.plugins.map((p) => p.raw),
  };
}

export class CniManager {
  private readonly binDirs: readonly string[];
  private readonly confDir: string;
  private readonly log: Logger;
  private readonly plugin: CniPlugin;
  private readonly cache: ResultCache;
  private readonly cacheDir: string;
  private readonly standIn: StandInNetns;
  private readonly ifName: string;
  private readonly defaultSubnet: string | undefined;
  private readonly debounceMs: number;
  private readonly loads = new SingleFlight<'load', ConfigState>();
  /** Tail of each pod's queue of operations. */
  private readonly podQueues = new Map<string, Promise<unknown>>();
  private state: ConfigState | undefined;
  private watcher: FSWatcher | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private isStarted = false;
  private isClosed = false;

  constructor(options: CniManagerOptions) {
    if (options.binDirs.length === 0) throw new BerthError('INVALID_ARGUMENT', 'CNI bin_dir lists no directory');
    this.binDirs = [...options.binDirs];
    this.confDir = options.confDir;
    this.log = options.log;
    this.cache = new ResultCache(options.cacheDir);
    this.cacheDir = options.cacheDir;
    this.standIn = new StandInNetns(options.exec);
    this.ifName = options.ifName ?? DEFAULT_IF_NAME;
    if (!IF_NAME.test(this.ifName)) {
      throw new BerthError('INVALID_ARGUMENT', `CNI interface name "${this.ifName}" is not a Linux interface name`);
    }
    this.defaultSubnet = options.defaultSubnet;
    this.debounceMs = options.reloadDebounceMs ?? DEFAULT_RELOAD_DEBOUNCE_MS;
    this.plugin = new CniPlugin(
      options.exec,
      this.binDirs,
      options.pluginTimeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS,
      options.log,
    );
  }

  /** Loads the config and starts watching conf_dir. Operations work without it (they re-check anyway). */
  async start(): Promise<void> {
    this.isStarted = true;
    await this.current();
    this.ensureWatcher();
  }

  /** Stops the watcher. Idempotent. */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.debounceTimer !== undefined) clearTimeout(this.debounceTimer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** NetworkReady for CRI Status (reason NetworkPluginNotReady, as kubelet expects). */
  async status(): Promise<Condition> {
    let state: ConfigState;
    try {
      state = await this.current();
    } catch (err) {
      return {
        isReady: false,
        reason: 'NetworkPluginNotReady',
        message: `network plugin is not ready: ${messageOf(err)}`,
      };
    }
    if (state.kind === 'ok') return { isReady: true, reason: '', message: '' };
    return { isReady: false, reason: 'NetworkPluginNotReady', message: state.message };
  }

  /** `berth plugins`: the config in force and where each plugin of its chain (and loopback) was found. */
  async probe(): Promise<ProbeResult> {
    const binDir = this.binDirs.join(':');
    const base = { confDir: this.confDir, binDir };
    let state: ConfigState;
    try {
      state = await this.current();
    } catch (err) {
      return { isReady: false, reason: messageOf(err), details: base };
    }
    if (state.kind === 'none') return { isReady: false, reason: state.message, details: base };
    if (state.kind === 'invalid')
      return { isReady: false, reason: state.message, details: { ...base, file: state.file } };
    const types = [...new Set(['loopback', ...state.config.plugins.map((p) => p.type)])];
    const found = await Promise.all(types.map(async (t) => [t, await findPluginBinary(t, this.binDirs)] as const));
    const details = {
      ...base,
      file: state.file,
      network: state.config.name,
      plugins: found.map(([t, path]) => `${t}=${path ?? 'missing'}`).join(','),
    };
    const missing = found.filter(([, path]) => path === undefined).map(([t]) => t);
    if (missing.length > 0) {
      return { isReady: false, reason: `${state.file}: plugin ${missing.join(', ')} not found in ${binDir}`, details };
    }
    return {
      isReady: true,
      reason: `${state.file} (network "${state.config.name}"): ${types.join(', ')} found in ${binDir}`,
      details,
    };
  }

  /** The config now in force (for `berth info`). */
  async config(): Promise<ConfigState> {
    return this.current();
  }

  /**
   * Writes 10-berth.conflist (see defaultCniConfigList in config/) when conf_dir has no config file; creates the dir.
   * Returns whether it wrote one. An operator's file is never overwritten.
   */
  async writeDefaultConfig(): Promise<boolean> {
    if ((await listConfigFiles(this.confDir)).length > 0) return false;
    const conf = defaultCniConfigList(this.defaultSubnet);
    await ensureDir(this.confDir, 0o755);
    const path = join(this.confDir, DEFAULT_CNI_CONFIG_FILE);
    await writeFileAtomic(path, renderCniConfigList(conf), 0o644);
    this.log.info({ path }, 'wrote the default CNI network config');
    await this.reload();
    return true;
  }

  /** ADD: brings up lo and the pod network in pod.netnsPath; returns the pod's addresses (IPv4 first). */
  async setUp(pod: CniPod, options: CniCallOptions = {}): Promise<PodNetwork> {
    assertPodId(pod.id);
    buildCniArgs(pod); // reject bad CNI_ARGS values before anything is set up
    return this.serialize(pod.id, async () => {
      const state = await this.current();
      if (state.kind !== 'ok') throw new BerthError('FAILED_PRECONDITION', state.message);
      if ((await this.cache.read(pod.id).catch(() => undefined)) !== undefined) {
        // A retried setUp of the same sandbox: undo the earlier attempt so nothing is set up twice.
        await this.tearDownLocked(pod);
      }
      const list = state.config;
      const entry: CacheEntry = {
        podId: pod.id,
        state: 'adding',
        ifName: this.ifName,
        network: serializeList(list),
        ...(pod.portMappings !== undefined ? { portMappings: pod.portMappings } : {}),
        ...(pod.bandwidth !== undefined ? { bandwidth: pod.bandwidth } : {}),
        ...(pod.dns !== undefined ? { dns: pod.dns } : {}),
      };
      await this.cache.write(entry);
      let result: JsonObject | undefined;
      try {
        await this.runList('ADD', LOOPBACK_NETWORK, pod, pod.netnsPath, LOOPBACK_IF_NAME, undefined, options.signal);
        crashPoint('network.cni.add.after-loopback');
        result = await this.runList('ADD', list, pod, pod.netnsPath, this.ifName, undefined, options.signal);
        if (result === undefined) {
          throw new BerthError('INTERNAL', `CNI network "${list.name}" returned no result for pod ${pod.id}`);
        }
        const parsed = parseCniResult(result, `CNI network "${list.name}"`);
        await this.cache.write({ ...entry, state: 'ready', result });
        this.log.info(
          { podId: pod.id, network: list.name, ips: parsed.network.ips.map((ip) => ip.address) },
          'pod network set up',
        );
        return parsed.network;
      } catch (err) {
        // Rollback runs without the request's signal: it may be the reason we are here.
        await this.delAll(pod, { ...entry, ...(result !== undefined ? { result } : {}) }, list, true);
        await this.cache.remove(pod.id);
        throw err;
      }
    });
  }

  /**
   * DEL: idempotent. Succeeds when nothing was set up, when called twice, and when the netns is already
   * gone (plugins then get an empty CNI_NETNS and release what lives outside it, e.g. host-local leases).
   * On a plugin failure the record is kept and the error thrown, so a retry (kubelet's StopPodSandbox)
   * can finish the job.
   */
  async tearDown(pod: CniPod, _options: CniCallOptions = {}): Promise<void> {
    assertPodId(pod.id);
    return this.serialize(pod.id, () => this.tearDownLocked(pod));
  }

  /** CHECK: asks every plugin whether the pod's network is still as ADD left it. */
  async check(pod: CniPod, options: CniCallOptions = {}): Promise<void> {
    assertPodId(pod.id);
    return this.serialize(pod.id, async () => {
      const entry = await this.cache.read(pod.id);
      if (entry === undefined || entry.state !== 'ready' || entry.result === undefined) {
        throw new BerthError('NOT_FOUND', `pod ${pod.id} has no CNI network set up`);
      }
      const list = parseNetworkConfig(JSON.stringify(entry.network), `cached config of pod ${pod.id}.conflist`);
      if (compareCniVersions(list.cniVersion, CHECK_MIN_VERSION) < 0) {
        throw new BerthError(
          'FAILED_PRECONDITION',
          `CNI network "${list.name}" has cniVersion ${list.cniVersion}: CHECK needs ${CHECK_MIN_VERSION} or later`,
        );
      }
      if (list.disableCheck) return;
      const withCaps = this.podWithCachedCaps(pod, entry);
      await this.runList('CHECK', list, withCaps, pod.netnsPath, entry.ifName, entry.result, options.signal);
    });
  }

  private async tearDownLocked(pod: CniPod): Promise<void> {
    let entry: CacheEntry | undefined;
    let list: NetworkConfigList;
    try {
      entry = await this.cache.read(pod.id);
      if (entry === undefined) return;
      list = parseNetworkConfig(JSON.stringify(entry.network), `cached config of pod ${pod.id}.conflist`);
    } catch (err) {
      // An unreadable record must not pin the pod forever: DEL with today's config, as containerd always does.
      const state = await this.current();
      if (state.kind !== 'ok') throw err;
      this.log.warn({ podId: pod.id, err: messageOf(err) }, 'CNI result cache unreadable; DEL with the current config');
      list = state.config;
      entry = { podId: pod.id, state: 'adding', ifName: this.ifName, network: serializeList(list) };
    }
    const errors = await this.delAll(pod, entry, list, false);
    if (errors.length > 0) {
      const first = errors[0];
      throw new BerthError(
        errorCode(first),
        `tear down the network of pod ${pod.id}: ${errors.map(messageOf).join('; ')}`,
        {
          cause: first,
        },
      );
    }
    await this.cache.remove(pod.id);
    this.log.info({ podId: pod.id, network: list.name }, 'pod network torn down');
  }

  /**
   * DEL of the pod network (reverse plugin order) then of loopback. Every plugin is asked even after one
   * failed, so one broken plugin does not leak what the others hold. Returns the errors.
   */
  private async delAll(
    pod: CniPod,
    entry: CacheEntry,
    list: NetworkConfigList,
    isRollback: boolean,
  ): Promise<unknown[]> {
    const isPodNetns = await isNetns(pod.netnsPath);
    const standInPath = isPodNetns ? undefined : await this.makeStandIn(pod, entry);
    const netns = isPodNetns ? pod.netnsPath : (standInPath ?? '');
    const withCaps = this.podWithCachedCaps(pod, entry);
    // libcni hands DEL the cached result only from 0.4.0 on, where prevResult on DEL is defined.
    const prev = compareCniVersions(list.cniVersion, '0.4.0') >= 0 ? entry.result : undefined;
    const errors: unknown[] = [];
    try {
      for (const [l, ifName, prevResult] of [
        [list, entry.ifName, prev],
        [LOOPBACK_NETWORK, LOOPBACK_IF_NAME, undefined],
      ] as const) {
        for (const [i, plugin] of [...l.plugins].reverse().entries()) {
          if (i > 0) crashPoint('network.cni.del.mid-chain');
          try {
            await this.plugin.run({
              command: 'DEL',
              list: l,
              plugin,
              pod: withCaps,
              netnsPath: netns,
              ifName,
              ...(prevResult !== undefined ? { prevResult } : {}),
            });
          } catch (err) {
            errors.push(err);
            this.log.warn(
              { podId: pod.id, plugin: plugin.type, err: messageOf(err) },
              isRollback ? 'CNI DEL during ADD rollback failed' : 'CNI DEL failed',
            );
          }
        }
      }
    } finally {
      if (standInPath !== undefined) await this.standIn.remove(standInPath);
    }
    return errors;
  }

  /** A stand-in netns for a pod whose own is gone (see stand-in-netns.ts); undefined when not needed or not possible. */
  private async makeStandIn(pod: CniPod, entry: CacheEntry): Promise<string | undefined> {
    if (entry.result === undefined) return undefined;
    try {
      const ips = parseCniResult(entry.result, `cached result of pod ${pod.id}`).network.ips;
      if (ips.length === 0) return undefined;
      const path = join(this.cacheDir, `${pod.id}.netns`);
      await this.standIn.create(path, entry.ifName, ips);
      return path;
    } catch (err) {
      this.log.warn(
        { podId: pod.id, err: messageOf(err) },
        'no stand-in netns for CNI DEL; running DEL without a netns',
      );
      return undefined;
    }
  }

  /** Runs a list's plugins in order, each getting the previous one's result; returns the last result. */
  private async runList(
    command: Exclude<CniCommand, 'DEL'>,
    list: NetworkConfigList,
    pod: CniPod,
    netnsPath: string,
    ifName: string,
    cachedResult: JsonObject | undefined,
    signal: AbortSignal | undefined,
  ): Promise<JsonObject | undefined> {
    let prevResult = cachedResult;
    for (const [i, plugin] of list.plugins.entries()) {
      if (i > 0 && command === 'ADD') crashPoint('network.cni.add.mid-chain');
      const result = await this.plugin.run({
        command,
        list,
        plugin,
        pod,
        netnsPath,
        ifName,
        ...(prevResult !== undefined ? { prevResult } : {}),
        ...(signal !== undefined ? { signal } : {}),
      });
      // CHECK passes the cached ADD result to every plugin; ADD chains each result into the next.
      if (command === 'ADD') prevResult = result;
    }
    return prevResult;
  }

  /** The pod, with the capability data recorded at ADD filled in where the caller gave none. */
  private podWithCachedCaps(pod: CniPod, entry: CacheEntry): CniPod {
    const portMappings = pod.portMappings ?? entry.portMappings;
    const bandwidth = pod.bandwidth ?? entry.bandwidth;
    const dns = pod.dns ?? entry.dns;
    return {
      ...pod,
      ...(portMappings !== undefined ? { portMappings } : {}),
      ...(bandwidth !== undefined ? { bandwidth } : {}),
      ...(dns !== undefined ? { dns } : {}),
    };
  }

  private serialize<T>(podId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.podQueues.get(podId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.podQueues.set(podId, tail);
    void tail.then(() => {
      if (this.podQueues.get(podId) === tail) this.podQueues.delete(podId);
    });
    return run;
  }

  /** The config in force, re-read when conf_dir's first file is not the one loaded (see the header). */
  private async current(): Promise<ConfigState> {
    const state = this.state;
    if (state !== undefined && state.kind === 'ok') {
      const first = (await listConfigFiles(this.confDir))[0];
      const fingerprint = first === undefined ? undefined : await fingerprintOf(join(this.confDir, first));
      if (fingerprint === state.fingerprint) return state;
    }
    return this.reload();
  }

  private reload(): Promise<ConfigState> {
    return this.loads.run('load', async () => {
      let next = await loadConfDir(this.confDir, this.binDirs);
      if (next.kind === 'ok' && (await findPluginBinary('loopback', this.binDirs)) === undefined) {
        next = {
          kind: 'invalid',
          file: next.file,
          fingerprint: next.fingerprint,
          message: `network plugin is not ready: CNI plugin "loopback" not found in ${this.binDirs.join(':')} (Berth brings up lo in every pod with it)`,
        };
      }
      this.report(this.state, next);
      this.state = next;
      this.ensureWatcher();
      return next;
    });
  }

  private report(prev: ConfigState | undefined, next: ConfigState): void {
    const key = (s: ConfigState | undefined): string =>
      s === undefined
        ? ''
        : s.kind === 'none'
          ? 'none'
          : `${s.kind}:${s.fingerprint}:${s.kind === 'invalid' ? s.message : ''}`;
    if (key(prev) === key(next)) return;
    switch (next.kind) {
      case 'ok':
        this.log.info({ file: next.file, network: next.config.name }, 'CNI network config loaded');
        return;
      case 'invalid':
        this.log.warn({ file: next.file, reason: next.message }, 'CNI network config is invalid');
        return;
      case 'none':
        this.log.info({ confDir: this.confDir }, 'no CNI network config');
        return;
      default:
        assertNever(next);
    }
  }

  /** Watches conf_dir once it exists; until then the per-operation re-check covers changes. */
  private ensureWatcher(): void {
    if (!this.isStarted || this.isClosed || this.watcher !== undefined) return;
    try {
      const watcher = watch(this.confDir, { persistent: false }, () => this.scheduleReload());
      watcher.on('error', () => {
        watcher.close();
        if (this.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = watcher;
    } catch {
      // conf_dir does not exist yet
    }
  }

  private scheduleReload(): void {
    if (this.isClosed) return;
    if (this.debounceTimer !== undefined) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      this.reload().catch((err: unknown) => this.log.warn({ err: messageOf(err) }, 'CNI config reload failed'));
    }, this.debounceMs);
    this.debounceTimer.unref();
  }
}

function assertNever(value: never): never {
  throw new BerthError('INTERNAL', `unexpected value ${JSON.stringify(value)}`);
}

/** Whether path is a pinned network namespace (an nsfs mount); a bare file left after umount is not. */
async function isNetns(path: string): Promise<boolean> {
  if (path === '') return false;
  try {
    return (await statfs(path)).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}
