/**
 * The reading side of `berth logs` (what `crictl logs` does through the kubelet's logs package): reads a CRI
 * log file written by conmon, joins partial (P) records into whole lines, applies --tail, --since,
 * --timestamps, --limit-bytes and a stream filter, and with --follow keeps reading as the file grows.
 *
 * Following survives the kubelet's rotation: it renames the file and asks the runtime to reopen its log, so
 * the path soon names a new inode. At each end of file the follower compares the path's inode with the open
 * one; when they differ it drains the old file to its end (conmon wrote into it until the reopen), reads the
 * files rotated after it if rotations outran the follower (rotated-log-files.ts), and continues with the new
 * file from its first byte, so no line is lost or repeated. A file that shrank was
 * truncated in place (copytruncate) and is read again from the start. Following ends when the signal aborts,
 * or when `shouldStop()` says the container exited and the end of the file has been read.
 *
 * Output is a sequence of { stream, bytes } so the CLI writes stdout lines to stdout and stderr lines to
 * stderr, byte for byte (container output need not be UTF-8).
 */
import { open, stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { FileHandle } from 'node:fs/promises';
import { BerthError } from '../base/errors.js';
import { formatCriTimestamp, parseCriRecord } from './cri-log.js';
import type { CriLogRecordBytes, CriStream } from './cri-log.js';
import { DEFAULT_POLL_MS, FileChangeWaiter } from './file-change-waiter.js';
import { findTailStart } from './log-tail.js';
import {
  firstRecordOfFile,
  firstRecordOfHandle,
  listRotatedLogs,
  readRotatedLog,
  rotatedAfter,
} from './rotated-log-files.js';

export type CriStreamFilter = 'stdout' | 'stderr' | 'both';

export interface CriLogReadOptions {
  /** Last N lines (joined P runs count as one line); -1 or absent: all. */
  readonly tail?: number;
  /** Only lines whose (first record's) timestamp is at or after this instant. */
  readonly since?: Date;
  /** Prefix each line with its timestamp as crictl prints it: `2026-11-22T18:40:01.123456789+01:00 `. */
  readonly timestamps?: boolean;
  readonly streams?: CriStreamFilter;
  /** Stop after this many output bytes (timestamps included), cutting the last line; -1 or absent: no limit. */
  readonly limitBytes?: number;
  readonly follow?: boolean;
  /** Ends reading (follow or not) promptly; the iteration then just finishes. */
  readonly signal?: AbortSignal;
  /**
   * Follow only: asked at an end of file (at most every stopCheckMs); true means the container exited, so
   * the reader reads what is left and finishes.
   */
  readonly shouldStop?: () => boolean | Promise<boolean>;
  readonly pollMs?: number;
  readonly stopCheckMs?: number;
  readonly chunkBytes?: number;
}

export interface LogOutput {
  readonly stream: CriStream;
  readonly bytes: Buffer;
}

export interface CriLogReadStats {
  /** Records that are not CRI log lines; skipped, as the kubelet does. */
  malformedLines: number;
  bytesRead: number;
  rotations: number;
  truncations: number;
}

const NEWLINE = 0x0a;
const NEWLINE_BUFFER = Buffer.from('\n');
const DEFAULT_CHUNK_BYTES = 64 * 1024;
const DEFAULT_STOP_CHECK_MS = 1000;
/** Rotations that happen while the follower catches up make it look again, a bounded number of times. */
const MAX_CATCH_UP_ROUNDS = 10;
const CATCH_UP_RETRY_MS = 20;

/** Starts reading `path`; iterate the result once. */
export function readCriLog(path: string, options: CriLogReadOptions = {}): CriLogReader {
  return new CriLogReader(path, options);
}

interface JoinedLine {
  readonly stream: CriStream;
  readonly time: Date;
  readonly timestamp: string;
  readonly text: Buffer;
  /** False for a run of P records the file ended in: printed without a newline, as the kubelet does. */
  readonly isComplete: boolean;
}

/**
 * Joins each stream's P records with the F record that ends them. A joined line carries the timestamp of
 * its first record: when the line began.
 */
class LineJoiner {
  private readonly pending = new Map<CriStream, { time: Date; timestamp: string; chunks: Buffer[] }>();

  push(record: CriLogRecordBytes): JoinedLine | undefined {
    const run = this.pending.get(record.stream);
    if (record.isPartial) {
      // Copy: the record's text is a view into a read buffer that a long run would otherwise pin.
      const chunk = Buffer.from(record.text);
      if (run) run.chunks.push(chunk);
      else this.pending.set(record.stream, { time: record.time, timestamp: record.timestamp, chunks: [chunk] });
      return undefined;
    }
    if (!run) return { ...record, isComplete: true };
    this.pending.delete(record.stream);
    run.chunks.push(record.text);
    return {
      stream: record.stream,
      time: run.time,
      timestamp: run.timestamp,
      text: Buffer.concat(run.chunks),
      isComplete: true,
    };
  }

  /** The runs still open, oldest first. */
  flush(): JoinedLine[] {
    const lines = [...this.pending.entries()]
      .map(([stream, run]) => ({
        stream,
        time: run.time,
        timestamp: run.timestamp,
        text: Buffer.concat(run.chunks),
        isComplete: false,
      }))
      .sort((a, b) => a.time.getTime() - b.time.getTime());
    this.pending.clear();
    return lines;
  }
}

export class CriLogReader implements AsyncIterable<LogOutput> {
  readonly stats: CriLogReadStats = { malformedLines: 0, bytesRead: 0, rotations: 0, truncations: 0 };

  private readonly tail: number;
  private readonly limitBytes: number;
  private readonly streams: ReadonlySet<CriStream>;
  private readonly chunkBytes: number;
  private readonly joiner = new LineJoiner();
  private isStarted = false;

  // Per-read state: where the open file is read next, and the bytes of a record not yet terminated.
  private fh: FileHandle | undefined;
  private position = 0;
  private carry: Buffer = Buffer.alloc(0);
  /** First record of the last rotated file a catch-up read without reaching the live file (path missing). */
  private caughtUpTo: Buffer | undefined;
  // Output accounting.
  private linesToSkip = 0;
  private linesToEmit = Infinity;
  private bytesLeft = Infinity;
  private isFinished = false;

  constructor(
    readonly path: string,
    private readonly options: CriLogReadOptions,
  ) {
    this.tail = options.tail ?? -1;
    this.limitBytes = options.limitBytes ?? -1;
    if (!Number.isInteger(this.tail) || this.tail < -1) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `tail ${String(options.tail)} must be a whole number of lines, or -1 for all`,
      );
    }
    if (!Number.isInteger(this.limitBytes) || this.limitBytes < -1) {
      throw new BerthError(
        'INVALID_ARGUMENT',
        `limit bytes ${String(options.limitBytes)} must be a whole number, or -1 for no limit`,
      );
    }
    if (options.since && Number.isNaN(options.since.getTime())) {
      throw new BerthError('INVALID_ARGUMENT', 'since is not a valid time');
    }
    const filter = options.streams ?? 'both';
    this.streams = new Set<CriStream>(filter === 'both' ? ['stdout', 'stderr'] : [filter]);
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  }

  /**
   * One generator does all the yielding: every nested `yield*` of an async generator costs a promise hop per
   * line, and logs have millions of lines. The helpers below return each chunk's outputs as an array.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<LogOutput> {
    if (this.isStarted) throw new BerthError('FAILED_PRECONDITION', `log reader for "${this.path}" was already read`);
    this.isStarted = true;
    const { follow = false, signal } = this.options;
    const waiter = new FileChangeWaiter(this.options.pollMs ?? DEFAULT_POLL_MS);
    try {
      if (!(await this.start(follow))) return;
      let nextStopCheck = 0;
      for (;;) {
        for (let batch = await this.readChunk(); batch; batch = await this.readChunk()) yield* batch;
        if (!follow) {
          yield* this.finish();
          return;
        }
        if (this.isFinished || signal?.aborted) return;

        if (await this.isReplaced()) {
          // Lines conmon wrote between our last read and its reopen are still in the old file.
          for (let batch = await this.readChunk(); batch; batch = await this.readChunk()) yield* batch;
          yield* this.takeCarry();
          yield* await this.catchUp();
          waiter.watch(this.path);
          continue;
        }
        const current = (await this.openFile().stat()).size;
        if (current < this.position) {
          this.stats.truncations += 1;
          this.position = 0;
          this.carry = Buffer.alloc(0);
          continue;
        }
        if (!waiter.isWatching) waiter.watch(this.path);

        if (this.options.shouldStop && Date.now() >= nextStopCheck) {
          nextStopCheck = Date.now() + (this.options.stopCheckMs ?? DEFAULT_STOP_CHECK_MS);
          if (await this.options.shouldStop()) {
            // The container has exited: whatever conmon wrote before the exit is in the file now.
            for (let batch = await this.readChunk(); batch; batch = await this.readChunk()) yield* batch;
            yield* this.finish();
            return;
          }
        }
        await waiter.wait(signal);
      }
    } finally {
      waiter.close();
      await this.fh?.close();
      this.fh = undefined;
    }
  }

  /** Opens the file and positions it for --tail; false when nothing can be printed (--tail 0, --limit-bytes 0). */
  private async start(follow: boolean): Promise<boolean> {
    const fh = await openLog(this.path);
    this.fh = fh;
    const size = (await fh.stat()).size;
    const start = await findTailStart(fh, size, this.tail, {
      streams: this.streams,
      includeUnterminated: !follow,
      chunkBytes: this.chunkBytes,
    });
    this.stats.bytesRead += start.bytesRead;
    this.position = start.offset;
    this.linesToSkip = start.skipLines;
    // Like the kubelet's limitedMode: without --follow, --tail N prints at most N lines.
    if (!follow && this.tail >= 0) this.linesToEmit = this.tail;
    if (this.limitBytes >= 0) this.bytesLeft = this.limitBytes;
    return this.linesToEmit > 0 && this.bytesLeft > 0;
  }

  /**
   * Reads the next chunk of the open file and returns the lines it completes; undefined at the end of the
   * file, or once output is finished or aborted.
   */
  private async readChunk(): Promise<LogOutput[] | undefined> {
    if (this.isFinished || this.options.signal?.aborted) return undefined;
    const chunk = Buffer.alloc(this.chunkBytes);
    const { bytesRead } = await this.openFile().read(chunk, 0, chunk.length, this.position);
    if (bytesRead === 0) return undefined;
    this.position += bytesRead;
    this.stats.bytesRead += bytesRead;
    const data =
      this.carry.length > 0 ? Buffer.concat([this.carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
    const { outputs, rest } = this.takeLines(data);
    // Copy the rest: keeping a view would pin the whole chunk until the record's newline arrives.
    this.carry = Buffer.from(rest);
    return outputs;
  }

  /** Takes every newline-terminated record of data; `rest` is what follows the last newline. */
  private takeLines(data: Buffer): { outputs: LogOutput[]; rest: Buffer } {
    const outputs: LogOutput[] = [];
    let start = 0;
    for (let end = data.indexOf(NEWLINE); end >= 0 && !this.isFinished; end = data.indexOf(NEWLINE, start)) {
      const output = this.take(data.subarray(start, end));
      start = end + 1;
      if (output) outputs.push(output);
    }
    return { outputs, rest: data.subarray(start) };
  }

  /** At the end of the input: the last record without a newline and any open P runs are printed as they are. */
  private finish(): LogOutput[] {
    const outputs = this.takeCarry();
    for (const line of this.joiner.flush()) {
      if (this.isFinished || this.options.signal?.aborted) break;
      const output = this.deliver(line);
      if (output) outputs.push(output);
    }
    return outputs;
  }

  /** Takes the bytes after the last newline as a record: the file they were in has ended. */
  private takeCarry(): LogOutput[] {
    if (this.carry.length === 0 || this.isFinished || this.options.signal?.aborted) return [];
    const output = this.take(this.carry);
    this.carry = Buffer.alloc(0);
    return output ? [output] : [];
  }

  /** Parses one record and, when it completes a line, returns that line's output. */
  private take(recordBytes: Buffer): LogOutput | undefined {
    const parsed = parseCriRecord(recordBytes);
    if (!parsed.ok) {
      if (recordBytes.length > 0) this.stats.malformedLines += 1;
      return undefined;
    }
    if (!this.streams.has(parsed.record.stream)) return undefined;
    const line = this.joiner.push(parsed.record);
    return line ? this.deliver(line) : undefined;
  }

  /** Applies the tail skip, the line budget, --since, --timestamps and --limit-bytes to one line. */
  private deliver(line: JoinedLine): LogOutput | undefined {
    if (this.linesToSkip > 0) {
      this.linesToSkip -= 1;
      return undefined;
    }
    // As in the kubelet, a line older than --since still uses up one line of --tail.
    this.linesToEmit -= 1;
    if (this.linesToEmit <= 0) this.isFinished = true;
    if (this.options.since && line.time < this.options.since) return undefined;

    const parts: Buffer[] = [];
    if (this.options.timestamps) parts.push(Buffer.from(`${formatCriTimestamp(line.timestamp)} `, 'latin1'));
    parts.push(line.text);
    if (line.isComplete) parts.push(NEWLINE_BUFFER);
    let bytes = parts.length === 1 ? line.text : Buffer.concat(parts);
    if (bytes.length >= this.bytesLeft) {
      bytes = bytes.subarray(0, this.bytesLeft);
      this.isFinished = true;
    }
    this.bytesLeft -= bytes.length;
    return { stream: line.stream, bytes };
  }

  /**
   * At an end of file: whether the path names another file than the open one (the log was rotated). A missing
   * path means the rotation is half done (renamed, not yet reopened): conmon still writes into the open file,
   * so keep reading it.
   */
  private async isReplaced(): Promise<boolean> {
    const current = await stat(this.path, { bigint: true }).catch(() => undefined);
    if (current === undefined) return false;
    const opened = await this.openFile().stat({ bigint: true });
    return current.ino !== opened.ino || current.dev !== opened.dev;
  }

  /**
   * After the old file was drained: reads every file rotated after it (several rotations may have happened
   * since the follower last looked, and the ones between are rotated files by now, maybe compressed), then
   * continues with the live file from its first byte. Repeated while rotations keep happening under it.
   */
  private async catchUp(): Promise<LogOutput[]> {
    const outputs: LogOutput[] = [];
    let last = this.caughtUpTo ?? (await firstRecordOfHandle(this.openFile()));
    for (let round = 0; round < MAX_CATCH_UP_ROUNDS; round++) {
      if (last !== undefined) {
        for (const file of await rotatedAfter(await listRotatedLogs(this.path), last)) {
          const data = await readRotatedLog(file);
          if (data === undefined) continue; // removed by a later rotation: its lines are gone for every reader
          outputs.push(...this.takeWhole(data));
          this.stats.rotations += 1;
          last = firstRecordOf(data) ?? last;
        }
      }
      const live = await open(this.path, 'r').catch(() => undefined);
      if (live === undefined) {
        await delay(CATCH_UP_RETRY_MS); // renamed again, not yet reopened by conmon
        continue;
      }
      // Stable when no file was rotated after the last one read while the live file was being opened.
      const rotated = await listRotatedLogs(this.path);
      const newest = rotated.at(-1);
      const isStable =
        last === undefined || newest === undefined || (await firstRecordOfFile(newest))?.equals(last) === true;
      if (isStable || round === MAX_CATCH_UP_ROUNDS - 1) {
        await this.switchTo(live);
        return outputs;
      }
      await live.close();
    }
    // Only when the path stayed missing: keep the old file open; the next catch-up goes on after `last`.
    this.caughtUpTo = last;
    return outputs;
  }

  /** All records of a whole file that has ended (a rotated one), the last even without its newline. */
  private takeWhole(data: Buffer): LogOutput[] {
    const { outputs, rest } = this.takeLines(data);
    if (rest.length > 0 && !this.isFinished) {
      const output = this.take(rest);
      if (output) outputs.push(output);
    }
    return outputs;
  }

  /** Continues with `next` from its first byte, after the old file was drained. */
  private async switchTo(next: FileHandle): Promise<void> {
    await this.fh?.close();
    this.fh = next;
    this.position = 0;
    this.carry = Buffer.alloc(0);
    this.caughtUpTo = undefined;
    this.stats.rotations += 1;
  }

  private openFile(): FileHandle {
    if (!this.fh) throw new BerthError('INTERNAL', `log file "${this.path}" is not open`);
    return this.fh;
  }
}

async function openLog(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BerthError('NOT_FOUND', `log file "${path}" does not exist`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') {
      throw new BerthError('PERMISSION_DENIED', `log file "${path}" cannot be read`, { cause: err });
    }
    throw new BerthError('INTERNAL', `open log file "${path}": ${(err as Error).message}`, { cause: err });
  }
}

/** The bytes of data up to its first newline. */
function firstRecordOf(data: Buffer): Buffer | undefined {
  const end = data.indexOf(NEWLINE);
  return end < 0 ? undefined : data.subarray(0, end);
}
