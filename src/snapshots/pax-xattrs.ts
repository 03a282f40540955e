/**
 * Raw xattr values from a layer tar's pax headers. tar-stream decodes pax records as UTF-8, which loses values
 * that are not valid UTF-8 (security.capability masks with bytes >= 0x80, e.g. cap_setuid). This tap sees the same
 * uncompressed bytes before tar-stream does, walks the 512-byte headers itself, and keeps each entry's
 * `SCHILY.xattr.*` values as raw bytes, in entry order: the applier takes one set per entry tar-stream emits.
 * It reads only headers and pax data; entry contents are skipped by length.
 */
const BLOCK = 512;
const XATTR_PREFIX = 'SCHILY.xattr.';
/** Pax data larger than this is not kept (tar-stream refuses such layers anyway). */
const MAX_PAX_BYTES = 16 * 1024 * 1024;

type State =
  | { readonly kind: 'header' }
  | { readonly kind: 'skip'; remaining: number }
  | { readonly kind: 'pax'; remaining: number; padding: number; readonly chunks: Buffer[] };

/** "<length> <key>=<value>\n" records, lengths counting bytes: keys as text, values as raw bytes. */
export function parsePaxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space < 0) break;
    const length = Number(data.subarray(offset, space).toString('latin1'));
    if (!Number.isInteger(length) || length <= 0 || offset + length > data.length) break;
    const record = data.subarray(space + 1, offset + length - 1); // without the trailing "\n"
    const eq = record.indexOf(0x3d);
    if (eq > 0) out.set(record.subarray(0, eq).toString('utf8'), Buffer.from(record.subarray(eq + 1)));
    offset += length;
  }
  return out;
}

/** The size field of a header: octal text, or GNU base-256 when the first byte has its high bit set. */
export function headerSize(header: Buffer): number {
  const field = header.subarray(124, 136);
  if ((field[0]! & 0x80) !== 0) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text === '' ? 0 : parseInt(text, 8);
}

const padded = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

export class PaxXattrTap {
  private state: State = { kind: 'header' };
  private header = Buffer.alloc(0);
  /** Records of the pax header that applies to the next entry. */
  private pending = new Map<string, Buffer>();
  private readonly entries: Map<string, Buffer>[] = [];

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      const state = this.state;
      if (state.kind === 'skip') {
        const n = Math.min(state.remaining, chunk.length - offset);
        state.remaining -= n;
        offset += n;
        if (state.remaining === 0) this.state = { kind: 'header' };
      } else if (state.kind === 'pax') {
        const n = Math.min(state.remaining, chunk.length - offset);
        if (n > 0 && state.chunks.length < MAX_PAX_BYTES) state.chunks.push(chunk.subarray(offset, offset + n));
        state.remaining -= n;
        offset += n;
        if (state.remaining === 0) {
          for (const [key, value] of parsePaxRecords(Buffer.concat(state.chunks))) this.pending.set(key, value);
          this.state = state.padding > 0 ? { kind: 'skip', remaining: state.padding } : { kind: 'header' };
        }
      } else {
        const n = Math.min(BLOCK - this.header.length, chunk.length - offset);
        this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + n)]);
        offset += n;
        if (this.header.length === BLOCK) this.onHeader(this.header);
      }
    }
  }

  /** The raw xattrs of the next entry tar-stream emits (empty when it had none). */
  next(): Map<string, Buffer> {
    return this.entries.shift() ?? new Map<string, Buffer>();
  }

  private onHeader(header: Buffer): void {
    this.header = Buffer.alloc(0);
    if (header.every((b) => b === 0)) return; // end-of-archive blocks
    const type = String.fromCharCode(header[156]!);
    let size = headerSize(header);
    if (type === 'x') {
      this.state =
        size > 0 ? { kind: 'pax', remaining: size, padding: padded(size) - size, chunks: [] } : { kind: 'header' };
      return;
    }
    if (type === 'g' || type === 'L' || type === 'K') {
      this.state = size > 0 ? { kind: 'skip', remaining: padded(size) } : { kind: 'header' };
      return;
    }
    // A real entry: it takes the pending pax records (whose "size" overrides the header's).
    const paxSize = this.pending.get('size');
    if (paxSize !== undefined) size = Number(paxSize.toString('latin1'));
    const xattrs = new Map<string, Buffer>();
    for (const [key, value] of this.pending) {
      if (key.startsWith(XATTR_PREFIX)) xattrs.set(key.slice(XATTR_PREFIX.length), value);
    }
    this.entries.push(xattrs);
    this.pending = new Map();
    // As tar-stream reads it: every entry but a directory is followed by `size` bytes of data.
    const dataSize = type === '5' ? 0 : size;
    this.state = dataSize > 0 ? { kind: 'skip', remaining: padded(dataSize) } : { kind: 'header' };
  }
}
