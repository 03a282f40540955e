/**
 * The CRI PodSandboxConfig checked and reduced to what Berth acts on. Everything a user (or kubelet) can get
 * wrong is refused here with INVALID_ARGUMENT before anything is created, so a bad request never leaves a
 * namespace, mount or IP behind.
 */
import { isIP } from 'node:net';
import { NamespaceMode, Protocol } from '../api/gen/cri.js';
import type { PodSandboxConfig } from '../api/gen/cri.js';
import { BerthError } from '../base/errors.js';

export type PidMode = 'pod' | 'container' | 'node';
export type CgroupDriver = 'cgroupfs' | 'systemd';

export interface PortMappingSpec {
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly containerPort: number;
  readonly hostPort: number;
  readonly hostIp: string;
}

export interface DnsSpec {
  readonly servers: readonly string[];
  readonly searches: readonly string[];
  readonly options: readonly string[];
}

export interface SandboxSpec {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly attempt: number;
  /** <name>_<namespace>_<uid>_<attempt>, reserved while the sandbox exists. */
  readonly reservedName: string;
  /** '' means the node's hostname (containerd does the same). */
  readonly hostname: string;
  readonly logDirectory: string;
  readonly dns: DnsSpec | undefined;
  readonly portMappings: readonly PortMappingSpec[];
  readonly hostNetwork: boolean;
  readonly hostIpc: boolean;
  readonly pidMode: PidMode;
  readonly cgroupParent: string;
  readonly sysctls: Readonly<Record<string, string>>;
  readonly runtimeHandler: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface SpecContext {
  readonly defaultRuntime: string;
  readonly runtimes: readonly string[];
  readonly cgroupDriver: CgroupDriver;
}

const MAX_NAME = 253;
const MAX_HOSTNAME = 64;
const MAX_SYSCTL_VALUE = 4096;
// Printable, no whitespace, no path separators: these end up in names, files and kernel calls.
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const SYSCTL_NAME = /^[a-z0-9_-]+([./][a-z0-9_-]+)+$/;
const IPC_SYSCTLS = new Set([
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
]);

function invalid(message: string): BerthError {
  return new BerthError('INVALID_ARGUMENT', message);
}

function checkName(value: string, what: string): string {
  if (value === '') throw invalid(`pod sandbox ${what} is required`);
  if (value.length > MAX_NAME || !SAFE_NAME.test(value)) {
    throw invalid(`pod sandbox ${what} "${value}" must be 1-${MAX_NAME} letters, digits, ".", "_" or "-"`);
  }
  return value;
}

/** Kubelet writes sysctl names with "/" or "."; the kernel path uses "/". Returns the dotted form. */
export function normalizeSysctlName(name: string): string {
  return name.replaceAll('/', '.');
}

/**
 * Only sysctls that are namespaced, in a namespace the pod owns: net.* with a pod network, the IPC ones with
 * a pod IPC namespace, kernel.hostname/domainname with a pod UTS namespace. Values are single-line: a newline
 * or NUL could smuggle a second setting (CVE-2022-0811).
 */
export function checkSysctls(
  sysctls: Readonly<Record<string, string>>,
  hostNetwork: boolean,
  hostIpc: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [rawName, value] of Object.entries(sysctls)) {
    const name = normalizeSysctlName(rawName);
    if (!SYSCTL_NAME.test(name) || name.split('.').includes('..')) throw invalid(`sysctl name "${rawName}" is invalid`);
    if (/[\n\r\0]/.test(value) || value.length > MAX_SYSCTL_VALUE) {
      throw invalid(`sysctl ${name}: value must be one line of at most ${MAX_SYSCTL_VALUE} characters`);
    }
    const isNet = name.startsWith('net.');
    const isIpc = IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.');
    const isUts = name === 'kernel.hostname' || name === 'kernel.domainname';
    if (!isNet && !isIpc && !isUts) throw invalid(`sysctl ${name} is not namespaced: a pod cannot set it`);
    if (isNet && hostNetwork) throw invalid(`sysctl ${name} needs the pod's own network namespace (hostNetwork)`);
    if (isUts && hostNetwork) throw invalid(`sysctl ${name} needs the pod's own UTS namespace (hostNetwork)`);
    if (isIpc && hostIpc) throw invalid(`sysctl ${name} needs the pod's own IPC namespace (hostIPC)`);
    out[name] = value;
  }
  return out;
}

/** cgroupfs: an absolute path without ".."; systemd: a slice name like kubepods-besteffort-pod123.slice. */
export function checkCgroupParent(parent: string, driver: CgroupDriver): string {
  if (parent === '') return '';
  if (driver === 'systemd') {
    if (!/^[A-Za-z0-9:_.\\-]+\.slice$/.test(parent)) {
      throw invalid(
        `cgroup_parent "${parent}" must be a systemd slice name ending in ".slice" (cgroup_driver systemd)`,
      );
    }
    return parent;
  }
  if (!parent.startsWith('/') || parent.split('/').some((p) => p === '..' || p === '.') || /[\n\0]/.test(parent)) {
    throw invalid(
      `cgroup_parent "${parent}" must be an absolute cgroup path without "." or ".." (cgroup_driver cgroupfs)`,
    );
  }
  return parent;
}

function checkDns(config: PodSandboxConfig): DnsSpec | undefined {
  const dns = config.dnsConfig;
  if (dns === undefined) return undefined;
  for (const server of dns.servers)
    if (isIP(server) === 0) throw invalid(`DNS server "${server}" is not an IP address`);
  for (const word of [...dns.searches, ...dns.options]) {
    if (word === '' || /\s/.test(word)) throw invalid(`DNS search or option "${word}" must be one word`);
  }
  return { servers: [...dns.servers], searches: [...dns.searches], options: [...dns.options] };
}

function checkPorts(config: PodSandboxConfig): PortMappingSpec[] {
  const out: PortMappingSpec[] = [];
  for (const pm of config.portMappings) {
    const inRange = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
    if (!inRange(pm.containerPort) || !inRange(pm.hostPort)) {
      throw invalid(`port mapping ${pm.hostPort}:${pm.containerPort}: ports must be 0-65535`);
    }
    if (pm.hostIp !== '' && isIP(pm.hostIp) === 0) throw invalid(`port mapping host IP "${pm.hostIp}" is invalid`);
    if (pm.hostPort === 0) continue; // no host port: nothing to map (kubelet sends these for declared ports)
    const protocol = pm.protocol === Protocol.UDP ? 'udp' : pm.protocol === Protocol.SCTP ? 'sctp' : 'tcp';
    out.push({ protocol, containerPort: pm.containerPort, hostPort: pm.hostPort, hostIp: pm.hostIp });
  }
  return out;
}

export function sandboxSpecOf(config: PodSandboxConfig, runtimeHandler: string, ctx: SpecContext): SandboxSpec {
  const md = config.metadata;
  if (md === undefined) throw invalid('pod sandbox config needs metadata (name, uid, namespace)');
  const name = checkName(md.name, 'name');
  const namespace = checkName(md.namespace, 'namespace');
  const uid = checkName(md.uid, 'uid');
  const handler = runtimeHandler === '' ? ctx.defaultRuntime : runtimeHandler;
  if (!ctx.runtimes.includes(handler)) {
    throw invalid(`runtime handler "${handler}" is not configured (known: ${ctx.runtimes.join(', ')})`);
  }
  const nsOptions = config.linux?.securityContext?.namespaceOptions;
  const hostNetwork = nsOptions?.network === NamespaceMode.NODE;
  const hostIpc = nsOptions?.ipc === NamespaceMode.NODE;
  const pid = nsOptions?.pid ?? NamespaceMode.CONTAINER;
  const pidMode: PidMode = pid === NamespaceMode.NODE ? 'node' : pid === NamespaceMode.POD ? 'pod' : 'container';
  if (config.hostname !== '' && (config.hostname.length > MAX_HOSTNAME || !HOSTNAME.test(config.hostname))) {
    throw invalid(`hostname "${config.hostname}" must be a DNS name of at most ${MAX_HOSTNAME} characters`);
  }
  if (config.logDirectory !== '' && (!config.logDirectory.startsWith('/') || config.logDirectory.includes('\0'))) {
    throw invalid(`log directory "${config.logDirectory}" must be an absolute path`);
  }
  return {
    name,
    namespace,
    uid,
    attempt: md.attempt,
    reservedName: `${name}_${namespace}_${uid}_${md.attempt}`,
    hostname: config.hostname,
    logDirectory: config.logDirectory,
    dns: checkDns(config),
    portMappings: checkPorts(config),
    hostNetwork,
    hostIpc,
    pidMode,
    cgroupParent: checkCgroupParent(config.linux?.cgroupParent ?? '', ctx.cgroupDriver),
    sysctls: checkSysctls(config.linux?.sysctls ?? {}, hostNetwork, hostIpc),
    runtimeHandler: handler,
    labels: { ...config.labels },
    annotations: { ...config.annotations },
  };
}
