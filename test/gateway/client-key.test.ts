// Per-client limits (connections, AUTH failures) count per IPv4 address and per IPv6 /64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientKey } from '../../src/gateway/networks.js';

test('client keys: an IPv4 address, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64 in any spelling', () => {
  const cases: [string, string][] = [
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:0000:0000:0000:0001', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ];
  for (const [address, key] of cases) assert.equal(clientKey(address), key, address);
  assert.notEqual(clientKey('2001:db8:1:2::1'), clientKey('2001:db8:1:3::1'));
});
