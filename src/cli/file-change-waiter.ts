/**
 * Waits for "something may have changed" on a followed file: an fs.watch event, or a stat poll tick.
 * fs.watch alone is not enough: inotify misses changes on some filesystems (overlay, NFS), a watch on a
 * renamed file keeps reporting the old inode, and a path that does not exist yet cannot be watched. The poll
 * interval bounds how late a change is seen; the watch makes the common case (appends) immediate.
 * No busy loop: between events the caller sleeps on one timer.
 */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';

export const DEFAULT_POLL_MS = 250;

export class FileChangeWaiter {
  private watcher: FSWatcher | undefined;
  private watchedPath: string | undefined;
  /** Set by an event that arrived while nobody waited, so the next wait returns at once. */
  private hasPendingEvent = false;
  private wake: (() => void) | undefined;
  private isClosed = false;

  constructor(private readonly pollMs: number = DEFAULT_POLL_MS) {}

  /**
   * Watches `path` (the file currently open). Call again after the file was replaced: an inotify watch
   * follows the inode, not the name. A path that cannot be watched is left to the poll.
   */
  watch(path: string): void {
    if (this.isClosed) return;
    this.unwatch();
    try {
      // persistent: false because the poll timer is what keeps a following CLI alive.
      const watcher = watch(path, { persistent: false }, () => this.notify());
      watcher.on('error', () => this.unwatch());
      this.watcher = watcher;
      this.watchedPath = path;
    } catch {
      this.watchedPath = undefined;
    }
  }

  get isWatching(): boolean {
    return this.watchedPath !== undefined;
  }

  /** Resolves on the next watch event, after pollMs, or when `signal` aborts, whichever comes first. */
  async wait(signal?: AbortSignal): Promise<void> {
    if (this.hasPendingEvent || this.isClosed || signal?.aborted) {
      this.hasPendingEvent = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.pollMs);
      signal?.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
    this.hasPendingEvent = false;
  }

  close(): void {
    this.isClosed = true;
    this.unwatch();
    this.wake?.();
  }

  private notify(): void {
    if (this.wake) this.wake();
    else this.hasPendingEvent = true;
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.watchedPath = undefined;
  }
}
