/**
 * The node's pod CIDRs as kubelet sets them through UpdateRuntimeConfig ("10.244.1.0/24" or a dual-stack
 * "10.244.1.0/24,fd00:1::/64"). Kept in the settings table so it survives a restart; the CNI default
 * config (issue #4) uses it for host-local ranges.
 */
import { parseCidrList } from '../base/cidr.js';

export interface SettingsStore {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

const POD_CIDR_KEY = 'network.pod_cidr';

/** "10.244.1.0/24,fd00:1::/64" as its CIDRs; INVALID_ARGUMENT naming a bad one. */
export const parsePodCidrs = parseCidrList;

export class PodCidrService {
  constructor(private readonly settings: SettingsStore) {}

  get(): string[] {
    const value = this.settings.get(POD_CIDR_KEY);
    return value === undefined ? [] : value.split(',');
  }

  /** An empty value keeps the current CIDRs, as containerd does. */
  update(value: string): void {
    const cidrs = parsePodCidrs(value);
    if (cidrs.length === 0) return;
    this.settings.set(POD_CIDR_KEY, cidrs.join(','));
  }
}
