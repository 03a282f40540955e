/**
 * A CNI bridge network of the benchmark's own, written into each daemon's CNI conf dir (StartOptions.cniConflist):
 * the real bridge, host-local and portmap plugins, a bridge name and a /24 subnet picked at random so benchmarks
 * (and tests) running beside each other do not share them. remove() deletes the bridge and host-local's leases,
 * which outlive the daemons.
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

const IP_BIN = '/usr/sbin/ip';
const HOST_LOCAL_LEASES_DIR = '/var/lib/cni/networks';

export interface BenchNetwork {
  /** The network's name in the conflist (and host-local's lease dir). */
  readonly name: string;
  /** The Linux bridge the bridge plugin creates. */
  readonly bridge: string;
  /** The conflist (JSON value) for StartOptions.cniConflist. */
  readonly conflist: unknown;
  /** Deletes the bridge and the leases; idempotent, never throws. */
  remove(): Promise<void>;
}

export function benchNetwork(): BenchNetwork {
  const suffix = randomInt(0x1000, 0xffff).toString(16);
  const name = `berth-bench-${suffix}`;
  const bridge = `bb${suffix}`;
  const subnet = `10.251.${randomInt(0, 256)}.0/24`;
  return {
    name,
    bridge,
    conflist: {
      cniVersion: '1.0.0',
      name,
      plugins: [
        {
          type: 'bridge',
          bridge,
          isGateway: true,
          ipMasq: true,
          ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }] },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    async remove(): Promise<void> {
      spawnSync(IP_BIN, ['link', 'del', bridge], { stdio: 'ignore' });
      await rm(join(HOST_LOCAL_LEASES_DIR, name), { recursive: true, force: true });
    },
  };
}
