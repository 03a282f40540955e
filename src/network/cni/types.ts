/**
 * The words of Berth's CNI layer, shared by its modules. Vocabulary (CNI spec 1.0):
 * - network config list (conflist): a named chain of plugins run in order on ADD, in reverse on DEL;
 * - plugin config: one element of `plugins`, handed to the plugin on stdin with the list's name and
 *   cniVersion, the previous plugin's result (prevResult) and a `runtimeConfig` built from its `capabilities`;
 * - result: what ADD returns (interfaces, ips, routes, dns), kept per pod so DEL and CHECK see what ADD did.
 */

/** A pod as the sandbox code hands it to CniManager. */
export interface CniPod {
  /** The sandbox id: 64 lowercase hex characters (also CNI_CONTAINERID and the cache file name). */
  readonly id: string;
  /** The pinned network namespace (a bind-mounted nsfs file). */
  readonly netnsPath: string;
  readonly podName: string;
  readonly podNamespace: string;
  readonly podUid: string;
  readonly portMappings?: readonly CniPortMapping[];
  readonly bandwidth?: CniBandwidth;
  readonly dns?: CniDns;
}

/** CRI PortMapping as CNI's portMappings capability spells it (protocol lower-case, as containerd sends it). */
export interface CniPortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  /** Empty or absent: every host address. */
  readonly hostIP?: string;
}

/** The bandwidth capability: rates in bits per second, bursts in bits (the bandwidth plugin's units). */
export interface CniBandwidth {
  readonly ingressRate?: number;
  readonly ingressBurst?: number;
  readonly egressRate?: number;
  readonly egressBurst?: number;
}

export interface CniDns {
  readonly servers?: readonly string[];
  readonly searches?: readonly string[];
  readonly options?: readonly string[];
}

/** One address the pod got, IPv4 first in a list. */
export interface PodIp {
  /** Without the prefix: "10.88.0.5" or "fd00::5". */
  readonly address: string;
  readonly prefix: number;
  readonly gateway?: string;
  readonly family: 4 | 6;
}

export interface PodInterface {
  readonly name: string;
  readonly mac?: string;
  /** The netns path for an interface inside the pod; absent for host-side ones (bridge, veth peer). */
  readonly sandbox?: string;
}

export interface PodDns {
  readonly nameservers: readonly string[];
  readonly domain?: string;
  readonly search: readonly string[];
  readonly options: readonly string[];
}

/** What setUp returns: the pod's addresses for PodSandboxStatus, its interfaces, and the DNS the plugins chose. */
export interface PodNetwork {
  readonly ips: readonly PodIp[];
  readonly interfaces: readonly PodInterface[];
  readonly dns: PodDns;
}

/** A JSON object as it came from disk or a plugin; typed only where Berth reads it. */
export type JsonObject = { [key: string]: unknown };
