import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatLogLine } from '../../../src/base/log-text.js';

const TIME = new Date(2026, 10, 22, 10, 4, 5, 123).getTime(); // local time, as the formatter prints it

describe('formatLogLine (berthd --log-format text)', () => {
  it('prints time, level, name and message, then the fields as key=value', () => {
    const line = JSON.stringify({
      level: 30,
      time: TIME,
      pid: 42,
      name: 'berthd',
      msg: 'berthd is serving',
      socket: '/run/berth/berth.sock',
      port: 8080,
      ready: true,
      labels: { app: 'web' },
      note: 'two words',
    });
    assert.equal(
      formatLogLine(`${line}\n`),
      '2026-11-22 10:04:05.123 INFO  berthd: berthd is serving socket=/run/berth/berth.sock port=8080 ready=true ' +
        'labels={"app":"web"} note="two words"\n',
    );
  });

  it('puts an error message on the line and its stack below it, indented', () => {
    const line = JSON.stringify({
      level: 60,
      time: TIME,
      name: 'berthd',
      msg: 'startup failed',
      err: { type: 'BerthError', message: 'socket in use', stack: 'BerthError: socket in use\n    at start' },
    });
    assert.equal(
      formatLogLine(line),
      '2026-11-22 10:04:05.123 FATAL berthd: startup failed err="socket in use"\n' +
        '    BerthError: socket in use\n' +
        '        at start\n',
    );
  });

  it('passes a line that is not JSON through', () => {
    assert.equal(formatLogLine('plain text'), 'plain text\n');
  });
});
