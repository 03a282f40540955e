import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePortSpec } from '../../../src/cli/commands/streams.js';

describe('berth port-forward port specs', () => {
  it('reads LOCAL:REMOTE and REMOTE', () => {
    assert.deepEqual(parsePortSpec('8080:80'), { local: 8080, remote: 80 });
    assert.deepEqual(parsePortSpec('80'), { local: 80, remote: 80 });
    assert.deepEqual(parsePortSpec('0:80'), { local: 0, remote: 80 });
  });

  it('refuses the rest', () => {
    for (const bad of ['', 'a:80', '80:', '70000', '1:70000', '80:0', '1:2:3']) {
      assert.throws(() => parsePortSpec(bad), /invalid port/, bad);
    }
  });
});
