/**
 * The config.toml schema. Keys follow containerd's config.toml where the concept is the same, so an
 * operator's knowledge carries over. Every key has a default: berthd runs with no file at all.
 * Objects are strict: an unknown key is an error naming its path, never silently ignored.
 */
import { z } from 'zod';
import { parseByteQuantity, parseDurationMs } from '../base/quantity.js';

const absolutePath = z.string().startsWith('/', { message: 'must be an absolute path' });

/** A search path like CNI_PATH: absolute directories joined with ':'. */
const searchPath = z
  .string()
  .min(1)
  .refine((v) => v.split(':').every((p) => p.startsWith('/')), {
    message: 'must be absolute directories separated by ":"',
  });

/** A size as the kubelet writes containerLogMaxSize: a resource quantity ("10Mi"), more than 0 bytes. */
const byteQuantity = z.string().refine(
  (v) => {
    try {
      return parseByteQuantity(v) > 0;
    } catch {
      return false;
    }
  },
  { message: 'must be a size of at least 1 byte like "10Mi", "64Ki" or "1G"' },
);

/** A Go-style duration ("10s", "500ms") from minMs to maxMs; `range` says so in the message. */
function duration(minMs: number, maxMs: number, range: string) {
  return z.string().refine(
    (v) => {
      try {
        const ms = parseDurationMs(v);
        return ms >= minMs && ms <= maxMs;
      } catch {
        return false;
      }
    },
    { message: `must be a duration from ${range}, like "10s"` },
  );
}

const HOUR_MS = 3_600_000;
const logMonitorInterval = duration(100, HOUR_MS, '"100ms" to "1h"');
/** Time limits of child processes: finite, and long enough for a loaded node. */
const childTimeout = duration(100, HOUR_MS, '"100ms" to "1h"');

export const RuntimeSchema = z.strictObject({
  /** "oci": an OCI runtime binary (runc, crun) run under conmon. containerd's runc v2 shim name is accepted as an alias. */
  runtime_type: z.enum(['oci', 'io.containerd.runc.v2']).default('oci'),
  binary: absolutePath,
});
export type RuntimeConfig = z.infer<typeof RuntimeSchema>;

const MirrorSchema = z.strictObject({
  endpoint: z.array(z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' })).default([]),
});

const RegistryHostSchema = z.strictObject({
  tls: z
    .strictObject({
      insecure_skip_verify: z.boolean().default(false),
    })
    .prefault({}),
  auth: z
    .strictObject({
      username: z.string().default(''),
      password: z.string().default(''),
      /** base64 of "username:password", as in docker's config.json */
      auth: z.string().default(''),
      identitytoken: z.string().default(''),
    })
    .prefault({}),
});

export const DEFAULT_RUNTIMES: Readonly<Record<string, RuntimeConfig>> = Object.freeze({
  runc: { runtime_type: 'oci', binary: '/usr/sbin/runc' },
  crun: { runtime_type: 'oci', binary: '/usr/bin/crun' },
});

export const ConfigSchema = z
  .strictObject({
    /** Persistent data: metadata DB, content store, snapshots. */
    root: absolutePath.default('/var/lib/berth'),
    /** Runtime state that does not survive a reboot: sockets, pinned namespaces, bundles. */
    state: absolutePath.default('/run/berth'),
    grpc: z
      .strictObject({
        /** Unix socket path of the CRI and admin gRPC services. */
        address: absolutePath.default('/run/berth/berth.sock'),
      })
      .prefault({}),
    plugins: z
      .strictObject({
        cri: z
          .strictObject({
            stream_server_address: z.union([z.ipv4(), z.ipv6()]).default('127.0.0.1'),
            /** 0 picks a free port. */
            stream_server_port: z.int().min(0).max(65535).default(0),
            /** HTTPS for the stream server: with the pair below, or a self-signed pair made at start. */
            enable_tls_streaming: z.boolean().default(false),
            x509_key_pair_streaming: z
              .strictObject({
                /** PEM certificate of the stream server ('' with enable_tls_streaming: self-signed). */
                tls_cert_file: z.union([z.literal(''), absolutePath]).default(''),
                tls_key_file: z.union([z.literal(''), absolutePath]).default(''),
              })
              .prefault({}),
            cgroup_driver: z.enum(['cgroupfs', 'systemd']).default('cgroupfs'),
            /** The per-container monitor (Debian package conmon). */
            conmon_path: absolutePath.default('/usr/bin/conmon'),
            /** Time limit of each OCI runtime command (state, start, kill, delete, update); then DEADLINE_EXCEEDED. */
            runtime_timeout: childTimeout.default('60s'),
            /** Time limit for conmon and the runtime to create a container (CreateContainer's slow step). */
            runtime_create_timeout: childTimeout.default('2m'),
            /** Layers of one pull downloaded at once (containerd's key of the same name). */
            max_concurrent_downloads: z.int().min(1).max(64).default(3),
            /**
             * Container log rotation by Berth, for containers no kubelet rotates (docs/configuration.md,
             * "Container logs"). "auto": containers of pods without the kubelet's io.kubernetes.pod.uid label.
             */
            container_log_rotation: z.enum(['auto', 'always', 'never']).default('auto'),
            /** The kubelet's containerLogMaxSize: a live log at least this big is rotated. */
            container_log_max_size: byteQuantity.default('10Mi'),
            /** The kubelet's containerLogMaxFiles: files kept per container, the live one included. */
            container_log_max_files: z.int().min(2).max(1000).default(5),
            /** The kubelet's containerLogMonitorInterval: how often log sizes are checked. */
            container_log_monitor_interval: logMonitorInterval.default('10s'),
            cni: z
              .strictObject({
                bin_dir: searchPath.default('/opt/cni/bin:/usr/lib/cni'),
                conf_dir: absolutePath.default('/etc/cni/net.d'),
                /** Subnet(s) of the default bridge conflist Berth writes when conf_dir has no config. */
                default_subnet: z.string().min(1).default('10.88.0.0/16'),
                /** Time limit of one CNI plugin run (ADD, DEL or CHECK). */
                plugin_timeout: childTimeout.default('60s'),
              })
              .prefault({}),
            containerd: z
              .strictObject({
                snapshotter: z.enum(['overlayfs', 'native']).default('overlayfs'),
                default_runtime_name: z.string().min(1).default('runc'),
                runtimes: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/), RuntimeSchema).default({}),
              })
              .prefault({}),
            registry: z
              .strictObject({
                mirrors: z.record(z.string().min(1), MirrorSchema).default({}),
                configs: z.record(z.string().min(1), RegistryHostSchema).default({}),
              })
              .prefault({}),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .transform((cfg) => {
    // Like containerd, a runtime table in the file adds to (or replaces one of) the built-in runc and crun.
    const runtimes = { ...DEFAULT_RUNTIMES, ...cfg.plugins.cri.containerd.runtimes };
    return {
      ...cfg,
      plugins: { ...cfg.plugins, cri: { ...cfg.plugins.cri, containerd: { ...cfg.plugins.cri.containerd, runtimes } } },
    };
  })
  .superRefine((cfg, ctx) => {
    const { default_runtime_name: name, runtimes } = cfg.plugins.cri.containerd;
    if (!(name in runtimes)) {
      ctx.addIssue({
        code: 'custom',
        path: ['plugins', 'cri', 'containerd', 'default_runtime_name'],
        message: `names no runtime: "${name}" is not one of ${Object.keys(runtimes).join(', ')}`,
      });
    }
  });

export type Config = z.infer<typeof ConfigSchema>;
export type CriConfig = Config['plugins']['cri'];
