/**
 * TCP connections inside a pod's network namespace, for port-forward. Node cannot switch a thread's network
 * namespace, so the connection is made by a small helper started in it: `nsenter --net=<pinned netns> socat`
 * connects to localhost:PORT and relays it over its stdio, which becomes the Duplex handed back. socat's notice
 * "starting data transfer loop" tells that the connection stands; an exit before it carries the error.
 * localhost is tried as IPv4 first, then IPv6 (kubelet's order). A host-network pod dials from the host.
 */
import { Duplex } from 'node:stream';
import { BerthError } from '../base/errors.js';
import type { SpawnInteractive } from '../base/interactive-process.js';

export interface PodDialerOptions {
  readonly spawnInteractive: SpawnInteractive;
  readonly nsenterPath?: string;
  readonly socatPath?: string;
}

const CONNECTED = /starting data transfer loop/;
const MAX_STDERR_CHARS = 4096;

export class PodDialer {
  constructor(private readonly opts: PodDialerOptions) {}

  /** netnsPath undefined: the host's network (host-network pods). */
  async dial(netnsPath: string | undefined, port: number): Promise<Duplex> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new BerthError('INVALID_ARGUMENT', `invalid port ${port}`);
    }
    try {
      return await this.dialAddress(netnsPath, `TCP4:127.0.0.1:${port}`);
    } catch (v4) {
      try {
        return await this.dialAddress(netnsPath, `TCP6:[::1]:${port}`);
      } catch {
        throw v4;
      }
    }
  }

  private dialAddress(netnsPath: string | undefined, address: string): Promise<Duplex> {
    const socat = this.opts.socatPath ?? '/usr/bin/socat';
    // -d -d: notices on stderr, among them the one that says the connection is up.
    const socatArgs = ['-d', '-d', '-', `${address},nodelay`];
    const proc = this.opts.spawnInteractive(
      netnsPath === undefined
        ? { file: socat, args: socatArgs, tty: false }
        : {
            file: this.opts.nsenterPath ?? '/usr/bin/nsenter',
            args: [`--net=${netnsPath}`, socat, ...socatArgs],
            tty: false,
          },
    );
    return new Promise<Duplex>((resolve, reject) => {
      let stderr = '';
      let connected = false;
      proc.stderr?.on('data', (chunk: Buffer) => {
        if (stderr.length < MAX_STDERR_CHARS) stderr += chunk.toString('utf8');
        if (!connected && CONNECTED.test(stderr)) {
          connected = true;
          resolve(connectionOf(proc.stdin, proc.stdout, () => proc.kill('SIGTERM')));
        }
      });
      proc.exited.then(
        () => {
          if (!connected) reject(new BerthError('UNAVAILABLE', `connect to ${address}: ${socatError(stderr)}`));
        },
        (err: unknown) => {
          if (!connected) reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}

/** The last error line socat printed ("E connect(5, AF=2 127.0.0.1:81, 16): Connection refused"). */
function socatError(stderr: string): string {
  const errors = stderr.split('\n').filter((l) => / E /.test(l));
  const last = errors[errors.length - 1] ?? stderr.trim().split('\n').pop() ?? 'socat failed';
  return last.replace(/^.* E /, '');
}

/** One Duplex over the helper's stdin (to the connection) and stdout (from it). */
function connectionOf(input: NodeJS.WritableStream, output: NodeJS.ReadableStream, stop: () => void): Duplex {
  const conn = Duplex.from({ writable: input as never, readable: output as never });
  conn.once('close', stop);
  return conn;
}
