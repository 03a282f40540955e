/** What the sandbox needs from pod networking (CNI, in src/network), as a narrow interface. */
import type { DnsSpec, PortMappingSpec } from './sandbox-spec.js';

export interface Bandwidth {
  /** bits per second */
  readonly ingressRate?: number;
  readonly ingressBurst?: number;
  readonly egressRate?: number;
  readonly egressBurst?: number;
}

export interface PodNetworkRequest {
  readonly id: string;
  readonly netnsPath: string;
  readonly podName: string;
  readonly podNamespace: string;
  readonly podUid: string;
  readonly portMappings: readonly PortMappingSpec[];
  readonly dns: DnsSpec | undefined;
  readonly bandwidth: Bandwidth | undefined;
}

export interface PodNetwork {
  /** CNI ADD; returns the pod's IPs, IPv4 first. */
  setUp(req: PodNetworkRequest): Promise<{ readonly ips: readonly string[] }>;
  /** CNI DEL; idempotent, also when the netns is gone or nothing was set up. */
  tearDown(req: PodNetworkRequest): Promise<void>;
}

const QUANTITY = /^(\d+(?:\.\d+)?)(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const FACTORS: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
/** The CNI bandwidth plugin's burst when none is given, as kubelet's dockershim and containerd use. */
const DEFAULT_BURST = 2 ** 31 - 1;

/** A Kubernetes quantity like "10M" or "1Gi" in bits per second; undefined when malformed. */
export function parseBitRate(value: string): number | undefined {
  const m = QUANTITY.exec(value.trim());
  if (m === null) return undefined;
  const n = Number(m[1]) * (FACTORS[m[2] ?? ''] ?? 1);
  return Number.isFinite(n) && n > 0 ? Math.round(n) : undefined;
}

/** kubernetes.io/ingress-bandwidth and egress-bandwidth annotations, as containerd reads them. */
export function bandwidthOf(annotations: Readonly<Record<string, string>>): Bandwidth | undefined {
  const ingress = annotations['kubernetes.io/ingress-bandwidth'];
  const egress = annotations['kubernetes.io/egress-bandwidth'];
  const ingressRate = ingress === undefined ? undefined : parseBitRate(ingress);
  const egressRate = egress === undefined ? undefined : parseBitRate(egress);
  if (ingressRate === undefined && egressRate === undefined) return undefined;
  return {
    ...(ingressRate === undefined ? {} : { ingressRate, ingressBurst: DEFAULT_BURST }),
    ...(egressRate === undefined ? {} : { egressRate, egressBurst: DEFAULT_BURST }),
  };
}
