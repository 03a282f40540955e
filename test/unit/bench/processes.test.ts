import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addMemory,
  parseCmdline,
  parseSmapsRollup,
  parseStatPpid,
  selectDaemonProcesses,
  sumMemory,
} from '../../../bench/processes.js';
import type { ProcessInfo } from '../../../bench/processes.js';

const SMAPS_ROLLUP = `55d0c0a8e000-7ffd4b5f2000 ---p 00000000 00:00 0                          [rollup]
Rss:                1856 kB
Pss:                 412 kB
Pss_Dirty:           180 kB
Pss_Anon:            176 kB
Pss_File:            236 kB
Shared_Clean:       1440 kB
Private_Dirty:       180 kB
Swap:                  0 kB
SwapPss:               0 kB
`;

test('parseSmapsRollup reads Rss and Pss, not the Pss_* breakdown', () => {
  assert.deepEqual(parseSmapsRollup(SMAPS_ROLLUP), { rssKiB: 1856, pssKiB: 412 });
});

test('parseSmapsRollup counts a missing field (an exited process, an empty read) as 0', () => {
  assert.deepEqual(parseSmapsRollup(''), { rssKiB: 0, pssKiB: 0 });
  assert.deepEqual(parseSmapsRollup('Rss:  8 kB\n'), { rssKiB: 8, pssKiB: 0 });
});

test('parseStatPpid counts fields after the last parenthesis of the command name', () => {
  assert.equal(parseStatPpid('4242 (conmon) S 1 4241 4241 0 -1 4194624 1 0'), 1);
  // comm may hold spaces and parentheses
  assert.equal(parseStatPpid('77 (a (b) c) R 4242 77 77 0'), 4242);
  assert.equal(parseStatPpid('no parenthesis here'), undefined);
  assert.equal(parseStatPpid('1 (x)'), undefined);
});

test('parseCmdline splits on NUL and drops the trailing one', () => {
  assert.deepEqual(parseCmdline('/usr/bin/conmon\0-c\0abc\0'), ['/usr/bin/conmon', '-c', 'abc']);
  assert.deepEqual(parseCmdline(''), []);
  assert.deepEqual(parseCmdline('/pause\0-P\0'), ['/pause', '-P']);
});

test('sumMemory and addMemory add Rss and Pss apart', () => {
  assert.deepEqual(
    sumMemory([
      { rssKiB: 10, pssKiB: 4 },
      { rssKiB: 5, pssKiB: 1 },
    ]),
    { rssKiB: 15, pssKiB: 5 },
  );
  assert.deepEqual(sumMemory([]), { rssKiB: 0, pssKiB: 0 });
  assert.deepEqual(addMemory({ rssKiB: 1, pssKiB: 2 }, { rssKiB: 3, pssKiB: 4 }), { rssKiB: 4, pssKiB: 6 });
});

const DIR = '/tmp/berth-bench-x-AbC123';
const OTHER_DIR = '/tmp/berth-bench-x-AbC1234';

function proc(pid: number, ppid: number, ...argv: string[]): ProcessInfo {
  return { pid, ppid, argv };
}

test("berth: conmon processes with the daemon's dir in their arguments, no pause", () => {
  const table = [
    proc(100, 1, '/usr/bin/node', 'dist/src/daemon/main.js', '--config', `${DIR}/config.toml`),
    proc(200, 1, '/usr/bin/conmon', '-c', 'c1', '-b', `${DIR}/state/containers/c1/bundle`),
    proc(201, 200, '/bin/sleep', '3600'),
    proc(300, 1, '/usr/bin/conmon', '-c', 'c2', '-b', `${OTHER_DIR}/state/containers/c2/bundle`),
    proc(400, 1, 'conmon', '-b', DIR),
    proc(500, 100, '/usr/sbin/runc', '--root', `${DIR}/state/runc`, 'start', 'c3'),
    proc(600, 1, '/usr/bin/conmon-helper', '-b', `${DIR}/x`),
  ];
  assert.deepEqual(selectDaemonProcesses(table, { name: 'berth', dir: DIR }), { monitors: [200, 400], pauses: [] });
});

test("containerd: shims started with the daemon's address, and the /pause children of those shims", () => {
  const shim = (pid: number, dir: string, id: string): ProcessInfo =>
    proc(
      pid,
      1,
      '/usr/bin/containerd-shim-runc-v2',
      '-namespace',
      'k8s.io',
      '-id',
      id,
      '-address',
      `${dir}/containerd.sock`,
    );
  const table = [
    proc(100, 1, '/usr/bin/containerd', '--config', `${DIR}/config.toml`),
    shim(200, DIR, 'p1'),
    proc(201, 200, '/pause', '-P'),
    proc(202, 200, '/bin/sleep', '3600'),
    shim(300, OTHER_DIR, 'p2'),
    proc(301, 300, '/pause', '-P'),
    shim(400, DIR, 'p3'),
    proc(401, 400, '/pause', '-P'),
    proc(500, 1, '/pause', '-P'),
    proc(600, 1, '/usr/bin/containerd-shim-runc-v2', '-address'),
  ];
  assert.deepEqual(selectDaemonProcesses(table, { name: 'containerd', dir: DIR }), {
    monitors: [200, 400],
    pauses: [201, 401],
  });
});
