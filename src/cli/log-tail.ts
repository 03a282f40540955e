/**
 * Finds where `--tail N` starts in a CRI log file by reading it backwards in fixed-size chunks, so the cost
 * depends on N, not on the file's size (container logs reach gigabytes before the kubelet rotates them).
 *
 * A "line" here is what the reader prints: a run of P records of one stream closed by that stream's F record,
 * or a run of P records still open at the end of the file. Streams can interleave their partial runs
 * (conmon reads stdout and stderr from separate pipes), so the first record of a wanted line may lie before
 * the end of an unwanted line of the other stream. The scan therefore returns an offset that is early enough
 * for every wanted line plus `skipLines`: how many completed lines the forward reader must drop before the
 * wanted N, which are exactly the lines that complete between `offset` and the first wanted one.
 *
 * Whether a wanted line that ends in F has earlier P records is only known at that stream's previous record,
 * which for a rare stream (one stderr line in a gigabyte of stdout) may be at the start of the file. Once N
 * lines are found the scan therefore looks back at most `lookbehindBytes` further for their P records. conmon
 * writes a P record each time its 8 KiB buffer fills, so a run whose records lie further apart than that
 * would have to interleave with over 256 KiB of the other stream; such a line loses its head.
 */
import type { FileHandle } from 'node:fs/promises';
import { parseCriRecord } from './cri-log.js';
import type { CriStream } from './cri-log.js';

export interface TailStart {
  /** Byte offset of a record boundary to read forward from. */
  readonly offset: number;
  /** Completed lines to discard, in completion order, before the wanted ones. */
  readonly skipLines: number;
  readonly bytesRead: number;
}

export interface TailScanOptions {
  readonly streams: ReadonlySet<CriStream>;
  /**
   * Count a last record that has no newline yet. The one-shot reader parses it (as the kubelet does); a
   * follower waits for its newline, so it must not count it now.
   */
  readonly includeUnterminated: boolean;
  readonly chunkBytes?: number;
  readonly lookbehindBytes?: number;
}

const NEWLINE = 0x0a;
const DEFAULT_CHUNK_BYTES = 64 * 1024;
const DEFAULT_LOOKBEHIND_BYTES = 256 * 1024;

interface BackwardRecord {
  readonly offset: number;
  readonly bytes: Buffer;
}

/** Scans `fh` (of `size` bytes) backwards for the start of its last `lines` lines; lines < 0 means all. */
export async function findTailStart(
  fh: FileHandle,
  size: number,
  lines: number,
  options: TailScanOptions,
): Promise<TailStart> {
  if (lines < 0) return { offset: 0, skipLines: 0, bytesRead: 0 };
  if (lines === 0) {
    if (options.includeUnterminated) return { offset: size, skipLines: 0, bytesRead: 0 };
    // A follower starts after the last newline, so a record being written now is read whole, not from its middle.
    const reader = new BackwardRecordReader(fh, size, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
    for await (const record of reader.records(false)) {
      return { offset: record.offset + record.bytes.length + 1, skipLines: 0, bytesRead: reader.bytesRead };
    }
    return { offset: 0, skipLines: 0, bytesRead: reader.bytesRead };
  }

  const reader = new BackwardRecordReader(fh, size, options.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  // Streams whose wanted line is still open: we have seen its end and are collecting its earlier P records.
  const open = new Set<CriStream>();
  // Streams whose trailing record was seen: only the first (last in the file) record of a stream may start
  // an unterminated run.
  const seen = new Set<CriStream>();
  let wanted = 0;
  let completions = 0;
  const lookbehindBytes = options.lookbehindBytes ?? DEFAULT_LOOKBEHIND_BYTES;
  // Offset of the earliest record processed, and where the N-th wanted line was found.
  let earliest = size;
  let satisfiedAt = -1;

  for await (const record of reader.records(options.includeUnterminated)) {
    if (satisfiedAt >= 0 && satisfiedAt - record.offset > lookbehindBytes) {
      return { offset: earliest, skipLines: completions - wanted, bytesRead: reader.bytesRead };
    }
    earliest = record.offset;
    const parsed = parseCriRecord(record.bytes);
    if (!parsed.ok || !options.streams.has(parsed.record.stream)) continue;
    const { stream, isPartial } = parsed.record;
    const isFirstOfStream = !seen.has(stream);
    seen.add(stream);

    if (isPartial) {
      if (!open.has(stream) && isFirstOfStream && wanted < lines) {
        // A run of P records at the end of the file: the reader emits it at EOF (or when its F arrives).
        wanted += 1;
        completions += 1;
        open.add(stream);
        if (wanted === lines) satisfiedAt = record.offset;
      }
      // Otherwise it continues an open line, or belongs to an unwanted one.
    } else {
      // This F ends the line before the one that may be open for this stream.
      open.delete(stream);
      if (wanted === lines && open.size === 0) {
        // Every wanted line is whole; this record and all before it are not needed.
        return {
          offset: record.offset + record.bytes.length + 1,
          skipLines: completions - wanted,
          bytesRead: reader.bytesRead,
        };
      }
      completions += 1;
      if (wanted < lines) {
        wanted += 1;
        open.add(stream);
        if (wanted === lines) satisfiedAt = record.offset;
      }
    }
  }
  // Reached the start of the file: read it all from the first byte, dropping the surplus.
  return { offset: 0, skipLines: completions - wanted, bytesRead: reader.bytesRead };
}

/** Yields a file's newline-terminated records from last to first, reading chunk by chunk from the end. */
class BackwardRecordReader {
  bytesRead = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly chunkBytes: number,
  ) {}

  async *records(includeUnterminated: boolean): AsyncGenerator<BackwardRecord> {
    let position = this.size;
    // Bytes from `position` up to the start of the last record yielded (a record that began before `position`).
    let carry = Buffer.alloc(0);
    let isAtFileEnd = true;
    while (position > 0) {
      const readStart = Math.max(0, position - this.chunkBytes);
      const chunk = Buffer.alloc(position - readStart);
      const { bytesRead } = await this.fh.read(chunk, 0, chunk.length, readStart);
      this.bytesRead += bytesRead;
      // A file that shrank under us (truncation) reads short: treat the missing bytes as absent.
      const data =
        carry.length > 0 ? Buffer.concat([chunk.subarray(0, bytesRead), carry]) : chunk.subarray(0, bytesRead);
      position = readStart;
      let end = data.length;

      if (isAtFileEnd) {
        if (end > 0 && data[end - 1] !== NEWLINE) {
          const lastNewline = data.lastIndexOf(NEWLINE);
          if (lastNewline < 0 && position > 0) {
            carry = data;
            continue;
          }
          if (includeUnterminated) yield { offset: position + lastNewline + 1, bytes: data.subarray(lastNewline + 1) };
          end = lastNewline + 1;
        }
        isAtFileEnd = false;
      }

      // Here data[end - 1] is a newline (or end is 0): walk the records ending inside this window.
      while (end > 0) {
        const previous = end >= 2 ? data.lastIndexOf(NEWLINE, end - 2) : -1;
        if (previous < 0 && position > 0) break; // the record starts in an earlier chunk
        yield { offset: position + previous + 1, bytes: data.subarray(previous + 1, end - 1) };
        end = previous + 1;
      }
      carry = Buffer.from(data.subarray(0, end));
    }
  }
}
