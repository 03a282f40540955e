import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseGroup, parsePasswd, resolveUser } from '../../../src/runtime/image-user.js';

const passwd = parsePasswd(
  [
    'root:x:0:0:root:/root:/bin/sh',
    'www-data:x:33:33::/var/www:/bin/false',
    'app:x:1000:1000::/app:/bin/sh',
    'broken:x:a:b',
    '#c:x:1:1',
  ].join('\n'),
);
const groups = parseGroup(
  ['root:x:0:', 'www-data:x:33:', 'extra:x:50000:app', 'ops:x:1234:app,www-data', 'app:x:1000:'].join('\n'),
);

describe('container user', () => {
  it('parses passwd and group files, skipping bad lines', () => {
    assert.deepEqual(
      passwd.map((p) => p.name),
      ['root', 'www-data', 'app'],
    );
    assert.deepEqual(groups.find((g) => g.name === 'ops')?.members, ['app', 'www-data']);
  });

  it('defaults to root', () => {
    assert.deepEqual(resolveUser({ imageUser: '' }, passwd, groups), { uid: 0, gid: 0, additionalGids: [] });
  });

  it('resolves the image User by name or number, with its groups from /etc/group', () => {
    assert.deepEqual(resolveUser({ imageUser: 'app' }, passwd, groups), {
      uid: 1000,
      gid: 1000,
      additionalGids: [1234, 50000],
    });
    assert.deepEqual(resolveUser({ imageUser: '1000' }, passwd, groups), {
      uid: 1000,
      gid: 1000,
      additionalGids: [1234, 50000],
    });
    assert.deepEqual(resolveUser({ imageUser: '1003:1004' }, passwd, groups), {
      uid: 1003,
      gid: 1004,
      additionalGids: [],
    });
    assert.deepEqual(resolveUser({ imageUser: 'www-data:extra' }, passwd, groups), {
      uid: 33,
      gid: 50000,
      additionalGids: [1234],
    });
  });

  it('lets the security context override the image', () => {
    assert.deepEqual(resolveUser({ imageUser: 'app', runAsUser: 33 }, passwd, groups), {
      uid: 33,
      gid: 33,
      additionalGids: [1234],
    });
    assert.deepEqual(resolveUser({ imageUser: '', runAsUsername: 'www-data', runAsGroup: 7 }, passwd, groups), {
      uid: 33,
      gid: 7,
      additionalGids: [1234],
    });
    assert.deepEqual(resolveUser({ imageUser: '', runAsUser: 2000, supplementalGroups: [5, 2000] }, passwd, groups), {
      uid: 2000,
      gid: 0,
      additionalGids: [5, 2000],
    });
  });

  it('refuses unknown names and root with runAsNonRoot', () => {
    assert.throws(() => resolveUser({ imageUser: 'nobody' }, passwd, groups), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => resolveUser({ imageUser: 'app:nogroup' }, passwd, groups), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => resolveUser({ imageUser: '', runAsNonRoot: true }, passwd, groups), /runAsNonRoot/);
    assert.equal(resolveUser({ imageUser: 'app', runAsNonRoot: true }, passwd, groups).uid, 1000);
  });
});
