/**
 * Berth's default pod network: the conflist berthd writes when the CNI conf_dir holds no config, and the
 * one `berth install` writes beforehand. It lives in config/ (not network/) because both the daemon and the
 * CLI build it, and the CLI may import only api/, config/ and base/.
 */
import { BerthError } from '../base/errors.js';
import { parseCidrList } from '../base/cidr.js';

/** A JSON document (a CNI conflist). */
export type CniJson = { [key: string]: unknown };

export const CNI_CONFIG_EXTENSIONS = Object.freeze(['.conflist', '.conf', '.json'] as const);

/** A CNI config file name (what makes a conf_dir not empty); dot files are editors' temporaries and never count. */
export function isCniConfigFile(name: string): boolean {
  return CNI_CONFIG_EXTENSIONS.some((ext) => name.endsWith(ext)) && !name.startsWith('.');
}

export const DEFAULT_CNI_CONFIG_FILE = '10-berth.conflist';
export const DEFAULT_CNI_NETWORK_NAME = 'berth';
export const DEFAULT_CNI_BRIDGE = 'berth0';
export const DEFAULT_CNI_SUBNET = '10.88.0.0/16';

/**
 * Shaped like containerd's packaged 10-containerd-net.conflist: a bridge that is the pods' gateway and
 * masquerades their traffic, host-local addresses, and portmap for hostPorts. Loopback is not in the list:
 * the daemon brings up `lo` itself for every pod, as containerd does. `subnets` is one CIDR or "v4,v6".
 */
export function defaultCniConfigList(subnets: string = DEFAULT_CNI_SUBNET): CniJson {
  const cidrs = parseCidrList(subnets);
  if (cidrs.length === 0) throw new BerthError('INVALID_ARGUMENT', 'default CNI subnet is empty');
  const isV6 = (cidr: string): boolean => cidr.includes(':');
  const routes = [
    ...(cidrs.some((c) => !isV6(c)) ? [{ dst: '0.0.0.0/0' }] : []),
    ...(cidrs.some(isV6) ? [{ dst: '::/0' }] : []),
  ];
  return {
    cniVersion: '1.0.0',
    name: DEFAULT_CNI_NETWORK_NAME,
    plugins: [
      {
        type: 'bridge',
        bridge: DEFAULT_CNI_BRIDGE,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: cidrs.map((subnet) => [{ subnet }]), routes },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/** The file's text: the list as indented JSON with a final newline. */
export function renderCniConfigList(list: CniJson): string {
  return `${JSON.stringify(list, null, 2)}\n`;
}
