/**
 * berth pull / tag / prune / images / rmi / inspecti / imagefsinfo: crictl's image commands over CRI
 * ImageService, and what people miss from docker (pull progress, tag, prune) over the admin service.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { PruneImagesResponse } from '../../api/gen/admin.js';
import { FilesystemUsage, Image, ImageStatusResponse } from '../../api/gen/cri.js';
import { CliError } from '../errors.js';
import { withClients } from '../context.js';
import { humanSize } from '../format.js';
import { printData, printTable, outputOption } from '../output.js';
import { ProgressView } from '../progress.js';

const spec = (image: string) => ({ image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' });

function splitRepoTag(repoTag: string): [string, string] {
  const i = repoTag.lastIndexOf(':');
  return i > repoTag.lastIndexOf('/') ? [repoTag.slice(0, i), repoTag.slice(i + 1)] : [repoTag, '<none>'];
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 13);
}

function parseCreds(creds: string | undefined, auth: string | undefined) {
  const base = { username: '', password: '', auth: '', serverAddress: '', identityToken: '', registryToken: '' };
  if (creds !== undefined) {
    const i = creds.indexOf(':');
    if (i < 0) throw new CliError('--creds must be USERNAME:PASSWORD');
    return { ...base, username: creds.slice(0, i), password: creds.slice(i + 1) };
  }
  return auth === undefined ? undefined : { ...base, auth };
}

function printPruned(res: PruneImagesResponse): void {
  for (const id of res.removedImages) process.stdout.write(`Deleted: ${id}\n`);
  process.stdout.write(
    `Removed ${res.removedBlobs} blobs and ${res.removedSnapshots} unpacked layers, ${humanSize(res.freedBytes)} freed\n`,
  );
}

export function registerImages(program: Command): void {
  program
    .command('pull <image>')
    .description('Pull an image from a registry (mirrors from the daemon config apply), showing layer progress')
    .option('--creds <user:password>', 'registry credentials')
    .option('--auth <base64>', 'registry credentials as base64 of user:password')
    .addHelpText('after', '\nExample:\n  berth pull 127.0.0.1:5000/library/busybox:latest\n')
    .action(async (image: string, opts: { creds?: string; auth?: string }, cmd: Command) => {
      const auth = parseCreds(opts.creds, opts.auth);
      await withClients(cmd, async (clients, g) => {
        const progress = new ProgressView(process.stderr);
        let imageId = '';
        const admin = clients.admin;
        for await (const msg of clients.stream(admin.pullImage.bind(admin), { namespace: g.namespace, image, auth })) {
          progress.update(msg.layers);
          if (msg.imageId !== '') imageId = msg.imageId;
        }
        process.stdout.write(`Image is up to date for ${imageId}\n`);
      });
    });

  program
    .command('push <image> [target]')
    .description('Push an image to a registry (to its own name, or to target), showing blob progress')
    .option('--creds <user:password>', 'registry credentials')
    .option('--auth <base64>', 'registry credentials as base64 of user:password')
    .addHelpText(
      'after',
      '\nExamples:\n  berth push 127.0.0.1:5000/tools/busybox:1\n  berth push busybox registry.example:5000/busybox:1\n',
    )
    .action(
      async (image: string, target: string | undefined, opts: { creds?: string; auth?: string }, cmd: Command) => {
        const auth = parseCreds(opts.creds, opts.auth);
        await withClients(cmd, async (clients, g) => {
          const progress = new ProgressView(process.stderr);
          let pushed = { digest: '', target: '' };
          const admin = clients.admin;
          const request = { namespace: g.namespace, image, target: target ?? '', auth };
          for await (const msg of clients.stream(admin.pushImage.bind(admin), request)) {
            progress.update(msg.blobs);
            if (msg.digest !== '') pushed = { digest: msg.digest, target: msg.target };
          }
          process.stdout.write(`Pushed ${pushed.target} (${pushed.digest})\n`);
        });
      },
    );

  program
    .command('save <images...>')
    .description('Write images to a tar archive, as docker save (docker) or an OCI image layout (oci)')
    .option('-o, --output-file <file>', 'archive to write ("-" or absent: stdout)')
    .option('--format <format>', 'docker or oci', 'docker')
    .addHelpText(
      'after',
      '\nExamples:\n  berth save -o busybox.tar busybox:latest\n  berth save --format oci -o app.tar app:1 app:2\n',
    )
    .action(async (refs: string[], opts: { outputFile?: string; format: string }, cmd: Command) => {
      if (opts.format !== 'docker' && opts.format !== 'oci') {
        throw new CliError(`--format "${opts.format}" must be docker or oci`);
      }
      const toStdout = opts.outputFile === undefined || opts.outputFile === '-';
      if (toStdout && process.stdout.isTTY) {
        throw new CliError('refusing to write an archive to a terminal: give -o FILE or redirect stdout');
      }
      await withClients(cmd, async (clients, g) => {
        const admin = clients.admin;
        const chunks = clients.stream(admin.exportImages.bind(admin), {
          namespace: g.namespace,
          images: refs,
          format: opts.format,
        });
        const target = toStdout ? process.stdout : createWriteStream(`${opts.outputFile!}.partial`, { mode: 0o644 });
        // Written to FILE.partial and renamed at the end: a failed save never leaves a truncated archive.
        await pipeline(
          (async function* () {
            for await (const chunk of chunks) yield chunk.data;
          })(),
          target,
          { end: !toStdout },
        );
        if (!toStdout) await rename(`${opts.outputFile!}.partial`, opts.outputFile!);
      }).catch(async (err: unknown) => {
        if (!toStdout) await rm(`${opts.outputFile!}.partial`, { force: true });
        throw err;
      });
    });

  program
    .command('load')
    .description('Load images from a docker save, skopeo or OCI archive (plain or gzip)')
    .option('-i, --input <file>', 'archive to read ("-" or absent: stdin)')
    .addHelpText('after', '\nExample:\n  berth load -i busybox.tar\n')
    .action(async (opts: { input?: string }, cmd: Command) => {
      const fromStdin = opts.input === undefined || opts.input === '-';
      if (fromStdin && process.stdin.isTTY) throw new CliError('give -i FILE or pipe an archive to stdin');
      await withClients(cmd, async (clients, g) => {
        const source = fromStdin ? process.stdin : createReadStream(opts.input!);
        async function* messages() {
          let isFirst = true;
          for await (const chunk of source) {
            yield { namespace: isFirst ? g.namespace : '', data: chunk as Buffer };
            isFirst = false;
          }
          if (isFirst) yield { namespace: g.namespace, data: Buffer.alloc(0) };
        }
        const admin = clients.admin;
        const res = await clients.sendStream(admin.importImages.bind(admin), messages());
        for (const img of res.images) {
          if (img.names.length === 0) process.stdout.write(`Loaded image ID: ${img.imageId}\n`);
          for (const name of img.names) process.stdout.write(`Loaded image: ${name}\n`);
        }
      });
    });

  program
    .command('tag <source> <target>')
    .description('Give an image another name')
    .addHelpText('after', '\nExample:\n  berth tag busybox:latest 127.0.0.1:5000/tools/busybox:1\n')
    .action(async (source: string, target: string, _opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        await clients.call(clients.admin.tagImage.bind(clients.admin), { namespace: g.namespace, source, target });
      });
    });

  program
    .command('prune')
    .description('Remove content and unpacked layers no image uses; with --images also images no container uses')
    .option('--images', 'also remove every image no container uses', false)
    .addHelpText('after', '\nExample:\n  berth prune --images\n')
    .action(async (opts: { images: boolean }, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const res = await clients.call(clients.admin.pruneImages.bind(clients.admin), {
          namespace: g.namespace,
          images: opts.images,
        });
        printPruned(res);
      });
    });

  program
    .command('images [image]')
    .addOption(outputOption())
    .alias('img')
    .description('List images')
    .option('-q, --quiet', 'print image ids only', false)
    .option('--digests', 'show digests', false)
    .option('-v, --verbose', 'show every field', false)
    .addHelpText('after', '\nExample:\n  berth images --digests\n')
    .action(
      async (image: string | undefined, opts: { quiet: boolean; digests: boolean; verbose: boolean }, cmd: Command) => {
        await withClients(cmd, async (clients, g) => {
          const res = await clients.call(clients.image.listImages.bind(clients.image), {
            filter: image ? { image: spec(image) } : undefined,
          });
          if (opts.quiet) {
            process.stdout.write(res.images.map((i) => `${i.id}\n`).join(''));
            return;
          }
          if (g.output !== 'table' || opts.verbose) {
            printData({ images: res.images.map((i) => Image.toJSON(i)) }, g.output === 'yaml' ? 'yaml' : 'json');
            return;
          }
          const rows = res.images.flatMap((img) => {
            const tags =
              img.repoTags.length > 0 ? img.repoTags : [`${img.repoDigests[0]?.split('@')[0] ?? '<none>'}:<none>`];
            return tags.map((t) => {
              const [repo, tag] = splitRepoTag(t);
              const digest = img.repoDigests.find((d) => d.startsWith(`${repo}@`))?.split('@')[1] ?? '<none>';
              return [
                repo,
                tag,
                ...(opts.digests ? [digest.replace(/^sha256:/, '').slice(0, 13)] : []),
                shortId(img.id),
                humanSize(img.size),
              ];
            });
          });
          printTable(['image', 'tag', ...(opts.digests ? ['digest'] : []), 'image id', 'size'], rows);
        });
      },
    );

  program
    .command('rmi [images...]')
    .description('Remove images by name, id or digest')
    .option('-a, --all', 'remove every image', false)
    .option('-q, --prune', 'remove every image no container uses', false)
    .addHelpText('after', '\nExamples:\n  berth rmi busybox:latest\n  berth rmi --prune\n')
    .action(async (images: string[], opts: { all: boolean; prune: boolean }, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        if (opts.prune) {
          const res = await clients.call(clients.admin.pruneImages.bind(clients.admin), {
            namespace: g.namespace,
            images: true,
          });
          printPruned(res);
          return;
        }
        let targets = images;
        if (opts.all) {
          const res = await clients.call(clients.image.listImages.bind(clients.image), { filter: undefined });
          targets = res.images.map((i) => i.id);
        }
        if (targets.length === 0) throw new CliError('rmi needs at least one image (or --all, --prune)');
        for (const t of targets) {
          const st = await clients.call(clients.image.imageStatus.bind(clients.image), {
            image: spec(t),
            verbose: false,
          });
          if (st.image === undefined) throw new CliError(`no such image: ${t}`);
          await clients.call(clients.image.removeImage.bind(clients.image), { image: spec(t) });
          process.stdout.write(`Deleted: ${t}\n`);
        }
      });
    });

  program
    .command('inspecti <image>')
    .addOption(outputOption())
    .description('Show an image status with its config')
    .addHelpText('after', '\nExample:\n  berth inspecti busybox -o yaml\n')
    .action(async (image: string, _opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const res = await clients.call(clients.image.imageStatus.bind(clients.image), {
          image: spec(image),
          verbose: true,
        });
        if (res.image === undefined) throw new CliError(`no such image: ${image}`);
        const json = ImageStatusResponse.toJSON({ ...res, info: {} }) as Record<string, unknown>;
        const info = Object.fromEntries(Object.entries(res.info).map(([k, v]) => [k, JSON.parse(v) as unknown]));
        printData({ status: json['image'], info: info['info'] }, g.output === 'yaml' ? 'yaml' : 'json');
      });
    });

  program
    .command('imagefsinfo')
    .addOption(outputOption())
    .description('Show the image filesystem usage')
    .addHelpText('after', '\nExample:\n  berth imagefsinfo\n')
    .action(async (_opts: unknown, cmd: Command) => {
      await withClients(cmd, async (clients, g) => {
        const res = await clients.call(clients.image.imageFsInfo.bind(clients.image), {});
        printData(
          res.imageFilesystems.map((f) => FilesystemUsage.toJSON(f)),
          g.output === 'yaml' ? 'yaml' : 'json',
        );
      });
    });
}
