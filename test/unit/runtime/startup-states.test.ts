// Startup recovery asks the OCI runtime once per handler (`runc list`), not once per container (issue #7:
// 400 `runc state` runs kept a restarted berthd silent for ~12 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/base/logger.js';
import { parseRuntimeList } from '../../../src/runtime/conmon-runtime.js';
import type { RuntimeState } from '../../../src/runtime/index.js';
import { StartupStates } from '../../../src/runtime/startup-states.js';

const log = createLogger('silent');

class FakeRuntime {
  readonly listCalls: string[] = [];
  readonly stateCalls: string[] = [];
  constructor(
    private readonly lists: Record<string, ReadonlyMap<string, RuntimeState> | Error>,
    private readonly single: Record<string, RuntimeState> = {},
  ) {}

  async states(handler: string): Promise<ReadonlyMap<string, RuntimeState>> {
    this.listCalls.push(handler);
    await new Promise((resolve) => setImmediate(resolve));
    const list = this.lists[handler];
    if (list === undefined) throw new Error(`runtime handler "${handler}" is not configured`);
    if (list instanceof Error) throw list;
    return list;
  }

  async state(id: string): Promise<RuntimeState> {
    this.stateCalls.push(id);
    const st = this.single[id];
    if (st === undefined) throw new Error(`state of ${id}: boom`);
    return st;
  }
}

test('issue #7: one list per runtime handler answers every container of it, even asked concurrently', async () => {
  const runtime = new FakeRuntime({
    runc: new Map([
      ['a', { status: 'running', pid: 11 }],
      ['b', { status: 'created', pid: 12 }],
    ]),
    crun: new Map([['c', { status: 'running', pid: 13 }]]),
  });
  const states = new StartupStates(runtime, log);
  const [a, b, c] = await Promise.all([states.of('a', 'runc'), states.of('b', 'runc'), states.of('c', 'crun')]);
  assert.deepEqual(a, { status: 'running', pid: 11 });
  assert.deepEqual(b, { status: 'created', pid: 12 });
  assert.deepEqual(c, { status: 'running', pid: 13 });
  assert.deepEqual(await states.of('a', 'runc'), { status: 'running', pid: 11 });
  assert.deepEqual(runtime.listCalls, ['runc', 'crun']);
  assert.deepEqual(runtime.stateCalls, []);
});

test('a container the runtime does not list is stopped, as `runc state` says for a missing one', async () => {
  const states = new StartupStates(new FakeRuntime({ runc: new Map() }), log);
  assert.deepEqual(await states.of('gone', 'runc'), { status: 'stopped', pid: 0 });
});

test('when the list fails, each container is asked alone; a failed state is undefined', async () => {
  const runtime = new FakeRuntime({ runc: new Error('runc list: boom') }, { a: { status: 'running', pid: 7 } });
  const states = new StartupStates(runtime, log);
  assert.deepEqual(await states.of('a', 'runc'), { status: 'running', pid: 7 });
  assert.equal(await states.of('b', 'runc'), undefined);
  assert.equal(await states.of('c', 'nope'), undefined);
  assert.deepEqual(runtime.listCalls, ['runc', 'nope']);
  assert.deepEqual(runtime.stateCalls, ['a', 'b', 'c']);
});

test('parseRuntimeList reads runc (null when empty) and crun output; other statuses are unknown', () => {
  assert.deepEqual(parseRuntimeList('null\n'), new Map());
  assert.deepEqual(parseRuntimeList('[\n\n]\n'), new Map());
  const runc =
    '[{"ociVersion":"1.0.2-dev","id":"abc","pid":4242,"status":"running","bundle":"/b/abc","rootfs":"/b/abc/rootfs",' +
    '"created":"2026-11-29T13:00:00.000000000Z","owner":"root"},' +
    '{"ociVersion":"1.0.2-dev","id":"def","pid":0,"status":"stopped","bundle":"/b/def","rootfs":"/b/def/rootfs",' +
    '"created":"2026-11-29T13:00:00.000000000Z","owner":"root"},' +
    '{"id":"ghi","pid":77,"status":"paused","bundle":"/b/ghi","created":"x","owner":"root"}]\n';
  assert.deepEqual(
    parseRuntimeList(runc),
    new Map([
      ['abc', { status: 'running', pid: 4242 }],
      ['def', { status: 'stopped', pid: 0 }],
      ['ghi', { status: 'unknown', pid: 77 }],
    ]),
  );
  assert.throws(() => parseRuntimeList('time="…" level=error msg="open /run: permission denied"'), /no JSON/);
  assert.throws(() => parseRuntimeList('{"id":"abc"}'), /unexpected output/);
});
