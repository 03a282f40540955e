/** The global options every command receives. */
import type { Command } from 'commander';
import type { OutputFormat } from './output.js';
import { Clients } from './client.js';

export interface GlobalOptions {
  readonly address: string;
  /** Seconds. */
  readonly timeout: number;
  readonly namespace: string;
  readonly debug: boolean;
  readonly output: OutputFormat;
}

export function globalOptions(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/** Runs fn with connected clients and closes them afterwards. CRI calls always use the k8s.io namespace. */
export async function withClients<T>(
  cmd: Command,
  fn: (clients: Clients, opts: GlobalOptions) => Promise<T>,
): Promise<T> {
  const opts = globalOptions(cmd);
  const clients = new Clients(opts.address, opts.timeout * 1000, opts.namespace);
  try {
    return await fn(clients, opts);
  } finally {
    clients.close();
  }
}
