/**
 * Terminal resize messages: the client writes JSON objects `{"Width":W,"Height":H}` back to back on the resize
 * stream (Go's json.Encoder, so usually newline-separated, but nothing guarantees it), and chunks may split or
 * join them. This splits the byte stream into objects by brace depth, outside JSON strings.
 */
import type { TerminalSize } from './stream-backend.js';

/** A runaway message (no closing brace) is dropped rather than buffered forever. */
const MAX_MESSAGE_BYTES = 4096;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class ResizeDecoder {
  private buffer: Buffer = Buffer.alloc(0);
  private depth = 0;
  private inString = false;
  private escaped = false;
  private start = -1;

  constructor(private readonly onSize: (size: TerminalSize) => void) {}

  push(chunk: Buffer): void {
    const offset = this.buffer.length;
    this.buffer = offset === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let consumed = 0;
    for (let i = offset; i < this.buffer.length; i++) {
      const byte = this.buffer[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (byte === BACKSLASH) this.escaped = true;
        else if (byte === QUOTE) this.inString = false;
        continue;
      }
      if (byte === QUOTE && this.depth > 0) this.inString = true;
      else if (byte === OPEN) {
        if (this.depth === 0) this.start = i;
        this.depth++;
      } else if (byte === CLOSE && this.depth > 0) {
        this.depth--;
        if (this.depth === 0) {
          this.emit(this.buffer.subarray(this.start, i + 1));
          consumed = i + 1;
        }
      } else if (this.depth === 0) {
        consumed = i + 1; // whitespace between messages
      }
    }
    this.buffer = this.buffer.subarray(consumed);
    if (this.depth === 0) this.start = -1;
    else this.start -= consumed;
    if (this.buffer.length > MAX_MESSAGE_BYTES) this.reset();
  }

  private emit(text: Buffer): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text.toString('utf8'));
    } catch {
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const { Width, Height } = parsed as { Width?: unknown; Height?: unknown };
    if (!isDimension(Width) || !isDimension(Height)) return;
    this.onSize({ width: Width, height: Height });
  }

  private reset(): void {
    this.buffer = Buffer.alloc(0);
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.start = -1;
  }
}

function isDimension(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff;
}
