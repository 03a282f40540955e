// Leases: what they protect, for how long, and the errors of misuse.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseManager, sha256Digest } from '../../../src/content/index.js';

const A = sha256Digest(Buffer.from('a'));
const B = sha256Digest(Buffer.from('b'));

describe('leases', () => {
  it('protect their digests until deleted', () => {
    const leases = new LeaseManager();
    const one = leases.create();
    const two = leases.create({ id: 'pull-1' });
    assert.equal(two, 'pull-1');
    leases.addResource(one, A);
    leases.addResource(two, A);
    leases.addResource(two, B);
    assert.deepEqual([...leases.leasedDigests()].sort(), [A, B].sort());
    leases.delete(two);
    leases.delete(two);
    assert.equal(leases.isLeased(B), false);
    assert.equal(leases.isLeased(A), true);
    assert.throws(() => leases.addResource(two, B), { code: 'NOT_FOUND' });
    assert.throws(() => leases.create({ id: one }), { code: 'ALREADY_EXISTS' });
  });

  it('expire and then protect nothing', () => {
    let now = 1000;
    const leases = new LeaseManager(() => now);
    const id = leases.create({ expiresInMs: 10 });
    leases.addResource(id, A);
    assert.equal(leases.leasedDigests().size, 1);
    now += 10;
    assert.equal(leases.isLeased(A), false);
    assert.equal(leases.leasedDigests().size, 0);
    assert.throws(() => leases.addResource(id, B), { code: 'NOT_FOUND' });
    assert.equal(leases.create({ id }), id, 'an expired id can be reused');
  });
});
