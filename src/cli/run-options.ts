/**
 * The pure half of `berth run`: which of its two modes a command line asks for, and the CRI configs of the
 * docker-style one-shot, built from its options. No I/O here (the file test and the random names come in as
 * arguments), so every rule below is unit tested.
 *
 * Mode rule: when the first positional names an existing file, `run` is crictl's `run CONTAINER_CONFIG
 * POD_CONFIG`; otherwise it is docker's `run IMAGE [CMD...]`. A file that happens to share an image's name
 * wins: write the image with its tag (busybox:latest) to run the image.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { ContainerConfig, NamespaceMode, PodSandboxConfig } from '../api/gen/cri.js';
import { CliError } from './errors.js';

export type RunMode =
  | { readonly kind: 'config'; readonly containerFile: string; readonly podFile: string }
  | { readonly kind: 'image'; readonly image: string; readonly command: readonly string[] };

/** Options that only the image mode takes, by their flag as the user writes it. */
export const IMAGE_MODE_FLAGS = Object.freeze({
  rm: '--rm',
  env: '-e/--env',
  volume: '-v/--volume',
  name: '--name',
  workdir: '-w/--workdir',
  user: '--user',
  entrypoint: '--entrypoint',
  net: '--net',
  logRoot: '--log-root',
  interactive: '-i/--interactive',
  tty: '-t/--tty',
} as const);
export type ImageModeOption = keyof typeof IMAGE_MODE_FLAGS;

/** Where `run IMAGE` puts the throw-away pod's log directory, as the kubelet does: <root>/<ns>_<name>_<uid>/. */
export const DEFAULT_POD_LOG_ROOT = '/var/log/pods';
/** Kubernetes' namespace for pods nobody placed: the throw-away pod lives there. */
export const RUN_POD_NAMESPACE = 'default';
export const RUN_POD_NAME_PREFIX = 'berth-run-';
/** A label on every throw-away pod, so `berth pods --label berth.run=true` finds those left without --rm. */
export const RUN_LABEL = 'berth.run';
/** docker run's exit code when the failure is the engine's, not the container's. */
export const EXIT_RUN_FAILED = 125;
/** The command was found but cannot be executed (docker: 126). */
export const EXIT_CANNOT_INVOKE = 126;
/** The command was not found (docker: 127). */
export const EXIT_NOT_FOUND = 127;

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = Object.freeze({
  SIGHUP: 1,
  SIGINT: 2,
  SIGPIPE: 13,
  SIGTERM: 15,
});

/**
 * Picks the mode from the positionals. `isFile` says whether a path names an existing file (injected for
 * tests); `flagsGiven` lists the image-only options present on the command line, refused in config mode.
 */
export function selectRunMode(
  positionals: readonly string[],
  isFile: (path: string) => boolean,
  flagsGiven: readonly ImageModeOption[] = [],
): RunMode {
  const [first, ...rest] = positionals;
  if (first === undefined) throw new CliError('run needs CONTAINER_CONFIG POD_CONFIG, or IMAGE [CMD...]');
  if (!isFile(first)) return { kind: 'image', image: first, command: rest };
  if (flagsGiven.length > 0) {
    const flags = flagsGiven.map((f) => IMAGE_MODE_FLAGS[f]).join(', ');
    throw new CliError(
      `${flags}: only for run IMAGE; "${first}" is a file, so this is run CONTAINER_CONFIG POD_CONFIG`,
    );
  }
  if (rest.length !== 1) {
    throw new CliError(
      `run with config files takes exactly CONTAINER_CONFIG POD_CONFIG (got ${positionals.length} arguments; ` +
        'options go before the files)',
    );
  }
  return { kind: 'config', containerFile: first, podFile: rest[0]! };
}

export interface EnvVar {
  readonly key: string;
  readonly value: string;
}

/**
 * docker's -e: KEY=VALUE sets it; a bare KEY copies the variable from berth's own environment, and is
 * dropped when that is unset (as docker does).
 */
export function parseEnv(specs: readonly string[], hostEnv: Readonly<Record<string, string | undefined>>): EnvVar[] {
  const out: EnvVar[] = [];
  for (const spec of specs) {
    const i = spec.indexOf('=');
    const key = i < 0 ? spec : spec.slice(0, i);
    if (key === '' || key.includes('\0')) throw new CliError(`-e "${spec}" must be KEY=VALUE or KEY`);
    if (i >= 0) {
      out.push({ key, value: spec.slice(i + 1) });
      continue;
    }
    const inherited = hostEnv[key];
    if (inherited !== undefined) out.push({ key, value: inherited });
  }
  return out;
}

export interface VolumeSpec {
  readonly hostPath: string;
  readonly containerPath: string;
  readonly isReadOnly: boolean;
}

/**
 * docker's -v SRC:DST[:ro|rw] as a bind mount. SRC is a host path: absolute, or relative to the current
 * directory when it starts with "." (docker's rule). A bare name would be a docker named volume, which CRI
 * has no notion of.
 */
export function parseVolume(spec: string, cwd: string): VolumeSpec {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw new CliError(`-v "${spec}" must be SRC:DST or SRC:DST:ro`);
  const [src = '', dst = '', mode = 'rw'] = parts;
  if (src === '' || dst === '') throw new CliError(`-v "${spec}" must be SRC:DST or SRC:DST:ro`);
  if (!isAbsolute(src) && !src.startsWith('.')) {
    throw new CliError(
      `-v "${spec}": "${src}" must be a host path (absolute, or starting with ./); named volumes are not supported`,
    );
  }
  if (!isAbsolute(dst)) throw new CliError(`-v "${spec}": the container path "${dst}" must be absolute`);
  if (mode !== 'ro' && mode !== 'rw') throw new CliError(`-v "${spec}": mode "${mode}" must be ro or rw`);
  return { hostPath: resolve(cwd, src), containerPath: dst, isReadOnly: mode === 'ro' };
}

export interface UserSpec {
  readonly uid?: bigint;
  readonly username?: string;
  readonly gid?: bigint;
}

const NUMERIC = /^\d+$/;

/**
 * docker's --user UID[:GID] or NAME[:GID]. A name is resolved in the image's /etc/passwd by the runtime (CRI
 * run_as_username); CRI has no group name, so the group must be numeric.
 */
export function parseUser(spec: string): UserSpec {
  const [user = '', group, ...extra] = spec.split(':');
  if (user === '' || extra.length > 0 || group === '')
    throw new CliError(`--user "${spec}" must be UID[:GID] or NAME[:GID]`);
  if (group !== undefined && !NUMERIC.test(group)) {
    throw new CliError(`--user "${spec}": the group must be a numeric GID (CRI takes no group name)`);
  }
  const gid = group === undefined ? {} : { gid: BigInt(group) };
  if (NUMERIC.test(user)) return { uid: BigInt(user), ...gid };
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(user)) throw new CliError(`--user "${spec}": "${user}" is not a user name`);
  return { username: user, ...gid };
}

export interface ImageRunOptions {
  readonly image: string;
  readonly command: readonly string[];
  readonly env: readonly EnvVar[];
  readonly volumes: readonly VolumeSpec[];
  readonly name?: string;
  readonly workdir?: string;
  readonly user?: UserSpec;
  readonly entrypoint?: string;
  readonly isHostNetwork: boolean;
  readonly logRoot: string;
  /** docker's -i: the container reads berth's stdin, and its stdin closes when berth's ends. */
  readonly isInteractive: boolean;
  /** docker's -t: the container gets a terminal (its stderr then goes to the terminal too). */
  readonly isTty: boolean;
}

export interface ImageRunConfigs {
  readonly podConfig: PodSandboxConfig;
  readonly containerConfig: ContainerConfig;
}

/** A Kubernetes object name (DNS-1123 label): what pod and container names must be. */
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The throw-away pod and its one container. `randomHex` gives the name suffix (8 hex digits) and the pod
 * uid (32), so the log directory is unique even when --name repeats. --name names both the pod and the
 * container; docker's ENTRYPOINT/CMD map to CRI's command/args (an --entrypoint without CMD runs with no
 * arguments, as in docker and Kubernetes). -i is docker's stdin semantics: stdin_once, so the container's
 * stdin ends when the one client (berth) closes it and `cat` ends with berth's input.
 */
export function buildImageRunConfigs(opts: ImageRunOptions, randomHex: (bytes: number) => string): ImageRunConfigs {
  const name = opts.name ?? `${RUN_POD_NAME_PREFIX}${randomHex(4)}`;
  if (!NAME_RE.test(name) || name.length > 63) {
    throw new CliError(`--name "${name}" must be lower-case letters, digits and '-' (at most 63), as in Kubernetes`);
  }
  if (opts.workdir !== undefined && !isAbsolute(opts.workdir)) {
    throw new CliError(`-w "${opts.workdir}" must be an absolute path`);
  }
  if (opts.entrypoint === '') throw new CliError('--entrypoint must name a command');
  const uid = randomHex(16);
  // As the kubelet sets them for a pod without shareProcessNamespace: the container is PID 1 of its own
  // namespace (a zero-valued pid mode would mean POD, a shared namespace with an infra process).
  const namespaceOptions = {
    network: opts.isHostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
    pid: NamespaceMode.CONTAINER,
    ipc: NamespaceMode.POD,
  };
  const podConfig = PodSandboxConfig.fromPartial({
    metadata: { name, uid, namespace: RUN_POD_NAMESPACE, attempt: 0 },
    hostname: opts.isHostNetwork ? '' : name,
    logDirectory: join(opts.logRoot, `${RUN_POD_NAMESPACE}_${name}_${uid}`),
    labels: { [RUN_LABEL]: 'true' },
    linux: { securityContext: { namespaceOptions } },
  });
  const user = opts.user;
  const containerConfig = ContainerConfig.fromPartial({
    metadata: { name, attempt: 0 },
    image: { image: opts.image, userSpecifiedImage: opts.image },
    command: opts.entrypoint === undefined ? [] : [opts.entrypoint],
    args: [...opts.command],
    workingDir: opts.workdir ?? '',
    stdin: opts.isInteractive,
    stdinOnce: opts.isInteractive,
    tty: opts.isTty,
    envs: opts.env.map((e) => ({ key: e.key, value: Buffer.from(e.value) })),
    mounts: opts.volumes.map((v) => ({ containerPath: v.containerPath, hostPath: v.hostPath, readonly: v.isReadOnly })),
    // The kubelet's layout: <pod log dir>/<container name>/<restart count>.log.
    logPath: `${name}/0.log`,
    linux: {
      securityContext: {
        // The kubelet repeats the pod's namespace modes on each container.
        namespaceOptions,
        ...(user?.uid === undefined ? {} : { runAsUser: { value: user.uid } }),
        ...(user?.gid === undefined ? {} : { runAsGroup: { value: user.gid } }),
        runAsUsername: user?.username ?? '',
      },
    },
  });
  return { podConfig, containerConfig };
}

/** The CRI Attach request of `run -i/-t`: with a terminal the container has no separate stderr. */
export function attachStdio(
  isInteractive: boolean,
  isTty: boolean,
): {
  readonly stdin: boolean;
  readonly tty: boolean;
  readonly stdout: boolean;
  readonly stderr: boolean;
} {
  return { stdin: isInteractive, tty: isTty, stdout: true, stderr: !isTty };
}

/** A shell's exit code for a process ended by `signal`: 128 + its number (130 for Ctrl-C, 143 for SIGTERM). */
export function exitCodeForSignal(signal: NodeJS.Signals): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 0);
}

/**
 * The exit code for a container that could not start, docker's way: 127 when the command does not exist,
 * 126 when it cannot be executed, 125 otherwise. Matched on the OCI runtime's error text ("exec: \"CMD\":
 * ..."), which runc and crun give for execve's ENOENT and EACCES, at create (runc >= 1.1 checks the command
 * then) or at start.
 */
export function exitCodeForStartFailure(message: string): number {
  if (/exec: .*(executable file not found|no such file or directory)/i.test(message)) return EXIT_NOT_FOUND;
  if (/exec: .*(permission denied|is a directory|exec format error)/i.test(message)) return EXIT_CANNOT_INVOKE;
  return EXIT_RUN_FAILED;
}
