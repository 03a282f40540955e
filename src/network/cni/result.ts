/**
 * Parsing what plugins print: ADD results in the 1.0.0 and 0.3.x/0.4.0 formats (and the 0.1/0.2 ip4/ip6
 * shape old plugins still print), and the error object of a failed run (spec 1.0 "Error"). Results are
 * boundary data: parsed with zod, never trusted.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { BerthError, type ErrorCode } from '../../base/errors.js';
import type { JsonObject, PodDns, PodInterface, PodIp, PodNetwork } from './types.js';

const DnsSchema = z.looseObject({
  nameservers: z.array(z.string()).optional(),
  domain: z.string().optional(),
  search: z.array(z.string()).optional(),
  options: z.array(z.string()).optional(),
});

const InterfaceSchema = z.looseObject({
  name: z.string(),
  mac: z.string().optional(),
  sandbox: z.string().optional(),
});

const IpConfigSchema = z.looseObject({
  /** Only in 0.3.x/0.4.0 results: "4" or "6". */
  version: z.enum(['4', '6']).optional(),
  address: z.string(),
  gateway: z.string().optional(),
  interface: z.int().min(0).optional(),
});

/** 0.3.0 and later (including 1.0.0). */
const CurrentResultSchema = z.looseObject({
  cniVersion: z.string().optional(),
  interfaces: z.array(InterfaceSchema).optional(),
  ips: z.array(IpConfigSchema).optional(),
  dns: DnsSchema.optional(),
});

const LegacyIpSchema = z.looseObject({ ip: z.string(), gateway: z.string().optional() });
/** 0.1.0 and 0.2.0. */
const LegacyResultSchema = z.looseObject({
  cniVersion: z.string().optional(),
  ip4: LegacyIpSchema.optional(),
  ip6: LegacyIpSchema.optional(),
  dns: DnsSchema.optional(),
});

const ErrorSchema = z.looseObject({
  cniVersion: z.string().optional(),
  code: z.int(),
  msg: z.string(),
  details: z.string().optional(),
});

export interface ParsedResult {
  /** The result as the plugin printed it: the next plugin's prevResult and what the cache keeps. */
  readonly raw: JsonObject;
  readonly network: PodNetwork;
}

function splitCidr(cidr: string): { address: string; prefix: number; family: 4 | 6 } | undefined {
  const slash = cidr.lastIndexOf('/');
  if (slash < 0) return undefined;
  const address = cidr.slice(0, slash);
  const bits = cidr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = Number(bits);
  if (isIPv4(address) && prefix <= 32) return { address, prefix, family: 4 };
  if (isIPv6(address) && prefix <= 128) return { address, prefix, family: 6 };
  return undefined;
}

function toIp(cidr: string, gateway: string | undefined, source: string): PodIp {
  const parsed = splitCidr(cidr);
  if (parsed === undefined) throw new BerthError('INTERNAL', `${source} returned an invalid address "${cidr}"`);
  return { ...parsed, ...(gateway !== undefined && gateway !== '' ? { gateway } : {}) };
}

function toDns(dns: z.infer<typeof DnsSchema> | undefined): PodDns {
  return {
    nameservers: dns?.nameservers ?? [],
    ...(dns?.domain !== undefined && dns.domain !== '' ? { domain: dns.domain } : {}),
    search: dns?.search ?? [],
    options: dns?.options ?? [],
  };
}

/** IPv4 first (PodSandboxStatus's primary IP is the first), otherwise in the plugin's order. */
function ipv4First(ips: PodIp[]): PodIp[] {
  return [...ips.filter((ip) => ip.family === 4), ...ips.filter((ip) => ip.family === 6)];
}

/**
 * Parses an ADD result. `source` names the plugin for messages. Addresses on host-side interfaces (an
 * `interface` index pointing at one without `sandbox`) are not the pod's and are left out, as go-cni does.
 */
export function parseCniResult(value: unknown, source: string): ParsedResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BerthError('INTERNAL', `${source} returned a result that is not a JSON object`);
  }
  const raw = value as JsonObject;
  if ('ip4' in raw || 'ip6' in raw) {
    const legacy = LegacyResultSchema.safeParse(raw);
    if (!legacy.success)
      throw new BerthError('INTERNAL', `${source} returned an invalid result: ${legacy.error.message}`);
    const ips = [legacy.data.ip4, legacy.data.ip6]
      .filter((ip) => ip !== undefined)
      .map((ip) => toIp(ip.ip, ip.gateway, source));
    return { raw, network: { ips: ipv4First(ips), interfaces: [], dns: toDns(legacy.data.dns) } };
  }
  const current = CurrentResultSchema.safeParse(raw);
  if (!current.success)
    throw new BerthError('INTERNAL', `${source} returned an invalid result: ${current.error.message}`);
  const interfaces: PodInterface[] = (current.data.interfaces ?? []).map((i) => ({
    name: i.name,
    ...(i.mac !== undefined && i.mac !== '' ? { mac: i.mac } : {}),
    ...(i.sandbox !== undefined && i.sandbox !== '' ? { sandbox: i.sandbox } : {}),
  }));
  const ips = (current.data.ips ?? [])
    .filter((ip) => {
      if (ip.interface === undefined) return true;
      const owner = interfaces[ip.interface];
      return owner === undefined || owner.sandbox !== undefined;
    })
    .map((ip) => toIp(ip.address, ip.gateway, source));
  return { raw, network: { ips: ipv4First(ips), interfaces, dns: toDns(current.data.dns) } };
}

export interface CniErrorObject {
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

/** The error object a failed plugin printed on stdout, or undefined when it printed something else. */
export function parseCniError(stdout: string): CniErrorObject | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    return undefined;
  }
  const parsed = ErrorSchema.safeParse(doc);
  if (!parsed.success) return undefined;
  return {
    code: parsed.data.code,
    msg: parsed.data.msg,
    ...(parsed.data.details !== undefined && parsed.data.details !== '' ? { details: parsed.data.details } : {}),
  };
}

/**
 * Spec 1.0 well-known error codes to Berth codes. The operator can fix 1 and 7 (config and plugin
 * versions), 11 asks to retry; 2, 4 and 6 mean Berth sent something wrong. Plugin-specific codes (100+)
 * and the rest are UNKNOWN: only the plugin knows what they mean.
 */
const CNI_ERROR_CODES: ReadonlyMap<number, ErrorCode> = new Map<number, ErrorCode>([
  [1, 'FAILED_PRECONDITION'], // incompatible CNI version
  [2, 'INTERNAL'], // unsupported field in network configuration
  [3, 'NOT_FOUND'], // container unknown or does not exist
  [4, 'INTERNAL'], // invalid necessary environment variables
  [5, 'UNKNOWN'], // I/O failure
  [6, 'INTERNAL'], // failed to decode content
  [7, 'FAILED_PRECONDITION'], // invalid network configuration
  [11, 'UNAVAILABLE'], // try again later
]);

export function berthCodeOfCniError(code: number): ErrorCode {
  return CNI_ERROR_CODES.get(code) ?? 'UNKNOWN';
}

/** A failure the operator can fix on the node, recognised from a plugin's message. */
export interface CniFailureHint {
  readonly code: ErrorCode;
  readonly hint: string;
}

// The bridge plugin's words when its bridge already carries a gateway address from another subnet (a bridge
// left by an earlier config, e.g. after default_subnet changed): every pod ADD fails until the node is fixed.
const STALE_BRIDGE_ADDRESS = /"([^"]+)" already has an IP address different from (\S+)/;

export function hintOfCniFailure(message: string): CniFailureHint | undefined {
  const stale = STALE_BRIDGE_ADDRESS.exec(message);
  if (stale !== null) {
    const [, bridge, wanted] = stale;
    return {
      code: 'FAILED_PRECONDITION',
      hint:
        `bridge ${bridge} keeps an address from another subnet than ${wanted} (left by an earlier network config?): ` +
        `once no pod uses it, remove it with "ip link del ${bridge}", or make the network config's subnet match`,
    };
  }
  return undefined;
}
