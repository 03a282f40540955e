import { test } from 'node:test';
import assert from 'node:assert/strict';
import { benchmarkRows, formatRatio, renderTable } from '../../../bench/table.js';

test('one row per metric, with the ratio berth/containerd', () => {
  const rows = benchmarkRows('cold-start', {
    berth: [
      { name: 'median', unit: 'ms', value: 50, digits: 1 },
      { name: 'p90', unit: 'ms', value: 60, digits: 1 },
    ],
    containerd: [
      { name: 'median', unit: 'ms', value: 100, digits: 1 },
      { name: 'p90', unit: 'ms', value: 120, digits: 1 },
    ],
  });
  assert.deepEqual(
    rows.map((r) => [r.label, formatRatio(r)]),
    [
      ['cold-start median', '0.50'],
      ['cold-start p90', '0.50'],
    ],
  );
  const table = renderTable(rows).split('\n');
  assert.equal(table.length, 4);
  assert.match(table[0]!, /^\| benchmark +\| unit \| Berth \| containerd \| Berth\/containerd \|$/);
  assert.match(table[1]!, /^\|-+\|-+\|-+:\|-+:\|-+:\|$/);
  assert.match(table[2]!, /^\| cold-start median \| ms +\| +50\.0 \| +100\.0 \| +0\.50 \|$/);
});

test('a daemon left out shows "not run", a failed one "error", and neither has a ratio', () => {
  const onlyContainerd = benchmarkRows('idle-rss', {
    containerd: [{ name: 'rss', unit: 'MiB', value: 37.3, digits: 1 }],
  });
  assert.equal(formatRatio(onlyContainerd[0]!), '–');
  assert.match(renderTable(onlyContainerd), /\| idle-rss rss \| MiB +\| not run \| +37\.3 \| +– \|/);

  const failed = benchmarkRows('idle-rss', { berth: 'error', containerd: [{ name: 'rss', unit: 'MiB', value: 37.3 }] });
  assert.equal(failed[0]!.cells.berth?.kind, 'error');
  assert.equal(formatRatio(failed[0]!), '–');

  const allFailed = benchmarkRows('idle-rss', { berth: 'error', containerd: 'error' });
  assert.equal(allFailed.length, 1);
  assert.equal(allFailed[0]!.label, 'idle-rss (failed)');
});
