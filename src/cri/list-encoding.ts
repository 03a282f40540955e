/**
 * List answers spliced from pre-encoded entries (issue #7). kubelet lists every container and pod every second,
 * and encoding ListContainers for 1000 containers with ts-proto took ~1.5 ms and most of the garbage of the call,
 * though entries change rarely. Each entry's bytes (a CRI `Container` or `PodSandbox` message) are encoded
 * once per version of its record and kept; an answer is those bytes, each behind the tag and length of the
 * response's repeated field, which is exactly what ts-proto writes for the whole response.
 *
 * The domain records are immutable values, replaced (never changed in place) on every state change, so the
 * record object itself is the version stamp: the cache is a WeakMap keyed by it, and an entry goes away with the
 * record it encodes. What an entry also depends on outside its record (the image digest of a container) is its
 * `variant`, compared on each read.
 */
import { EncodedMessage } from './server.js';

/** Protobuf wire type of length-delimited fields (messages, strings, bytes). */
const WIRE_LENGTH_DELIMITED = 2;
const VARINT_PAYLOAD_BITS = 7;
const VARINT_MORE = 0x80;
const VARINT_LOW_BITS = 0x7f;

/**
 * Answers remembered per EntryCache: kubelet asks the same few lists (all containers, all pods, one pod's) over
 * and over, and between changes an answer is the same bytes; handing grpc-js the same Buffer again saves
 * building a large one per call (a copy of ~0.5 MB, and garbage) for the price of comparing entry references.
 */
const REMEMBERED_ANSWERS = 4;

interface Answer {
  readonly entries: readonly Uint8Array[];
  readonly bytes: Buffer;
}

interface CachedEntry {
  readonly variant: string;
  /** Tag, length and message bytes of one element of the repeated field. */
  readonly bytes: Uint8Array;
}

/** Pre-encoded elements of one repeated message field, by record. */
export class EntryCache<R extends object> {
  private readonly entries = new WeakMap<R, CachedEntry>();
  private readonly tagBytes: Uint8Array;
  /** Most recently used first. */
  private answers: Answer[] = [];

  /**
   * @param field the number of the repeated field in the response (1 for ListContainersResponse.containers)
   * @param encode the element message's bytes for a record and variant (ts-proto's `encode(...).finish()`)
   */
  constructor(
    field: number,
    private readonly encode: (record: R, variant: string) => Uint8Array,
  ) {
    this.tagBytes = varint((field << 3) | WIRE_LENGTH_DELIMITED);
  }

  /** The element's tag, length and message bytes, encoded now only if the record or variant is new. */
  bytesOf(record: R, variant = ''): Uint8Array {
    const cached = this.entries.get(record);
    if (cached !== undefined && cached.variant === variant) return cached.bytes;
    const message = this.encode(record, variant);
    const length = varint(message.length);
    const bytes = new Uint8Array(this.tagBytes.length + length.length + message.length);
    bytes.set(this.tagBytes, 0);
    bytes.set(length, this.tagBytes.length);
    bytes.set(message, this.tagBytes.length + length.length);
    this.entries.set(record, { variant, bytes });
    return bytes;
  }

  /**
   * A response message T whose only field set is this cache's repeated field, with these elements (from
   * bytesOf): their concatenation, or the same bytes as a recent answer with the same elements.
   */
  splice<T>(entries: readonly Uint8Array[]): EncodedMessage<T> {
    const index = this.answers.findIndex((a) => sameEntries(a.entries, entries));
    const answer = index >= 0 ? this.answers[index]! : { entries, bytes: Buffer.concat(entries) };
    if (index !== 0) {
      this.answers = [answer, ...this.answers.filter((a) => a !== answer)].slice(0, REMEMBERED_ANSWERS);
    }
    return new EncodedMessage<T>(answer.bytes);
  }
}

function sameEntries(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The protobuf base-128 varint of a non-negative integer below 2^32 (tags and lengths). */
export function varint(value: number): Uint8Array {
  const bytes: number[] = [];
  let rest = value >>> 0;
  while (rest > VARINT_LOW_BITS) {
    bytes.push((rest & VARINT_LOW_BITS) | VARINT_MORE);
    rest >>>= VARINT_PAYLOAD_BITS;
  }
  bytes.push(rest);
  return Uint8Array.from(bytes);
}
