/**
 * The files every container of a pod sees at /etc/hostname, /etc/hosts and /etc/resolv.conf: written once per
 * sandbox (after CNI, so /etc/hosts names the pod IP) and bind-mounted into containers.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../base/fs.js';
import type { DnsSpec } from './sandbox-spec.js';

export const HOSTS_BASE = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
].join('\n');

export function renderHosts(hostname: string, ips: readonly string[]): string {
  return `${HOSTS_BASE}\n${ips.map((ip) => `${ip}\t${hostname}\n`).join('')}`;
}

export function renderResolvConf(dns: DnsSpec): string {
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(' ')}`);
  for (const server of dns.servers) lines.push(`nameserver ${server}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(' ')}`);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

export interface PodFiles {
  readonly hostname: string;
  readonly hosts: string;
  readonly resolvConf: string;
}

export function podFilePaths(dir: string): PodFiles {
  return { hostname: join(dir, 'hostname'), hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf') };
}

/**
 * Writes the three files into dir. Without a DNSConfig the pod gets the node's resolv.conf, and a host-network
 * pod the node's /etc/hosts, as containerd does.
 */
export async function writePodFiles(
  dir: string,
  opts: {
    readonly hostname: string;
    readonly ips: readonly string[];
    readonly dns: DnsSpec | undefined;
    readonly hostNetwork: boolean;
    readonly hostEtc?: string;
  },
): Promise<PodFiles> {
  const paths = podFilePaths(dir);
  const hostEtc = opts.hostEtc ?? '/etc';
  const nodeFile = (name: string): Promise<string> => readFile(join(hostEtc, name), 'utf8').catch(() => '');
  const hosts = opts.hostNetwork ? await nodeFile('hosts') : renderHosts(opts.hostname, opts.ips);
  const resolv = opts.dns === undefined ? await nodeFile('resolv.conf') : renderResolvConf(opts.dns);
  await writeFileAtomic(paths.hostname, `${opts.hostname}\n`, 0o644);
  await writeFileAtomic(paths.hosts, hosts, 0o644);
  await writeFileAtomic(paths.resolvConf, resolv, 0o644);
  return paths;
}
