/**
 * berth events: container lifecycle events as they happen (CRI GetContainerEvents), one line each, until
 * Ctrl-C. -o json prints one JSON object per line.
 */
import type { Command } from 'commander';
import { ContainerEventResponse, ContainerEventType } from '../../api/gen/cri.js';
import { withClients } from '../context.js';
import { outputOption } from '../output.js';

const NAMES: Record<number, string> = {
  [ContainerEventType.CONTAINER_CREATED_EVENT]: 'created',
  [ContainerEventType.CONTAINER_STARTED_EVENT]: 'started',
  [ContainerEventType.CONTAINER_STOPPED_EVENT]: 'stopped',
  [ContainerEventType.CONTAINER_DELETED_EVENT]: 'deleted',
};

export function formatEvent(e: ContainerEventResponse): string {
  const when = new Date(Number(e.createdAt / 1_000_000n)).toISOString();
  const pod = e.podSandboxStatus?.metadata;
  const container = e.containersStatuses.find((c) => c.id === e.containerId)?.metadata?.name ?? '';
  const where = pod === undefined ? '' : ` pod=${pod.namespace}/${pod.name}`;
  return `${when} container ${NAMES[e.containerEventType] ?? 'unknown'} id=${e.containerId.slice(0, 13)}${
    container === '' ? '' : ` name=${container}`
  }${where}`;
}

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description('Follow container events (created, started, stopped, deleted) until Ctrl-C')
    .addOption(outputOption())
    .addHelpText('after', '\nExample:\n  berth events -o json\n')
    .action(async (_opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const runtime = clients.runtime;
        for await (const event of clients.stream(runtime.getContainerEvents.bind(runtime), {})) {
          const line = g.output === 'table' ? formatEvent(event) : JSON.stringify(ContainerEventResponse.toJSON(event));
          process.stdout.write(`${line}\n`);
        }
      });
    });
}
