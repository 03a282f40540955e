import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bar, formatItem, renderFrame } from '../../../src/cli/progress.js';

const D = `sha256:${'ab'.repeat(32)}`;

describe('transfer progress', () => {
  it('draws bars from 0 to full, never past full', () => {
    assert.equal(bar(0n, 100n, 10), '[>         ]');
    assert.equal(bar(50n, 100n, 10), '[=====>    ]');
    assert.equal(bar(100n, 100n, 10), '[==========]');
    assert.equal(bar(150n, 100n, 10), '[==========]');
    assert.equal(bar(0n, 0n, 4), '[====]');
  });

  it('shows bytes while moving, the size otherwise', () => {
    const moving = formatItem({ digest: D, state: 'downloading', currentBytes: 1500n, totalBytes: 3000n });
    assert.equal(moving, `abababababab: downloading [===============>              ] 1.50kB/3.00kB`);
    const done = formatItem({ digest: D, state: 'unpacked', currentBytes: 3000n, totalBytes: 3000n });
    assert.equal(done, 'abababababab: unpacked    3.00kB');
  });

  it('redraws a frame over the previous one', () => {
    const item = { digest: D, state: 'waiting', currentBytes: 0n, totalBytes: 10n };
    assert.equal(renderFrame([item], 0), '\u001b[2Kabababababab: waiting     10B\n');
    assert.equal(renderFrame([item, item], 1), '\u001b[1F' + '\u001b[2Kabababababab: waiting     10B\n'.repeat(2));
  });
});
