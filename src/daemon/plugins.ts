/**
 * `berth plugins`: the table of the daemon's parts ({type, id, requires}, STYLE 5.4) and the probe that says
 * whether each is ready and why (not). Probes run on every ListPlugins and are cheap (a `--version` run, a
 * readdir, a mountinfo read), so the answer is the node as it is now, not as it was at start.
 */
import type { ProbeResult } from '../base/condition.js';
import { messageOf } from '../base/errors.js';
import type { Exec } from '../base/exec.js';
import type { Plugins, PluginStatus } from '../admin/index.js';
import type { Config } from '../config/index.js';
import { probeBinary } from '../runtime/index.js';
import { probeSnapshotter } from '../snapshots/index.js';
import type { SnapshotterKind } from '../snapshots/index.js';
import { probeCgroups } from '../stats/index.js';

export interface PluginEntry {
  readonly type: string;
  readonly id: string;
  readonly requires: readonly string[];
  readonly probe: () => Promise<ProbeResult>;
}

/** What the probes need from the running daemon (the config gives the rest). */
export interface PluginSources {
  readonly config: Config;
  readonly exec: Exec;
  readonly snapshotter: { readonly kind: SnapshotterKind; readonly root: string };
  readonly cni: { probe(): Promise<ProbeResult> };
  /** The stream server's base URL, '' while it is not listening. */
  readonly streamServerUrl: () => string;
  /** The metrics URL, undefined when `[metrics] address` is empty. */
  readonly metricsUrl: () => string | undefined;
  readonly metaDbPath: string;
  readonly contentRoot: string;
}

const ok = (reason: string, details: Readonly<Record<string, string>> = {}): ProbeResult => ({
  isReady: true,
  reason,
  details,
});

export function pluginEntries(src: PluginSources): PluginEntry[] {
  const cri = src.config.plugins.cri;
  const snapshotterId = src.snapshotter.kind;
  const runtimes = Object.entries(cri.containerd.runtimes).map(([name, runtime]): PluginEntry => ({
    type: 'runtime',
    id: name,
    requires: ['conmon', 'cgroups', snapshotterId],
    probe: async () => {
      const found = await probeBinary(src.exec, runtime.binary);
      const isDefault = name === cri.containerd.default_runtime_name;
      return { ...found, details: { ...found.details, default: String(isDefault) } };
    },
  }));
  return [
    {
      type: 'metadata',
      id: 'store',
      requires: [],
      probe: async () => ok(`SQLite at ${src.metaDbPath}`, { path: src.metaDbPath }),
    },
    {
      type: 'content',
      id: 'content',
      requires: ['store'],
      probe: async () => ok(`blobs at ${src.contentRoot}`, { root: src.contentRoot }),
    },
    {
      type: 'snapshotter',
      id: snapshotterId,
      requires: ['store'],
      probe: () => probeSnapshotter(src.snapshotter.kind, src.snapshotter.root),
    },
    { type: 'cgroups', id: 'cgroups', requires: [], probe: () => probeCgroups(cri.cgroup_driver) },
    { type: 'monitor', id: 'conmon', requires: [], probe: () => probeBinary(src.exec, cri.conmon_path) },
    ...runtimes,
    { type: 'network', id: 'cni', requires: [], probe: () => src.cni.probe() },
    {
      type: 'streaming',
      id: 'stream-server',
      requires: [cri.containerd.default_runtime_name],
      probe: async () => {
        const url = src.streamServerUrl();
        return url === ''
          ? { isReady: false, reason: 'the stream server is not listening', details: {} }
          : ok(`exec, attach and port-forward at ${url}`, { url });
      },
    },
    {
      type: 'metrics',
      id: 'prometheus',
      requires: [],
      probe: async () => {
        const url = src.metricsUrl();
        return url === undefined
          ? ok('disabled: [metrics] address is empty', { enabled: 'false' })
          : ok(`serving ${url}`, { enabled: 'true', url });
      },
    },
  ];
}

export class PluginTable implements Plugins {
  constructor(private readonly entries: readonly PluginEntry[]) {}

  async list(): Promise<PluginStatus[]> {
    return Promise.all(
      this.entries.map(async (e): Promise<PluginStatus> => {
        const result = await e
          .probe()
          .catch((err: unknown): ProbeResult => ({ isReady: false, reason: messageOf(err), details: {} }));
        return { type: e.type, id: e.id, requires: e.requires, ...result };
      }),
    );
  }
}
