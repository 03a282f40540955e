/**
 * berth content ls|get|rm: the content store (blobs by digest) on the admin service, like containerd's
 * `ctr content`. The store is shared by every namespace; each blob shows the image names that need it.
 * rm refuses a blob an image still needs (remove the image: GC then takes its blobs) or a pull in progress holds.
 */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { ContentInfo } from '../../api/gen/admin.js';
import { withClients } from '../context.js';
import { CliError } from '../errors.js';
import { ago, humanSize } from '../format.js';
import { outputOption, printData, printTable } from '../output.js';

const BARE_HEX = /^[0-9a-f]{64}$/;

/** "sha256:<hex>", also from the bare hex people copy out of file names. */
export function normalizeDigest(digest: string): string {
  return BARE_HEX.test(digest) ? `sha256:${digest}` : digest;
}

/** The USED BY column: the first image name and role, "+N" for the rest; a lease; or "-" for nothing. */
export function usedBy(info: Pick<ContentInfo, 'references' | 'leased'>): string {
  const first = info.references[0];
  if (first === undefined) return info.leased ? '(pull in progress)' : '-';
  const more = info.references.length > 1 ? ` +${info.references.length - 1}` : '';
  return `${first.namespace}/${first.image} (${first.role})${more}`;
}

export function contentRows(content: readonly ContentInfo[], nowMs = Date.now()): string[][] {
  return content.map((c) => [c.digest, humanSize(c.size), ago(c.createdAt, nowMs), usedBy(c)]);
}

export function registerContent(program: Command): void {
  const content = program
    .command('content')
    .description('Inspect and remove blobs of the content store')
    .addHelpText('after', '\nExamples:\n  berth content ls\n  berth content get sha256:1a2b... -o blob.tar.gz\n');
  content
    .command('ls')
    .alias('list')
    .description('List blobs: digest, size, age and the image names that need each')
    .addOption(outputOption())
    .option('-q, --quiet', 'print digests only', false)
    .addHelpText('after', '\nExamples:\n  berth content ls\n  berth content ls -o json\n')
    .action(async (opts: { quiet: boolean; output: string }, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const res = await clients.call(clients.admin.listContent.bind(clients.admin), { namespace: '' });
        if (opts.quiet) {
          process.stdout.write(res.content.map((c) => `${c.digest}\n`).join(''));
        } else if (g.output === 'table') {
          printTable(['digest', 'size', 'age', 'used by'], contentRows(res.content));
        } else {
          printData({ content: res.content.map((c) => ContentInfo.toJSON(c)) }, g.output);
        }
      });
    });
  content
    .command('get <digest>')
    .description('Write the bytes of a blob to stdout (or to a file with -o)')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  berth content get sha256:4f5e... > layer.tar.gz\n  berth content get -o config.json sha256:4f5e...\n',
    )
    .action(async (digest: string, opts: { output?: string }, cmd: Command) => {
      const file = opts.output;
      if (file === undefined && process.stdout.isTTY) {
        throw new CliError('refusing to write a blob to a terminal: give -o FILE or redirect stdout');
      }
      const partial = file === undefined ? undefined : `${file}.partial`;
      await withClients(cmd, async (clients) => {
        const admin = clients.admin;
        const chunks = clients.stream(admin.readContent.bind(admin), {
          namespace: '',
          digest: normalizeDigest(digest),
          offset: 0n,
        });
        // Written to FILE.partial and renamed at the end: a failed get never leaves a truncated blob.
        const target = partial === undefined ? process.stdout : createWriteStream(partial, { mode: 0o644 });
        await pipeline(
          (async function* () {
            for await (const chunk of chunks) yield chunk.data;
          })(),
          target,
          { end: partial !== undefined },
        );
        if (partial !== undefined) await rename(partial, file!);
      }).catch(async (err: unknown) => {
        if (partial !== undefined) await rm(partial, { force: true });
        throw err;
      });
    });
  content
    .command('rm <digest...>')
    .alias('remove')
    .description('Remove blobs no image needs (an image still needing one, or a pull holding it, is refused)')
    .addHelpText('after', '\nExample:\n  berth content rm sha256:4f5e...\n')
    .action(async (digests: string[], _opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients) => {
        const failures: string[] = [];
        for (const d of digests.map(normalizeDigest)) {
          try {
            await clients.call(clients.admin.deleteContent.bind(clients.admin), { namespace: '', digest: d });
            process.stdout.write(`${d}\n`);
          } catch (err) {
            failures.push(err instanceof Error ? err.message : String(err));
          }
        }
        // Each blob is tried; every failure is reported, and the exit code says some failed.
        if (failures.length > 0) throw new CliError(failures.join('\nberth: '));
      });
    });
}
