/** "HOST:PORT" listen addresses (`[metrics] address`): an IPv6 host is written in brackets ("[::1]:9090"). */
import { BerthError } from '../base/errors.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;
const MAX_PORT = 65535;

export function parseListenAddress(address: string): ListenAddress {
  const m = ADDRESS.exec(address);
  const port = Number(m?.[3]);
  if (m === null || port > MAX_PORT) {
    throw new BerthError('INVALID_ARGUMENT', `listen address "${address}" must be HOST:PORT like 127.0.0.1:9090`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/** The inverse of parseListenAddress. */
export function formatListenAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
