/**
 * The node's pod CIDRs as kubelet sets them through UpdateRuntimeConfig ("10.244.1.0/24" or a dual-stack
 * "10.244.1.0/24,fd00:1::/64"). Kept in the settings table so it survives a restart; the CNI default
 * config (issue #4) uses it for host-local ranges.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { BerthError } from '../base/errors.js';

export interface SettingsStore {
  get(key: string): string | undefined;
  set(key: string, value: string): void;
}

const POD_CIDR_KEY = 'network.pod_cidr';

export function parsePodCidrs(value: string): string[] {
  const cidrs = value
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '');
  for (const cidr of cidrs) {
    const [ip, bits, ...rest] = cidr.split('/');
    const maxBits = ip !== undefined && isIPv4(ip) ? 32 : ip !== undefined && isIPv6(ip) ? 128 : -1;
    const prefix = Number(bits);
    if (rest.length > 0 || maxBits < 0 || bits === undefined || !/^\d+$/.test(bits) || prefix > maxBits) {
      throw new BerthError('INVALID_ARGUMENT', `pod CIDR "${cidr}" is not a valid IPv4 or IPv6 CIDR`);
    }
  }
  return cidrs;
}

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
