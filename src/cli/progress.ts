/**
 * Per-blob transfer progress for `berth pull` and `berth push`: on a terminal, one line per blob redrawn in
 * place (bar, bytes, state); otherwise one plain line each time a blob changes state, so logs and pipes get a
 * readable record instead of escape codes.
 */
import { humanSize } from './format.js';

export interface TransferItem {
  readonly digest: string;
  readonly state: string;
  readonly currentBytes: bigint;
  readonly totalBytes: bigint;
}

const BAR_WIDTH = 30;
const ESC = '\u001b[';

function shortDigest(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** "[=========>          ]" for current/total; full when total is 0 (nothing to move). */
export function bar(current: bigint, total: bigint, width = BAR_WIDTH): string {
  const ratio = total <= 0n ? 1 : Math.min(1, Number(current) / Number(total));
  const filled = Math.floor(ratio * width);
  const body = filled >= width ? '='.repeat(width) : `${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}`;
  return `[${body}]`;
}

export function formatItem(item: TransferItem): string {
  const moving = item.state === 'downloading' || item.state === 'uploading';
  const bytes = `${humanSize(item.currentBytes)}/${humanSize(item.totalBytes)}`;
  return moving
    ? `${shortDigest(item.digest)}: ${item.state.padEnd(11)} ${bar(item.currentBytes, item.totalBytes)} ${bytes}`
    : `${shortDigest(item.digest)}: ${item.state.padEnd(11)} ${humanSize(item.totalBytes)}`;
}

/** The escape sequence that replaces the previous frame of `previousLines` lines with `items`. */
export function renderFrame(items: readonly TransferItem[], previousLines: number): string {
  const up = previousLines > 0 ? `${ESC}${previousLines}F` : '';
  return up + items.map((i) => `${ESC}2K${formatItem(i)}\n`).join('');
}

export class ProgressView {
  private lines = 0;
  private readonly lastState = new Map<string, string>();

  constructor(private readonly out: NodeJS.WriteStream) {}

  update(items: readonly TransferItem[]): void {
    if (this.out.isTTY) {
      this.out.write(renderFrame(items, this.lines));
      this.lines = items.length;
      return;
    }
    for (const item of items) {
      if (
        this.lastState.get(item.digest) === item.state ||
        item.state === 'downloading' ||
        item.state === 'uploading'
      ) {
        continue;
      }
      this.lastState.set(item.digest, item.state);
      this.out.write(`${formatItem(item)}\n`);
    }
  }
}
