/**
 * Rotates the CRI log files of running containers when no kubelet does (the berth CLI, crictl without a
 * kubelet): every interval it checks each log's size and rotates the ones at `container_log_max_size` or more,
 * with the kubelet's naming, compression and file count (log-rotation.ts has the policy).
 *
 * No line is lost: conmon keeps writing into the renamed file through its open descriptor until it reopens,
 * and conmon's reopen (ctl FIFO "2 0 0") closes that descriptor before it renames the new file into place
 * (conmon ctr_logging.c reopen_k8s_file), so every line is in exactly one file, in order. A reader that
 * follows the path (`berth logs -f`, the kubelet) drains the old file when the path names a new one.
 * A rotated file is compressed only at the next rotation, long after conmon let go of it.
 *
 * If the reopen fails (the container exited meanwhile), the file is renamed back, as the kubelet does, unless
 * conmon created the new file after all. A log that is missing while its container runs (berthd stopped
 * between rename and reopen) is reopened, unless its directory is gone too: conmon exits when it cannot
 * create the new file.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { wrap } from '../base/errors.js';
import type { Logger } from '../base/logger.js';
import { isRotatedByBerth, planRotation } from './log-rotation.js';
import type { LogRotationMode } from './log-rotation.js';

/** A running container's log, as the container service lists it. */
export interface ContainerLogFile {
  readonly id: string;
  readonly namespace: string;
  /** Absolute path of the live CRI log file. */
  readonly logPath: string;
  readonly podLabels: Readonly<Record<string, string>>;
}

export interface LogRotatorOptions {
  readonly mode: LogRotationMode;
  readonly maxSizeBytes: number;
  /** Files kept per container, the live one included (>= 2). */
  readonly maxFiles: number;
  readonly intervalMs: number;
  readonly containers: {
    runningLogs(): readonly ContainerLogFile[];
    /** ReopenContainerLog: resolves once the new file exists. */
    reopenLog(namespace: string, id: string): Promise<void>;
  };
  readonly log: Logger;
  readonly now?: () => Date;
}

export type RotationOutcome = 'rotated' | 'reopened' | 'small' | 'skipped' | 'failed';

/** Rotations at once: each may gzip a file of max size; one or two keep the disk and the event loop calm. */
const ROTATE_CONCURRENCY = 2;

export class LogRotator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private isClosed = false;
  private readonly now: () => Date;

  constructor(private readonly opts: LogRotatorOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /** Starts the periodic check; nothing to do in mode "never". */
  start(): void {
    if (this.opts.mode === 'never' || this.timer !== undefined || this.isClosed) return;
    this.timer = setInterval(() => {
      // A slow round (many big files to compress) is not overlapped by the next one.
      this.running ??= this.checkAll()
        .then(
          () => undefined,
          (err: unknown) => this.opts.log.warn({ err }, 'container log check failed'),
        )
        .finally(() => {
          this.running = undefined;
        });
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a round in flight; idempotent. */
  async close(): Promise<void> {
    this.isClosed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round: every running container whose pod the mode selects; resolves with each one's outcome. */
  async checkAll(): Promise<Map<string, RotationOutcome>> {
    const started = performance.now();
    const logs = this.opts.containers
      .runningLogs()
      .filter((c) => c.logPath !== '' && isRotatedByBerth(this.opts.mode, c.podLabels));
    const outcomes = new Map<string, RotationOutcome>();
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let c = logs[next++]; c !== undefined && !this.isClosed; c = logs[next++]) {
        outcomes.set(c.id, await this.check(c));
      }
    };
    await Promise.all(Array.from({ length: Math.min(ROTATE_CONCURRENCY, logs.length) }, worker));
    const rotated = [...outcomes.values()].filter((o) => o === 'rotated').length;
    if (rotated > 0) {
      this.opts.log.debug({ rotated, checked: logs.length, ms: Math.round(performance.now() - started) }, 'log round');
    }
    return outcomes;
  }

  private async check(c: ContainerLogFile): Promise<RotationOutcome> {
    const log = this.opts.log;
    try {
      const size = await stat(c.logPath).then(
        (st) => st.size,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        },
      );
      if (size === undefined) {
        // conmon exits if it cannot create the new file (pexit in reopen_k8s_file): never ask it to when the
        // directory itself is gone (someone removed the pod's logs); the container keeps running unlogged.
        const hasDir = await stat(dirname(c.logPath)).then(
          (st) => st.isDirectory(),
          () => false,
        );
        if (!hasDir) {
          log.debug({ container: c.id, path: c.logPath }, 'log directory is gone; not reopening the log');
          return 'skipped';
        }
        await this.opts.containers.reopenLog(c.namespace, c.id);
        log.info({ container: c.id, path: c.logPath }, 'container log was missing; reopened it');
        return 'reopened';
      }
      if (size < this.opts.maxSizeBytes) return 'small';
      return await this.rotate(c, size);
    } catch (err) {
      log.warn({ err, container: c.id, path: c.logPath }, 'container log rotation failed');
      return 'failed';
    }
  }

  private async rotate(c: ContainerLogFile, sizeBytes: number): Promise<RotationOutcome> {
    const dir = dirname(c.logPath);
    const plan = planRotation(basename(c.logPath), await readdir(dir), this.opts.maxFiles, this.now());
    if (plan.rotateTo === undefined) {
      this.opts.log.debug({ container: c.id }, 'log rotated less than a second ago; rotating at the next check');
      return 'skipped';
    }
    for (const name of plan.remove) await rm(join(dir, name), { force: true });
    for (const name of plan.compress) await gzipFile(join(dir, name));
    const rotated = join(dir, plan.rotateTo);
    await rename(c.logPath, rotated);
    try {
      await this.opts.containers.reopenLog(c.namespace, c.id);
    } catch (err) {
      const hasNewFile = await stat(c.logPath).then(
        () => true,
        () => false,
      );
      // conmon did not create a new file: give the lines back their name, so nothing looks lost.
      if (!hasNewFile) await rename(rotated, c.logPath);
      throw wrap(err, `reopen the log after renaming it to ${plan.rotateTo}`);
    }
    this.opts.log.info(
      { container: c.id, path: c.logPath, rotatedTo: plan.rotateTo, sizeBytes, removed: plan.remove.length },
      'container log rotated',
    );
    return 'rotated';
  }
}

/** `<path>` -> `<path>.gz` through `<path>.tmp` (the kubelet's temporary name), then the plain file goes. */
async function gzipFile(path: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const mode = (await stat(path)).mode & 0o777;
  try {
    await pipeline(createReadStream(path), createGzip(), createWriteStream(tmp, { mode }));
    await rename(tmp, `${path}.gz`);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await rm(path, { force: true });
}
