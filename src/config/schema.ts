/**
 * The config.toml schema. Keys follow containerd's config.toml where the concept is the same, so an
 * operator's knowledge carries over. Every key has a default: berthd runs with no file at all.
 * Objects are strict: an unknown key is an error naming its path, never silently ignored.
 */
import { z } from 'zod';
import { parseCidrList } from '../base/cidr.js';
import { parseByteQuantity, parseDurationMs } from '../base/quantity.js';

/**
 * Metadata for docs/config-reference.md (generated from this schema by scripts/gen-config-reference.ts):
 * `.describe()` holds each key's meaning, `typeLabel` names a value type in the operator's words, and
 * `keyLabel` names the key of a table of tables (runtimes.NAME, mirrors."HOST").
 */
declare module 'zod' {
  interface GlobalMeta {
    typeLabel?: string;
    keyLabel?: string;
  }
}

const absolutePath = z.string().startsWith('/', { message: 'must be an absolute path' }).meta({ typeLabel: 'path' });

/** A search path like CNI_PATH: absolute directories joined with ':'. */
const searchPath = z
  .string()
  .min(1)
  .refine((v) => v.split(':').every((p) => p.startsWith('/')), {
    message: 'must be absolute directories separated by ":"',
  })
  .meta({ typeLabel: 'paths joined by ":"' });

/** One CIDR, or an IPv4 and an IPv6 one joined by ',' (dual stack). */
const cidrList = z
  .string()
  .refine(
    (v) => {
      try {
        return parseCidrList(v).length > 0;
      } catch {
        return false;
      }
    },
    { message: 'must be a CIDR like "10.88.0.0/16", or an IPv4 and an IPv6 CIDR joined by ","' },
  )
  .meta({ typeLabel: 'CIDR, or "v4CIDR,v6CIDR"' });

/** A size as the kubelet writes containerLogMaxSize: a resource quantity ("10Mi"), more than 0 bytes. */
const byteQuantity = z
  .string()
  .refine(
    (v) => {
      try {
        return parseByteQuantity(v) > 0;
      } catch {
        return false;
      }
    },
    { message: 'must be a size of at least 1 byte like "10Mi", "64Ki" or "1G"' },
  )
  .meta({ typeLabel: 'size ("10Mi", "64Ki", "1G")' });

/** A Go-style duration ("10s", "500ms") from minMs to maxMs; `range` says so in the message. */
function duration(minMs: number, maxMs: number, range: string) {
  return z
    .string()
    .refine(
      (v) => {
        try {
          const ms = parseDurationMs(v);
          return ms >= minMs && ms <= maxMs;
        } catch {
          return false;
        }
      },
      { message: `must be a duration from ${range}, like "10s"` },
    )
    .meta({ typeLabel: `duration ${range}` });
}

const HOUR_MS = 3_600_000;
const logMonitorInterval = duration(100, HOUR_MS, '"100ms" to "1h"');
/** Time limits of child processes: finite, and long enough for a loaded node. */
const childTimeout = duration(100, HOUR_MS, '"100ms" to "1h"');

/**
 * A TCP listen address "HOST:PORT" (an IPv6 host in brackets: "[::1]:9090"), or '' for off. PORT 0 picks a
 * free port (tests).
 */
const listenAddress = z
  .string()
  .refine((v) => v === '' || /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.test(v), {
    message: 'must be "" (off) or HOST:PORT like "127.0.0.1:9090" or "[::1]:9090"',
  })
  .refine((v) => v === '' || Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, { message: 'port must be 0-65535' });

export const RuntimeSchema = z.strictObject({
  runtime_type: z
    .enum(['oci', 'io.containerd.runc.v2'])
    .default('oci')
    .describe(
      '"oci": an OCI runtime binary (runc, crun) run under conmon. containerd\'s runc v2 shim name is accepted as an alias.',
    ),
  binary: absolutePath.describe('The OCI runtime binary.'),
});
export type RuntimeConfig = z.infer<typeof RuntimeSchema>;

const MirrorSchema = z.strictObject({
  endpoint: z
    .array(z.url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' }).meta({ typeLabel: 'URL' }))
    .default([])
    .describe('Mirrors (http:// or https:// URLs) tried in order before the registry itself.'),
});

const RegistryHostSchema = z.strictObject({
  tls: z
    .strictObject({
      insecure_skip_verify: z.boolean().default(false).describe("Skip verifying the registry's TLS certificate."),
    })
    .prefault({})
    .describe('TLS towards the registry HOST.'),
  auth: z
    .strictObject({
      username: z.string().default('').describe('User name for basic auth.'),
      password: z.string().default('').describe('Password for basic auth (redacted in `berth info`).'),
      auth: z
        .string()
        .default('')
        .describe(
          'base64 of "username:password", as in docker\'s config.json; wins over username and password (redacted in `berth info`).',
        ),
      identitytoken: z
        .string()
        .default('')
        .describe("An OAuth2 refresh token for the registry's token service (redacted in `berth info`)."),
    })
    .prefault({})
    .describe(
      "Credentials for the registry HOST, used when a pull carries none (the kubelet's pull secrets and `berth pull --creds` win).",
    ),
});

export const DEFAULT_RUNTIMES: Readonly<Record<string, RuntimeConfig>> = Object.freeze({
  runc: { runtime_type: 'oci', binary: '/usr/sbin/runc' },
  crun: { runtime_type: 'oci', binary: '/usr/bin/crun' },
});

export const ConfigSchema = z
  .strictObject({
    root: absolutePath
      .default('/var/lib/berth')
      .describe('Persistent data: metadata DB (meta.db), content store, snapshots.'),
    state: absolutePath
      .default('/run/berth')
      .describe('Runtime state that does not survive a reboot: sockets, pinned namespaces, bundles.'),
    grpc: z
      .strictObject({
        address: absolutePath
          .default('/run/berth/berth.sock')
          .describe('Unix socket of the CRI and admin gRPC services (mode 0660, owned by root).'),
      })
      .prefault({})
      .describe('The gRPC server the kubelet, crictl and berth talk to.'),
    metrics: z
      .strictObject({
        address: listenAddress
          .default('')
          .describe(
            'Prometheus endpoint, served as http://ADDRESS/metrics (e.g. "127.0.0.1:9090"); empty serves none. containerd\'s key.',
          ),
      })
      .prefault({})
      .describe('Opt-in Prometheus metrics: RPC counts and latencies, pulls, containers and pods by state, process.'),
    plugins: z
      .strictObject({
        cri: z
          .strictObject({
            stream_server_address: z
              .union([z.ipv4(), z.ipv6()])
              .meta({ typeLabel: 'IP address' })
              .default('127.0.0.1')
              .describe('Address of the exec/attach/port-forward stream server.'),
            stream_server_port: z
              .int()
              .min(0)
              .max(65535)
              .default(0)
              .describe('Port of the stream server; 0 picks a free one at each start.'),
            enable_tls_streaming: z
              .boolean()
              .default(false)
              .describe(
                'Serve the stream server over HTTPS: with the pair below, or a self-signed pair made at start.',
              ),
            x509_key_pair_streaming: z
              .strictObject({
                tls_cert_file: z
                  .union([z.literal(''), absolutePath])
                  .default('')
                  .describe(
                    'PEM certificate of the stream server; empty with enable_tls_streaming: a self-signed pair is made at each start.',
                  ),
                tls_key_file: z
                  .union([z.literal(''), absolutePath])
                  .default('')
                  .describe('PEM private key of tls_cert_file.'),
              })
              .prefault({})
              .describe("The stream server's TLS certificate and key (with enable_tls_streaming)."),
            cgroup_driver: z
              .enum(['cgroupfs', 'systemd'])
              .default('cgroupfs')
              .describe(
                "How container cgroups are managed; must match the kubelet's cgroupDriver (reported by RuntimeConfig).",
              ),
            conmon_path: absolutePath
              .default('/usr/bin/conmon')
              .describe('The per-container monitor (Debian package conmon).'),
            runtime_timeout: childTimeout
              .default('60s')
              .describe(
                'Time limit of each OCI runtime command (state, start, kill, delete, update); then DEADLINE_EXCEEDED and the command is killed.',
              ),
            runtime_create_timeout: childTimeout
              .default('2m')
              .describe("Time limit for conmon and the runtime to create a container (CreateContainer's slow step)."),
            max_concurrent_downloads: z
              .int()
              .min(1)
              .max(64)
              .default(3)
              .describe("Layers of one pull downloaded at once (containerd's key of the same name)."),
            image_pull_progress_timeout: childTimeout
              .default('1m')
              .describe(
                'How long a registry request (pull or push) may go without a byte moving (a blob transfer is re-armed by every chunk); then the connection is dropped and the download resumes from where it stopped, or the pull fails with UNAVAILABLE. containerd\'s key (its default is "5m").',
              ),
            container_log_rotation: z
              .enum(['auto', 'always', 'never'])
              .default('auto')
              .describe(
                'Which containers\' logs Berth rotates itself (docs/configuration.md, "Container logs"). "auto": containers of pods without the kubelet\'s io.kubernetes.pod.uid label.',
              ),
            container_log_max_size: byteQuantity
              .default('10Mi')
              .describe("A live log at least this big is rotated (the kubelet's containerLogMaxSize)."),
            container_log_max_files: z
              .int()
              .min(2)
              .max(1000)
              .default(5)
              .describe("Log files kept per container, the live one included (the kubelet's containerLogMaxFiles)."),
            container_log_monitor_interval: logMonitorInterval
              .default('10s')
              .describe("How often log sizes are checked (the kubelet's containerLogMonitorInterval)."),
            cni: z
              .strictObject({
                bin_dir: searchPath
                  .default('/opt/cni/bin:/usr/lib/cni')
                  .describe('Where CNI plugin binaries are looked up, in order (CNI_PATH).'),
                conf_dir: absolutePath
                  .default('/etc/cni/net.d')
                  .describe(
                    'CNI network configs; the first .conflist, .conf or .json file in name order is the pod network.',
                  ),
                default_subnet: cidrList
                  .default('10.88.0.0/16')
                  .describe(
                    'Subnet(s) of the default bridge conflist (10-berth.conflist) Berth writes when conf_dir has no config; a pod CIDR the kubelet sets takes precedence.',
                  ),
                plugin_timeout: childTimeout
                  .default('60s')
                  .describe(
                    'Time limit of one CNI plugin run (ADD, DEL or CHECK); then DEADLINE_EXCEEDED and the plugin is killed.',
                  ),
              })
              .prefault({})
              .describe('Pod networking through CNI plugins.'),
            containerd: z
              .strictObject({
                snapshotter: z
                  .enum(['overlayfs', 'native'])
                  .default('overlayfs')
                  .describe(
                    'How image layers and container root filesystems are stored ("native": plain copies, no overlay mount).',
                  ),
                default_runtime_name: z
                  .string()
                  .min(1)
                  .default('runc')
                  .describe('The runtime of pods that name no runtime handler; one of the runtimes below.'),
                runtimes: z
                  .record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/), RuntimeSchema)
                  .default({})
                  .meta({ keyLabel: 'NAME' })
                  .describe(
                    'OCI runtimes by CRI runtime handler name. Tables here add to the built-in runc and crun; a table with one of those names replaces it.',
                  ),
              })
              .prefault({})
              .describe('Snapshotter and OCI runtimes (section name as in containerd).'),
            registry: z
              .strictObject({
                mirrors: z
                  .record(z.string().min(1), MirrorSchema)
                  .default({})
                  .meta({ keyLabel: '"HOST"' })
                  .describe('Mirrors of the registry HOST (e.g. "docker.io").'),
                configs: z
                  .record(z.string().min(1), RegistryHostSchema)
                  .default({})
                  .meta({ keyLabel: '"HOST"' })
                  .describe('Per-registry settings of the registry HOST (e.g. "registry.example:5000").'),
              })
              .prefault({})
              .describe('Image registries.'),
          })
          .prefault({})
          .describe('The CRI service: streaming, cgroups, logs, CNI, runtimes, registries.'),
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
