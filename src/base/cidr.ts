/**
 * Lists of CIDRs as the kubelet and CNI configs write them ("10.244.1.0/24" or a dual-stack
 * "10.244.1.0/24,fd00:1::/64"). Shared by the pod CIDR setting and the default CNI conflist, which the
 * daemon and `berth install` both build.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { BerthError } from './errors.js';

/** The CIDRs of a comma-separated list, trimmed; throws INVALID_ARGUMENT naming the first bad one. */
export function parseCidrList(value: string): string[] {
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
