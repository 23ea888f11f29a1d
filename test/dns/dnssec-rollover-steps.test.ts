// The rollover's next step and its earliest time, from the stored key states alone (rollover.ts
// nextRolloverStep), for every state a zone's keys can be in: the waits of RFC 7583 §3.2.1 and
// §3.3.1 with Dprp = 1 h, TTLds = 1 d and a zone TTL of 300 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DnssecKeyState } from '../../src/db/database.js';
import type { StoredKeyInfo } from '../../src/dns/dnssec/key-store.js';
import { nextRolloverStep } from '../../src/dns/dnssec/rollover.js';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000);
const timing = { propagationDelaySeconds: 3600, parentDsTtlSeconds: 86_400 };
const TTL = 300;

function key(keyTag: number, algorithm: number, state: DnssecKeyState, since: number, dsAt?: number): StoredKeyInfo {
  return { keyTag, algorithm, state, flags: 257, publicKey: Buffer.alloc(0), createdAt: at(0), stateSince: at(since), parentDsReplacedAt: dsAt === undefined ? null : at(dsAt) };
}

const cases: [string, StoredKeyInfo[], object][] = [
  ['one active key', [key(1, 13, 'active', 0)], { kind: 'none' }],
  ['unsigned', [], { kind: 'none' }],
  ['published: Ipub = Dprp + TTLkey', [key(1, 13, 'active', 0), key(2, 13, 'published', 100)], { kind: 'activate', newKey: 2, oldKey: 1, earliest: at(100 + 3600 + TTL) }],
  ['retired, DS not confirmed: the owner acts', [key(1, 13, 'retired', 100), key(2, 13, 'active', 100)], { kind: 'publish-ds', newKey: 2, oldKey: 1 }],
  [
    'retired, DS confirmed at once: TTLds decides',
    [key(1, 13, 'retired', 100, 200), key(2, 13, 'active', 100)],
    { kind: 'remove', newKey: 2, oldKey: 1, earliest: at(200 + 3600 + 86_400) },
  ],
  [
    'retired, DS confirmed long before the data signatures aged out: Iret decides',
    [key(1, 13, 'retired', 100, -200_000), key(2, 13, 'active', 100)],
    { kind: 'remove', newKey: 2, oldKey: 1, earliest: at(100 + 3600 + TTL) },
  ],
  ['algorithm roll, introduced: Dprp + TTLsig', [key(1, 13, 'active', 0), key(2, 15, 'introduced', 50)], { kind: 'publish', newKey: 2, oldKey: 1, earliest: at(50 + 3600 + TTL) }],
  ['algorithm roll, published', [key(1, 13, 'active', 0), key(2, 15, 'published', 50)], { kind: 'activate', newKey: 2, oldKey: 1, earliest: at(50 + 3600 + TTL) }],
  ['algorithm roll, retired, DS confirmed', [key(1, 13, 'retired', 100, 200), key(2, 15, 'active', 100)], { kind: 'withdraw', newKey: 2, oldKey: 1, earliest: at(200 + 3600 + 86_400) }],
  ['algorithm roll, withdrawn: Dprp + TTLkey', [key(1, 13, 'withdrawn', 500), key(2, 15, 'active', 100)], { kind: 'remove', newKey: 2, oldKey: 1, earliest: at(500 + 3600 + TTL) }],
];

for (const [name, keys, want] of cases) {
  test(`next rollover step: ${name}`, () => {
    assert.deepEqual(nextRolloverStep(keys, TTL, timing), want);
  });
}
