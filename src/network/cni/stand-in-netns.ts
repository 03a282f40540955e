/**
 * A stand-in network namespace for DEL when the pod's own is gone (node crash, a manual umount). Passing
 * an empty CNI_NETNS is what the spec allows, but the bridge plugin then skips its ipMasq teardown because
 * it learns the pod's addresses from the interface inside the netns, leaking NAT rules per pod
 * (containernetworking/plugins#810, still open). So Berth pins a fresh netns holding an interface of the
 * same name (a veth pair inside it: the dummy module is not loaded everywhere) with the addresses recorded
 * at ADD, runs DEL against it, and removes it. If that cannot be built, DEL runs with an empty CNI_NETNS.
 */
import { rm, writeFile } from 'node:fs/promises';
import { BerthError } from '../../base/errors.js';
import { describeArgv, stderrTail, type Exec } from '../../base/exec.js';
import type { PodIp } from './types.js';

const UNSHARE = '/usr/bin/unshare';
const IP = '/usr/sbin/ip';
const UMOUNT = '/usr/bin/umount';
const TOOL_TIMEOUT_MS = 10_000;
const PEER_NAME = 'berth-standin';

export class StandInNetns {
  constructor(private readonly exec: Exec) {}

  /** Pins a netns at `path` with `ifName` (up) holding `ips`. */
  async create(path: string, ifName: string, ips: readonly PodIp[]): Promise<void> {
    await writeFile(path, '', { mode: 0o600 });
    // `ip -batch -` runs inside the new netns, so one child both creates and fills it.
    const script = [
      `link add ${ifName} type veth peer name ${PEER_NAME}`,
      ...ips.map((ip) => `addr add ${ip.address}/${ip.prefix} dev ${ifName}`),
      `link set ${ifName} up`,
      '',
    ].join('\n');
    const args = [`--net=${path}`, IP, '-batch', '-'];
    try {
      const res = await this.exec({ file: UNSHARE, args, stdin: script, timeoutMs: TOOL_TIMEOUT_MS });
      if (res.exitCode !== 0) {
        throw new BerthError('INTERNAL', `${describeArgv(UNSHARE, args)} failed: ${stderrTail(res.stderr, 500)}`);
      }
    } catch (err) {
      await this.remove(path);
      throw err;
    }
  }

  async remove(path: string): Promise<void> {
    // Fails harmlessly when nothing is mounted there.
    await this.exec({ file: UMOUNT, args: [path], timeoutMs: TOOL_TIMEOUT_MS }).catch(() => undefined);
    await rm(path, { force: true });
  }
}
