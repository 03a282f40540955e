/**
 * A CNI network of its own for each test berthd: a bridge `bt<hex>` and a /24 in 10.200-249.x.0 (never the
 * default 10.88.0.0/16), so test daemons running at once never share a bridge, a subnet or host-local's lease
 * dir. cleanup() deletes the bridge and the lease dir; portmap and bridge ipMasq rules are removed by CNI DEL.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TestNetwork {
  readonly name: string;
  readonly bridge: string;
  readonly subnet: string;
  /** host-local's lease dir for this network. */
  readonly leaseDir: string;
  cleanup(): Promise<void>;
}

export const HOST_LOCAL_DIR = '/var/lib/cni/networks';

export async function writeTestNetwork(confDir: string): Promise<TestNetwork> {
  const hex = randomBytes(4).toString('hex');
  const name = `berth-test-${hex}`;
  const bridge = `bt${hex}`;
  const subnet = `10.${randomInt(200, 250)}.${randomInt(0, 256)}.0/24`;
  const conflist = {
    cniVersion: '1.0.0',
    name,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  await writeFile(join(confDir, '10-berth-test.conflist'), JSON.stringify(conflist, null, 2));
  const leaseDir = join(HOST_LOCAL_DIR, name);
  return {
    name,
    bridge,
    subnet,
    leaseDir,
    cleanup: async () => {
      spawnSync('/usr/sbin/ip', ['link', 'del', bridge], { stdio: 'ignore' });
      await rm(leaseDir, { recursive: true, force: true });
    },
  };
}

/** Mount points at or below dir, deepest first. */
export function mountsBelow(dir: string, mountinfo: string): string[] {
  const unescape = (s: string): string =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return mountinfo
    .split('\n')
    .map((l) => unescape(l.split(' ')[4] ?? ''))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}
