/**
 * berth exec / attach / port-forward: the interactive commands, through the stream server (Exec, Attach and
 * PortForward hand out a URL; the session runs over WebSocket). `exec --sync` uses ExecSync instead, like
 * crictl's --sync.
 */
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import type { Command } from 'commander';
import type { Clients } from '../client.js';
import { withClients } from '../context.js';
import { CliError } from '../errors.js';
import { forwardConnection, runCommandSession } from '../stream-client.js';
import { withTerminal } from '../terminal.js';

interface StdioOptions {
  readonly interactive: boolean;
  readonly tty: boolean;
}

async function execStreaming(clients: Clients, id: string, command: string[], opts: StdioOptions): Promise<number> {
  const { url } = await clients.call(clients.runtime.exec.bind(clients.runtime), {
    containerId: id,
    cmd: command,
    tty: opts.tty,
    stdin: opts.interactive,
    stdout: true,
    stderr: !opts.tty,
  });
  return withTerminal({ isInteractive: opts.interactive, isTty: opts.tty }, (streams) =>
    runCommandSession(url, streams),
  );
}

async function execSync(clients: Clients, id: string, command: string[], timeout: number): Promise<number> {
  const res = await clients.callWithDeadline(
    clients.runtime.execSync.bind(clients.runtime),
    { containerId: id, cmd: command, timeout: BigInt(timeout) },
    timeout > 0 ? (timeout + 10) * 1000 : undefined,
  );
  process.stdout.write(res.stdout);
  process.stderr.write(res.stderr);
  return res.exitCode;
}

/** "8080:80" or "80" (same local port). */
export function parsePortSpec(spec: string): { readonly local: number; readonly remote: number } {
  const m = /^(?:(\d{1,5}):)?(\d{1,5})$/.exec(spec);
  const remote = Number(m?.[2]);
  const local = m?.[1] === undefined ? remote : Number(m[1]);
  const valid = (p: number): boolean => Number.isInteger(p) && p >= 0 && p <= 65535;
  if (m === null || !valid(local) || !valid(remote) || remote === 0) {
    throw new CliError(`invalid port "${spec}": use [LOCAL:]REMOTE, e.g. 8080:80`);
  }
  return { local, remote };
}

export function registerStreams(program: Command): void {
  program
    .command('exec <container-id> <command...>')
    .description('Run a command in a running container, streaming its output and passing its exit code through')
    .option('-i, --interactive', 'send stdin to the command', false)
    .option('-t, --tty', 'allocate a terminal (raw mode locally, window size follows)', false)
    .option('-s, --sync', 'run through ExecSync (output returned at the end, capped at 16 MiB)', false)
    .option('--timeout <seconds>', 'with --sync: kill the command after this long (0: no limit)', '0')
    // Options after the container id belong to the command (`berth exec ID sh -c '...'`).
    .passThroughOptions()
    .addHelpText(
      'after',
      '\nExamples:\n  berth exec 4d5e6f -- cat /etc/hostname\n  berth exec -it 4d5e6f sh\n' +
        '  tar c dir | berth exec -i 4d5e6f -- tar x -C /tmp\n',
    )
    .action(
      async (
        idOrPrefix: string,
        args: string[],
        opts: { interactive: boolean; tty: boolean; sync: boolean; timeout: string },
        cmd: Command,
      ) => {
        // With pass-through options commander keeps a `--` that follows the id: it only separates.
        const command = args[0] === '--' ? args.slice(1) : args;
        if (command.length === 0) throw new CliError('exec needs a command');
        const timeout = Number(opts.timeout);
        if (!Number.isInteger(timeout) || timeout < 0) throw new CliError('--timeout must be whole seconds >= 0');
        if (opts.sync && (opts.interactive || opts.tty)) throw new CliError('--sync cannot be used with -i or -t');
        await withClients(cmd, async (clients) => {
          process.exitCode = opts.sync
            ? await execSync(clients, idOrPrefix, command, timeout)
            : await execStreaming(clients, idOrPrefix, command, opts);
        });
      },
    );

  program
    .command('attach <container-id>')
    .description("Attach to a running container's main process (Ctrl-C or closing stdin detaches)")
    .option('-i, --interactive', 'send stdin to the container (it must be created with stdin)', false)
    .option('-t, --tty', 'the container has a terminal (must match its config)', false)
    .addHelpText('after', '\nExample:\n  berth attach -it 4d5e6f\n')
    .action(async (idOrPrefix: string, opts: StdioOptions, cmd: Command) => {
      await withClients(cmd, async (clients) => {
        const { url } = await clients.call(clients.runtime.attach.bind(clients.runtime), {
          containerId: idOrPrefix,
          stdin: opts.interactive,
          tty: opts.tty,
          stdout: true,
          stderr: !opts.tty,
        });
        process.exitCode = await withTerminal({ isInteractive: opts.interactive, isTty: opts.tty }, (streams) =>
          runCommandSession(url, streams),
        );
      });
    });

  program
    .command('port-forward <pod-id> <ports...>')
    .description('Forward local ports (on 127.0.0.1) to ports inside a pod, until Ctrl-C')
    .addHelpText('after', '\nExample:\n  berth port-forward 1a2b3c 8080:80\n')
    .action(async (podId: string, specs: string[], _opts: object, cmd: Command) => {
      const ports = specs.map(parsePortSpec);
      await withClients(cmd, async (clients) => {
        const pod = await clients.call(clients.runtime.podSandboxStatus.bind(clients.runtime), {
          podSandboxId: podId,
          verbose: false,
        });
        const fullId = pod.status?.id ?? podId;
        const servers = await Promise.all(
          ports.map(
            ({ local, remote }) =>
              new Promise<Server>((resolve, reject) => {
                const server = createServer({ pauseOnConnect: true }, (conn) => {
                  // One PortForward call per connection: each stream URL is single-use.
                  clients
                    .call(clients.runtime.portForward.bind(clients.runtime), { podSandboxId: fullId, port: [remote] })
                    .then(({ url }) => forwardConnection(url, remote, conn))
                    .catch((err: unknown) => {
                      process.stderr.write(`port-forward: ${err instanceof Error ? err.message : String(err)}\n`);
                      conn.destroy();
                    });
                });
                server.once('error', (err) => reject(new CliError(`listen on 127.0.0.1:${local}: ${err.message}`)));
                server.listen(local, '127.0.0.1', () => {
                  const address = server.address();
                  const port = typeof address === 'object' && address !== null ? address.port : local;
                  process.stdout.write(`Forwarding from 127.0.0.1:${port} -> ${remote}\n`);
                  resolve(server);
                });
              }),
          ),
        );
        await new Promise<void>((resolve) => {
          const stop = (): void => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        for (const s of servers) s.close();
      });
    });
}
