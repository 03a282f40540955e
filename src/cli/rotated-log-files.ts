/**
 * The rotated files of a container log as `berth logs -f` needs them: when rotations outrun the follower
 * (a busy container, a small max size, a loaded node), the files rotated between the one it was reading and
 * the live one must be read too, plain or already gzipped. A file is known by its first record (timestamp
 * and all): records are never rewritten, and every file starts with a different write of conmon.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createGunzip, gunzip } from 'node:zlib';
import { rotatedLogsOf } from '../base/rotated-log-names.js';

const gunzipAsync = promisify(gunzip);

/** conmon splits records at 8 KiB of text; a first record longer than this is not a CRI log's. */
const MAX_RECORD_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export interface RotatedLogFile {
  readonly path: string;
  readonly isCompressed: boolean;
}

/** The rotated files of the log at livePath, oldest first. */
export async function listRotatedLogs(livePath: string): Promise<RotatedLogFile[]> {
  const dir = dirname(livePath);
  const names = await readdir(dir).catch(() => [] as string[]);
  return rotatedLogsOf(basename(livePath), names).map((r) => ({
    path: join(dir, r.name),
    isCompressed: r.isCompressed,
  }));
}

/** The whole text of a rotated file; undefined when it is gone (a later rotation removed it). */
export async function readRotatedLog(file: RotatedLogFile): Promise<Buffer | undefined> {
  const data = await readFile(file.path).catch(() => undefined);
  if (data === undefined || !file.isCompressed) return data;
  return gunzipAsync(data).catch(() => undefined);
}

/** The first record (up to its newline) of a rotated file; undefined when it has none or is gone. */
export async function firstRecordOfFile(file: RotatedLogFile): Promise<Buffer | undefined> {
  const raw = createReadStream(file.path);
  const stream = file.isCompressed ? raw.pipe(createGunzip()) : raw;
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const end = chunk.indexOf(NEWLINE);
      parts.push(end >= 0 ? chunk.subarray(0, end) : chunk);
      size += chunk.length;
      if (end >= 0) return Buffer.concat(parts);
      if (size > MAX_RECORD_BYTES) return undefined;
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    raw.destroy();
    if (stream !== raw) stream.destroy();
  }
}

/** The first record of an open log file, read from byte 0 whatever its read position. */
export async function firstRecordOfHandle(fh: FileHandle): Promise<Buffer | undefined> {
  const head = Buffer.alloc(MAX_RECORD_BYTES);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  const end = head.subarray(0, bytesRead).indexOf(NEWLINE);
  return end < 0 ? undefined : Buffer.from(head.subarray(0, end));
}

/**
 * The files rotated after the one whose first record is `first`, oldest first: searched from the newest, which
 * is where a follower's file usually is. Empty when that file is not among them (not rotated yet, or removed).
 */
export async function rotatedAfter(files: readonly RotatedLogFile[], first: Buffer): Promise<RotatedLogFile[]> {
  for (let i = files.length - 1; i >= 0; i--) {
    const head = await firstRecordOfFile(files[i]!);
    if (head !== undefined && head.equals(first)) return files.slice(i + 1);
  }
  return [];
}
