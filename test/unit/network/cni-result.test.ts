import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  berthCodeOfCniError,
  hintOfCniFailure,
  parseCniError,
  parseCniResult,
} from '../../../src/network/cni/result.js';

/** What Debian's bridge + host-local print for a dual-stack ADD in the 1.0.0 format. */
const RESULT_1_0_0 = {
  cniVersion: '1.0.0',
  interfaces: [
    { name: 'cni0', mac: '5a:2e:1c:00:00:01' },
    { name: 'veth1234', mac: '5a:2e:1c:00:00:02' },
    { name: 'eth0', mac: '5a:2e:1c:00:00:03', sandbox: '/run/berth/netns/x' },
  ],
  ips: [
    { address: 'fd00:10::5/64', gateway: 'fd00:10::1', interface: 2 },
    { address: '10.88.0.5/16', gateway: '10.88.0.1', interface: 2 },
    { address: '10.88.0.1/16', interface: 0 },
  ],
  routes: [{ dst: '0.0.0.0/0' }],
  dns: { nameservers: ['10.96.0.10'], domain: 'cluster.local', search: ['svc.cluster.local'], options: ['ndots:5'] },
};

const RESULT_0_4_0 = {
  cniVersion: '0.4.0',
  interfaces: [{ name: 'eth0', mac: '0a:58:0a:f4:00:05', sandbox: '/proc/1/ns/net' }],
  ips: [{ version: '4', address: '10.244.0.5/24', gateway: '10.244.0.1', interface: 0 }],
  routes: [{ dst: '0.0.0.0/0', gw: '10.244.0.1' }],
  dns: {},
};

describe('CNI result parsing', () => {
  it('reads a 1.0.0 result: pod addresses only, IPv4 first, interfaces and DNS', () => {
    const { raw, network } = parseCniResult(RESULT_1_0_0, 'net');
    assert.equal(raw, RESULT_1_0_0);
    assert.deepEqual(network.ips, [
      { address: '10.88.0.5', prefix: 16, gateway: '10.88.0.1', family: 4 },
      { address: 'fd00:10::5', prefix: 64, gateway: 'fd00:10::1', family: 6 },
    ]);
    assert.deepEqual(network.interfaces[2], { name: 'eth0', mac: '5a:2e:1c:00:00:03', sandbox: '/run/berth/netns/x' });
    assert.deepEqual(network.interfaces[0], { name: 'cni0', mac: '5a:2e:1c:00:00:01' });
    assert.deepEqual(network.dns, {
      nameservers: ['10.96.0.10'],
      domain: 'cluster.local',
      search: ['svc.cluster.local'],
      options: ['ndots:5'],
    });
  });

  it('reads a 0.4.0 result (ips with "version")', () => {
    const { network } = parseCniResult(RESULT_0_4_0, 'net');
    assert.deepEqual(network.ips, [{ address: '10.244.0.5', prefix: 24, gateway: '10.244.0.1', family: 4 }]);
    assert.deepEqual(network.dns, { nameservers: [], search: [], options: [] });
  });

  it('reads a 0.2.0 result (ip4/ip6)', () => {
    const { network } = parseCniResult(
      { cniVersion: '0.2.0', ip6: { ip: 'fd00::7/64' }, ip4: { ip: '10.1.2.3/16', gateway: '10.1.0.1' } },
      'net',
    );
    assert.deepEqual(network.ips, [
      { address: '10.1.2.3', prefix: 16, gateway: '10.1.0.1', family: 4 },
      { address: 'fd00::7', prefix: 64, family: 6 },
    ]);
  });

  it('keeps addresses without an interface index', () => {
    const { network } = parseCniResult({ cniVersion: '1.0.0', ips: [{ address: '192.168.1.9/24' }] }, 'net');
    assert.deepEqual(network.ips, [{ address: '192.168.1.9', prefix: 24, family: 4 }]);
  });

  for (const [what, value] of [
    ['not an object', 'x'],
    ['an address without prefix', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.1' }] }],
    ['a bad prefix', { cniVersion: '1.0.0', ips: [{ address: '10.0.0.1/40' }] }],
    ['ips not a list', { cniVersion: '1.0.0', ips: {} }],
  ] as const) {
    it(`rejects ${what} with INTERNAL naming the source`, () => {
      assert.throws(() => parseCniResult(value, 'CNI network "n"'), { code: 'INTERNAL', message: /CNI network "n"/ });
    });
  }
});

describe('CNI error objects', () => {
  it('parses the spec error object', () => {
    assert.deepEqual(parseCniError('{"cniVersion":"1.0.0","code":7,"msg":"bad config","details":"no bridge"}'), {
      code: 7,
      msg: 'bad config',
      details: 'no bridge',
    });
    assert.deepEqual(parseCniError('{"code":11,"msg":"busy","details":""}'), { code: 11, msg: 'busy' });
    assert.equal(parseCniError('panic: runtime error'), undefined);
    assert.equal(parseCniError('{"msg":"no code"}'), undefined);
  });

  it('maps well-known codes to Berth codes', () => {
    assert.equal(berthCodeOfCniError(1), 'FAILED_PRECONDITION');
    assert.equal(berthCodeOfCniError(4), 'INTERNAL');
    assert.equal(berthCodeOfCniError(7), 'FAILED_PRECONDITION');
    assert.equal(berthCodeOfCniError(11), 'UNAVAILABLE');
    assert.equal(berthCodeOfCniError(999), 'UNKNOWN');
  });
});

describe('CNI failure hints', () => {
  it('names a bridge left with another subnet, and how to fix the node', () => {
    // What Debian's bridge plugin prints when berth0 still has the gateway of an earlier default_subnet.
    const hint = hintOfCniFailure(
      'failed to set bridge addr: "berth0" already has an IP address different from 10.88.0.1/16',
    );
    assert.equal(hint?.code, 'FAILED_PRECONDITION');
    assert.match(hint?.hint ?? '', /bridge berth0 keeps an address from another subnet than 10\.88\.0\.1\/16/);
    assert.match(hint?.hint ?? '', /ip link del berth0/);
  });

  it('has no hint for other failures', () => {
    assert.equal(hintOfCniFailure('failed to allocate for range 0: no IP addresses available in range set'), undefined);
  });
});
