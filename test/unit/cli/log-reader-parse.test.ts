import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatCriTimestamp, parseCriLogLine, parseCriRecord, parseCriTimestamp } from '../../../src/cli/cri-log.js';

function parsed(line: string) {
  const result = parseCriLogLine(line);
  assert.ok(result.ok, `expected "${line}" to parse: ${result.ok ? '' : result.reason}`);
  return result.record;
}

function reasonOf(line: string): string {
  const result = parseCriLogLine(line);
  assert.equal(result.ok, false, `expected "${line}" to be refused`);
  return result.ok ? '' : result.reason;
}

describe('CRI log line parsing', () => {
  it('parses a kubelet-style line with a Z timestamp', () => {
    const r = parsed('2016-10-06T00:17:09.669794202Z stdout F log content 1');
    assert.equal(r.timestamp, '2016-10-06T00:17:09.669794202Z');
    assert.equal(r.time.toISOString(), '2016-10-06T00:17:09.669Z');
    assert.equal(r.stream, 'stdout');
    assert.equal(r.isPartial, false);
    assert.equal(r.text, 'log content 1');
  });

  it('parses a conmon-style line with an offset, converting to the same instant', () => {
    const r = parsed('2026-11-22T18:40:01.123456789+01:30 stderr P half a line');
    assert.equal(r.time.toISOString(), '2026-11-22T17:10:01.123Z');
    assert.equal(r.stream, 'stderr');
    assert.equal(r.isPartial, true);
    assert.equal(r.text, 'half a line');
    assert.equal(parsed('2026-11-22T18:40:01.5-05:00 stdout F x').time.toISOString(), '2026-11-22T23:40:01.500Z');
    assert.equal(
      parsed('2026-11-22T18:40:01.123456789+00:00 stdout F x').time.toISOString(),
      '2026-11-22T18:40:01.123Z',
    );
  });

  it('truncates nanoseconds to milliseconds rather than rounding', () => {
    assert.equal(parsed('2026-01-01T00:00:00.999999999Z stdout F x').time.toISOString(), '2026-01-01T00:00:00.999Z');
  });

  it('accepts a timestamp without a fraction, and RFC3339 at any fraction length', () => {
    assert.equal(parsed('2026-01-01T00:00:00Z stdout F x').time.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(parsed('2026-01-01T00:00:00.1Z stdout F x').time.toISOString(), '2026-01-01T00:00:00.100Z');
  });

  it('keeps the text as written: spaces, an empty text, and a trailing newline stripped', () => {
    assert.equal(parsed('2026-01-01T00:00:00Z stdout F  two  spaces ').text, ' two  spaces ');
    assert.equal(parsed('2026-01-01T00:00:00Z stdout F ').text, '');
    assert.equal(parsed('2026-01-01T00:00:00Z stdout F x\n').text, 'x');
    assert.equal(parsed('2026-01-01T00:00:00Z stdout F héllo wörld').text, 'héllo wörld');
  });

  it('reads only the first part of a ":"-separated tag (forward compatibility)', () => {
    assert.equal(parsed('2026-01-01T00:00:00Z stdout P:extra x').isPartial, true);
    assert.equal(parsed('2026-01-01T00:00:00Z stdout F:extra x').isPartial, false);
  });

  it('refuses malformed lines with a reason', () => {
    assert.match(reasonOf(''), /timestamp is not found/);
    assert.match(reasonOf('just some text'), /not RFC3339Nano|timestamp is not found/);
    assert.match(reasonOf('2026-01-01 00:00:00 stdout F x'), /not RFC3339Nano/);
    assert.match(reasonOf('2026-13-01T00:00:00Z stdout F x'), /not RFC3339Nano/);
    assert.match(reasonOf('2026-02-30T00:00:00Z stdout F x'), /not RFC3339Nano/);
    assert.match(reasonOf('2026-01-01T24:00:00Z stdout F x'), /not RFC3339Nano/);
    assert.match(reasonOf('2026-01-01T00:00:00.1234567890Z stdout F x'), /not RFC3339Nano/);
    assert.match(reasonOf('2026-01-01T00:00:00+0100 stdout F x'), /not RFC3339Nano/);
    assert.match(reasonOf('2026-01-01T00:00:00Z stdin F x'), /stream type "stdin"/);
    assert.match(reasonOf('2026-01-01T00:00:00Z stdout'), /stream type is not found/);
    assert.match(reasonOf('2026-01-01T00:00:00Z stdout X text'), /neither P nor F/);
    assert.match(reasonOf('2026-01-01T00:00:00Z stdout F'), /log tag is not found/);
    assert.match(reasonOf('{"log":"docker json","stream":"stdout"}'), /timestamp/);
  });

  it('parses bytes without decoding the text', () => {
    const line = Buffer.concat([
      Buffer.from('2026-01-01T00:00:00Z stdout F '),
      Buffer.from([0xff, 0xfe, 0x00]),
      Buffer.from('\n'),
    ]);
    const result = parseCriRecord(line);
    assert.ok(result.ok);
    assert.deepEqual([...result.record.text], [0xff, 0xfe, 0x00]);
  });

  it('accepts leap years and refuses invalid offsets', () => {
    assert.ok(parseCriTimestamp('2024-02-29T00:00:00Z'));
    assert.equal(parseCriTimestamp('2023-02-29T00:00:00Z'), undefined);
    assert.equal(parseCriTimestamp('2024-01-01T00:00:00+24:00'), undefined);
    assert.equal(parseCriTimestamp('2024-01-01T00:00:60Z'), undefined);
  });
});

describe('timestamp output (crictl --timestamps)', () => {
  it('pads the fraction to nine digits and keeps the writer offset', () => {
    assert.equal(formatCriTimestamp('2026-11-22T18:40:01.123+01:00'), '2026-11-22T18:40:01.123000000+01:00');
    assert.equal(formatCriTimestamp('2026-11-22T18:40:01-07:30'), '2026-11-22T18:40:01.000000000-07:30');
    assert.equal(formatCriTimestamp('2026-11-22T18:40:01.123456789Z'), '2026-11-22T18:40:01.123456789Z');
  });

  it('writes a zero offset as Z, as Go does', () => {
    assert.equal(formatCriTimestamp('2026-11-22T18:40:01.1+00:00'), '2026-11-22T18:40:01.100000000Z');
    assert.equal(formatCriTimestamp('2026-11-22T18:40:01.1-00:00'), '2026-11-22T18:40:01.100000000Z');
  });
});
