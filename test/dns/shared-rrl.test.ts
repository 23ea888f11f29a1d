// RRL accounts shared by the DNS worker threads sit in a fixed table, found by a hash of client
// prefix and response kind. A spoofed reflection flood must stay limited even when the attacker
// also sends queries whose keys land in the victim's slot: with a hash anyone can compute, those
// keys would take the slot over and wipe the debt the victim's account ran up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientPrefixes } from '../../src/dns/client-prefix.js';
import { MAX_ACCOUNTS } from '../../src/dns/rrl.js';
import { SharedRateLimiter, sharedRrlData } from '../../src/dns/shared-rrl.js';

const settings = { responsesPerSecond: 1, slip: 0, windowSeconds: 15, ipv4PrefixLength: 24, ipv6PrefixLength: 56 };

/** The slot an attacker predicts for a key with the unseeded FNV-1a the table would otherwise use. */
function predictedSlot(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % MAX_ACCOUNTS;
}

test('shared RRL: keys crafted to land in a victim prefix slot do not wipe its debt', () => {
  const prefixes = new ClientPrefixes(settings);
  const victim = '192.0.2.7';
  const victimSlot = predictedSlot(`${prefixes.of(victim)}/flood`);
  const attacker = '198.51.100.9';
  // Offline, the attacker searches response kinds (query names it chooses) for keys in that slot.
  const colliding: string[] = [];
  for (let i = 0; colliding.length < 5; i++) {
    if (predictedSlot(`${prefixes.of(attacker)}/name${i}`) === victimSlot) colliding.push(`name${i}`);
  }
  const rrl = new SharedRateLimiter(sharedRrlData(settings));
  const now = 1_000_000;
  assert.equal(rrl.check(victim, 'flood', now), 'send');
  assert.equal(rrl.check(victim, 'flood', now), 'drop', 'the victim prefix has spent its allowance');
  for (const identity of colliding) rrl.check(attacker, identity, now);
  assert.equal(rrl.check(victim, 'flood', now), 'drop', 'the flood is still limited');
});
