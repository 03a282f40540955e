// Event topics, the Subscribe filter (types by topic prefix, namespaces, node-wide events), and container
// lifecycle events in the admin shape.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fromContainerEvent, matchesFilter, topicOf, topicPrefixOf } from '../../../src/events/index.js';
import type { BerthEvent } from '../../../src/events/index.js';

const pulled: BerthEvent = { type: 'image', action: 'pulled', namespace: 'k8s.io', atNs: 1n, fields: { id: 'x' } };
const removedBlob: BerthEvent = { type: 'content', action: 'removed', namespace: '', atNs: 2n, fields: {} };

describe('berth events', () => {
  it('have topics /<type>/<action>, selected by /<type>/ prefixes', () => {
    assert.equal(topicOf(pulled), '/image/pulled');
    assert.equal(topicPrefixOf('container'), '/container/');
    assert.ok(matchesFilter(pulled, { topics: [], namespaces: [] }));
    assert.ok(matchesFilter(pulled, { topics: ['/pod/', '/image/'], namespaces: [] }));
    assert.ok(!matchesFilter(pulled, { topics: ['/pod/'], namespaces: [] }));
    assert.ok(matchesFilter(pulled, { topics: ['/image/pulled'], namespaces: [] }), 'a whole topic is a prefix too');
  });

  it('filter by namespace; node-wide events (no namespace) pass every namespace filter', () => {
    assert.ok(matchesFilter(pulled, { topics: [], namespaces: ['k8s.io'] }));
    assert.ok(!matchesFilter(pulled, { topics: [], namespaces: ['default'] }));
    assert.ok(matchesFilter(removedBlob, { topics: [], namespaces: ['default'] }));
    assert.ok(!matchesFilter(removedBlob, { topics: ['/image/'], namespaces: ['default'] }));
  });

  it('carry container lifecycle events with name, pod and exit code', () => {
    const e = fromContainerEvent({
      kind: 'stopped',
      namespace: 'k8s.io',
      containerId: 'c1',
      sandboxId: 'p1',
      atNs: 5n,
      name: 'web',
      pod: 'prod/web-0',
      exitCode: 137,
    });
    assert.deepEqual(e, {
      type: 'container',
      action: 'stopped',
      namespace: 'k8s.io',
      atNs: 5n,
      fields: { id: 'c1', name: 'web', pod: 'prod/web-0', exitCode: 137, podId: 'p1' },
    });
    const bare = fromContainerEvent({ kind: 'created', namespace: 'ns', containerId: 'c', sandboxId: 'p', atNs: 1n });
    assert.deepEqual(bare.fields, { id: 'c', podId: 'p' });
  });
});
