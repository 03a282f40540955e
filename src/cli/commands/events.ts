/**
 * berth events: events of every kind as they happen (admin Subscribe), one line each, until Ctrl-C: images
 * pulled/tagged/removed/loaded, pods created/stopped/removed, containers created/started/stopped/deleted,
 * namespaces created/removed, content and snapshots removed. --type and --namespace (or the global -n, when
 * given) select; -o json prints one JSON object per line.
 *
 * Text lines: "<time> <type> <action> key=value ... [namespace=NS]", e.g.
 *   2026-01-02T03:04:05.678Z container started id=4f5e6a7b8c9d0 name=web pod=default/web podId=... namespace=k8s.io
 */
import { Option } from 'commander';
import type { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import type { Event } from '../../api/gen/admin.js';
import { withClients } from '../context.js';
import { CliError } from '../errors.js';
import { OUTPUT_FORMATS } from '../output.js';

/** What --type accepts; the server's topics are "/<type>/<action>". */
export const EVENT_TYPES = Object.freeze(['image', 'pod', 'container', 'namespace', 'content', 'snapshot'] as const);

const HEX_ID = /^[0-9a-f]{64}$/;
const PLAIN_VALUE = /^[^\s"=]*$/;

export interface DecodedEvent {
  readonly time: string;
  readonly namespace: string;
  readonly topic: string;
  readonly type: string;
  readonly action: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export function decodeEvent(e: Event): DecodedEvent {
  const [, type = '', action = ''] = e.topic.split('/');
  let fields: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(e.payloadJson);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      fields = parsed as Record<string, unknown>;
  } catch {
    fields = { payload: e.payloadJson };
  }
  return {
    time: new Date(Number(e.timestamp / 1_000_000n)).toISOString(),
    namespace: e.namespace,
    topic: e.topic,
    type,
    action,
    fields,
  };
}

function formatValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (HEX_ID.test(text)) return text.slice(0, 13); // container and pod ids, as `berth ps` shows them
  return PLAIN_VALUE.test(text) ? text : JSON.stringify(text);
}

/** One text line (no newline). */
export function formatEvent(e: Event): string {
  const d = decodeEvent(e);
  const parts = [d.time, d.type, d.action];
  if (d.type === 'namespace') parts.push(`name=${formatValue(d.namespace)}`);
  for (const [key, value] of Object.entries(d.fields)) parts.push(`${key}=${formatValue(value)}`);
  if (d.namespace !== '' && d.type !== 'namespace') parts.push(`namespace=${formatValue(d.namespace)}`);
  return parts.join(' ');
}

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description('Follow events of every kind (images, pods, containers, namespaces, content, snapshots) until Ctrl-C')
    .addOption(new Option('-t, --type <type...>', 'only these kinds of events').choices(EVENT_TYPES))
    .option(
      '--namespace <ns...>',
      'only events of these namespaces (content and snapshot events have none: always shown)',
    )
    .addOption(
      new Option('-o, --output <format>', 'output format (json: one object per line)')
        .choices(OUTPUT_FORMATS)
        .default('table'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  berth events\n  berth events --type container --type pod --namespace k8s.io\n  berth events -o json\n',
    )
    .action(async (opts: { type?: string[]; namespace?: string[]; output: string }, cmd: Command) => {
      const program = cmd.parent;
      if (program === null) throw new CliError('events: no parent command');
      // Every namespace unless asked: --namespace, or the global -n when given on the command line (its
      // default, k8s.io, is not a choice the user made).
      const globalNs = program.getOptionValueSource('namespace') === 'cli' ? [String(program.opts()['namespace'])] : [];
      const request = {
        topics: [...new Set(opts.type ?? [])].map((t) => `/${t}/`),
        namespaces: opts.namespace ?? globalNs,
      };
      // The program's options (socket, timeout), not this command's --namespace filter.
      await withClients(program, async (clients) => {
        const admin = clients.admin;
        for await (const event of clients.stream(admin.subscribe.bind(admin), request)) {
          let text: string;
          if (opts.output === 'json') text = `${JSON.stringify(decodeEvent(event))}\n`;
          else if (opts.output === 'yaml') text = `---\n${toYaml(decodeEvent(event))}`;
          else text = `${formatEvent(event)}\n`;
          process.stdout.write(text);
        }
      });
    });
}
