// Response-rate limiting keeps an account per client prefix and response kind; a flood from ever
// new sources must not grow that without end (issue 15 item 5, bound every cache). At most
// MAX_ACCOUNTS are kept and the oldest goes first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ACCOUNTS, ResponseRateLimiter } from '../../src/dns/rrl.js';

const ipv4 = (n: number) => `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

test('RRL remembers at most MAX_ACCOUNTS sources and forgets the oldest first', () => {
  const rrl = new ResponseRateLimiter({ responsesPerSecond: 1, slip: 0, windowSeconds: 15, ipv4PrefixLength: 32, ipv6PrefixLength: 56 });
  const now = 1_000_000;
  // Two sources spend their one response; a third answer to either is dropped while remembered.
  for (const source of ['192.0.2.1', '192.0.2.2']) {
    assert.equal(rrl.check(source, 'x', now), 'send');
    assert.equal(rrl.check(source, 'x', now), 'drop');
  }
  // Fill the table up to its bound with other sources: 192.0.2.1 is now the oldest entry.
  for (let i = 0; i < MAX_ACCOUNTS - 2; i++) rrl.check(ipv4(i), 'x', now);
  assert.equal(rrl.check('192.0.2.2', 'x', now), 'drop', 'still remembered at the bound');
  // One more source pushes out the oldest, which then starts afresh.
  rrl.check(ipv4(MAX_ACCOUNTS), 'x', now);
  assert.equal(rrl.size, MAX_ACCOUNTS);
  // A second later (within the same second the screening table still counts its responses): a
  // remembered account would still be in debt, a forgotten one starts afresh.
  assert.equal(rrl.check('192.0.2.1', 'x', now + 1000), 'send', 'the oldest account was forgotten');
  assert.equal(rrl.size, MAX_ACCOUNTS);
});
