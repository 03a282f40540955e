/**
 * The CRI container log line format, as conmon's k8s-file driver and the kubelet write it:
 *
 *   <RFC3339Nano timestamp> <stdout|stderr> <tag> <text>\n
 *
 * The tag is `F` (this record ends a line) or `P` (a partial line, continued by the next record of the same
 * stream), optionally followed by more `:`-separated parts that readers must ignore (kubelet's LogTagDelimiter,
 * kept for forward compatibility). conmon writes local time with an offset (`+01:00`), the kubelet writes `Z`:
 * readers accept any RFC3339Nano, with or without a fraction. This module parses records and formats the
 * timestamp prefix exactly as `crictl logs --timestamps` prints it (Go's RFC3339NanoFixed: nine fraction digits,
 * the original offset, `Z` for a zero offset), so `berth logs -t` output can be diffed against crictl's.
 */

export type CriStream = 'stdout' | 'stderr';

/** One parsed record; `text` excludes the record's terminating newline. */
export interface CriLogRecord {
  /** The instant, truncated (never rounded) to milliseconds, so `time >= since` agrees with the exact value. */
  readonly time: Date;
  /** The timestamp as written in the file, nanoseconds and offset included. */
  readonly timestamp: string;
  readonly stream: CriStream;
  readonly isPartial: boolean;
  readonly text: string;
}

/** The same record with its text kept as bytes: container output need not be UTF-8. */
export interface CriLogRecordBytes extends Omit<CriLogRecord, 'text'> {
  readonly text: Buffer;
}

export type CriParseResult<R> =
  { readonly ok: true; readonly record: R } | { readonly ok: false; readonly reason: string };

const SPACE = 0x20;
const NEWLINE = 0x0a;
/** Longest timestamp: 2006-01-02T15:04:05.999999999+07:00 is 35 bytes; allow some slack before giving up. */
const MAX_TIMESTAMP_BYTES = 40;

const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an RFC3339Nano timestamp (Go's RFC3339NanoLenient layout); undefined when it is not one. */
export function parseCriTimestamp(text: string): Date | undefined {
  const m = TIMESTAMP_RE.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const fraction = m[7] ?? '';
  const zone = m[8] ?? 'Z';
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // Go's time.Parse refuses a leap second (60) too.
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const offsetHours = Number(zone.slice(1, 3));
    const offsetMins = Number(zone.slice(4, 6));
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3));
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0..99 to 1900..1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millis);
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * The timestamp as `crictl logs --timestamps` prints it: the writer's own local time and offset, nine fraction
 * digits, and `Z` for any zero offset (Go formats a zero-offset zone with the `Z07:00` layout as `Z`).
 * Expects a timestamp that parseCriTimestamp accepted; anything else is returned unchanged.
 */
export function formatCriTimestamp(timestamp: string): string {
  const m = TIMESTAMP_RE.exec(timestamp);
  if (!m) return timestamp;
  const zone = m[8] === '+00:00' || m[8] === '-00:00' ? 'Z' : (m[8] ?? 'Z');
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${(m[7] ?? '').padEnd(9, '0')}${zone}`;
}

/**
 * Parses one record given as bytes, with or without its terminating newline. The header is ASCII; the text is
 * returned as a view into `line` (no copy), so callers that keep it past the buffer's reuse must copy it.
 */
export function parseCriRecord(line: Buffer): CriParseResult<CriLogRecordBytes> {
  const end = line.length > 0 && line[line.length - 1] === NEWLINE ? line.length - 1 : line.length;
  const timeEnd = line.indexOf(SPACE);
  if (timeEnd < 0 || timeEnd >= end || timeEnd > MAX_TIMESTAMP_BYTES) {
    return { ok: false, reason: 'timestamp is not found' };
  }
  const timestamp = line.toString('latin1', 0, timeEnd);
  const time = parseCriTimestamp(timestamp);
  if (!time) return { ok: false, reason: `timestamp "${timestamp}" is not RFC3339Nano` };

  const streamEnd = line.indexOf(SPACE, timeEnd + 1);
  if (streamEnd < 0 || streamEnd >= end) return { ok: false, reason: 'stream type is not found' };
  const stream = line.toString('latin1', timeEnd + 1, streamEnd);
  if (stream !== 'stdout' && stream !== 'stderr') return { ok: false, reason: `stream type "${stream}" is unknown` };

  // As in the kubelet, the tag must be followed by a space even when the text is empty.
  const tagEnd = line.indexOf(SPACE, streamEnd + 1);
  if (tagEnd < 0 || tagEnd >= end) return { ok: false, reason: 'log tag is not found' };
  const tag = line.toString('latin1', streamEnd + 1, tagEnd).split(':')[0];
  if (tag !== 'P' && tag !== 'F') return { ok: false, reason: `log tag "${tag ?? ''}" is neither P nor F` };

  return {
    ok: true,
    record: { time, timestamp, stream, isPartial: tag === 'P', text: line.subarray(tagEnd + 1, end) },
  };
}

/** Parses one record given as a string (one line of the file, with or without its newline). */
export function parseCriLogLine(line: string): CriParseResult<CriLogRecord> {
  const parsed = parseCriRecord(Buffer.from(line, 'utf8'));
  if (!parsed.ok) return parsed;
  return { ok: true, record: { ...parsed.record, text: parsed.record.text.toString('utf8') } };
}
