/**
 * berth snapshots ls|usage|rm: unpacked layers (committed, keyed by chain ID) and containers' writable layers
 * (active, keyed by container id) on the admin service, like containerd's `ctr snapshots`. Keys may be given
 * by a unique prefix, with or without "sha256:". rm refuses a layer of an image, a layer something stands on,
 * and a container's own snapshot (remove the container instead).
 */
import type { Command } from 'commander';
import { SnapshotInfo } from '../../api/gen/admin.js';
import type { Clients } from '../client.js';
import { withClients } from '../context.js';
import { CliError } from '../errors.js';
import { ago, humanSize } from '../format.js';
import { outputOption, printData, printTable } from '../output.js';

const SHORT_HEX = 12;

/** "sha256:0123456789ab" for a chain ID, the first 13 characters of a container id (as `berth ps`). */
export function shortKey(key: string): string {
  if (key.startsWith('sha256:')) return key.slice(0, 'sha256:'.length + SHORT_HEX);
  return /^[0-9a-f]{64}$/.test(key) ? key.slice(0, 13) : key;
}

/** The one key that `given` names: an exact key, or a unique prefix with or without "sha256:". */
export function resolveKey(keys: readonly string[], given: string): string {
  if (keys.includes(given)) return given;
  const matches = keys.filter((k) => k.startsWith(given) || k.startsWith(`sha256:${given}`));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new CliError(`no such snapshot: ${given}`);
  throw new CliError(`snapshot key prefix "${given}" matches ${matches.length} snapshots: give more of it`);
}

/** Images of a layer or the container of an active snapshot; "-" for neither (a leftover). */
export function snapshotUser(s: Pick<SnapshotInfo, 'images' | 'container'>): string {
  if (s.container !== '') return `container ${s.container}`;
  const first = s.images[0];
  if (first === undefined) return '-';
  return s.images.length > 1 ? `${first} +${s.images.length - 1}` : first;
}

export function snapshotRows(snapshots: readonly SnapshotInfo[], isTrunc: boolean, nowMs = Date.now()): string[][] {
  const key = (k: string): string => (k === '' ? '-' : isTrunc ? shortKey(k) : k);
  return snapshots.map((s) => [key(s.key), s.kind, key(s.parent), ago(s.createdAt, nowMs), snapshotUser(s)]);
}

async function listSnapshots(clients: Clients, usage: boolean, key = ''): Promise<SnapshotInfo[]> {
  const res = await clients.call(clients.admin.listSnapshots.bind(clients.admin), {
    namespace: '',
    snapshotter: '',
    usage,
    key,
  });
  return res.snapshots;
}

export function registerSnapshots(program: Command): void {
  const snapshots = program
    .command('snapshots')
    .alias('snapshot')
    .description("Inspect and remove unpacked layers and containers' writable layers")
    .addHelpText('after', '\nExamples:\n  berth snapshots ls\n  berth snapshots usage\n');
  snapshots
    .command('ls')
    .alias('list')
    .description('List snapshots: key, kind (committed layer or active), parent, age and who uses it')
    .addOption(outputOption())
    .option('-q, --quiet', 'print keys only', false)
    .option('--no-trunc', 'show full keys')
    .addHelpText('after', '\nExamples:\n  berth snapshots ls\n  berth snapshots ls --no-trunc -o json\n')
    .action(async (opts: { quiet: boolean; trunc: boolean }, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const list = await listSnapshots(clients, false);
        if (opts.quiet) {
          process.stdout.write(list.map((s) => `${s.key}\n`).join(''));
        } else if (g.output === 'table') {
          printTable(['key', 'kind', 'parent', 'age', 'used by'], snapshotRows(list, opts.trunc));
        } else {
          printData({ snapshots: list.map((s) => SnapshotInfo.toJSON(s)) }, g.output);
        }
      });
    });
  snapshots
    .command('usage [key]')
    .alias('du')
    .description("Disk usage (bytes, inodes) of each snapshot's own files, or of one")
    .addOption(outputOption())
    .option('--no-trunc', 'show full keys')
    .addHelpText('after', '\nExamples:\n  berth snapshots usage\n  berth snapshots usage sha256:0123abcd\n')
    .action(async (given: string | undefined, opts: { trunc: boolean }, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const key =
          given === undefined
            ? ''
            : resolveKey(
                (await listSnapshots(clients, false)).map((s) => s.key),
                given,
              );
        const list = await listSnapshots(clients, true, key);
        if (g.output !== 'table') {
          printData({ snapshots: list.map((s) => SnapshotInfo.toJSON(s)) }, g.output);
          return;
        }
        const rows = list.map((s) => [
          opts.trunc ? shortKey(s.key) : s.key,
          s.kind,
          humanSize(s.sizeBytes),
          String(s.inodes),
        ]);
        if (given === undefined) {
          const bytes = list.reduce((n, s) => n + s.sizeBytes, 0n);
          const inodes = list.reduce((n, s) => n + s.inodes, 0n);
          rows.push(['total', '', humanSize(bytes), String(inodes)]);
        }
        printTable(['key', 'kind', 'size', 'inodes'], rows);
      });
    });
  snapshots
    .command('rm <key...>')
    .alias('remove')
    .description("Remove snapshots nothing uses (layers of images and containers' own are refused)")
    .addHelpText('after', '\nExample:\n  berth snapshots rm sha256:0123abcd\n')
    .action(async (given: string[], _opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients) => {
        const keys = (await listSnapshots(clients, false)).map((s) => s.key);
        const failures: string[] = [];
        for (const g of given) {
          try {
            const key = resolveKey(keys, g);
            await clients.call(clients.admin.removeSnapshot.bind(clients.admin), {
              namespace: '',
              snapshotter: '',
              key,
            });
            process.stdout.write(`${key}\n`);
          } catch (err) {
            failures.push(err instanceof Error ? err.message : String(err));
          }
        }
        if (failures.length > 0) throw new CliError(failures.join('\nberth: '));
      });
    });
}
