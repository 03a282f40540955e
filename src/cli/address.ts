/** The daemon address as users write it (crictl style) and as grpc-js wants it. */
import { CliError } from './errors.js';

export const DEFAULT_ADDRESS = 'unix:///run/berth/berth.sock';

/** "unix:///run/berth/berth.sock", "unix:/x" or "/x" -> the socket's absolute path. */
export function socketPathOf(address: string): string {
  const path = address.startsWith('unix://') ? address.slice('unix://'.length) : address.replace(/^unix:/, '');
  if (!path.startsWith('/')) {
    throw new CliError(`address "${address}" must be a unix socket: unix:///path/to/berth.sock or /path/to/berth.sock`);
  }
  return path;
}
