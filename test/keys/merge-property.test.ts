// Property: for random sequences of uploads of one certificate (full copies, older copies, partial
// copies missing subkeys, copies padded with junk signatures, and new subkey revocations), the
// served forms never lose a valid revocation or a valid subkey that an earlier upload showed.
// Seeded (KEYPOST_PROPERTY_SEED to replay); the seed is printed in every failure message.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { checkKey } from '../../src/keys/key-policy.js';
import { readPackets } from '../../src/keys/packet-limits.js';
import { publishAddress, refreshKey } from '../../src/directory/publish.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { fromPrivate, retimedSignature } from '../directory/key-fixtures.js';
import { addDomain } from '../directory/write-side.js';

const SEED = Number(process.env.KEYPOST_PROPERTY_SEED ?? Date.now() % 2 ** 31);
const RUNS = 3;
const STEPS = 8;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

let testDb: TestDatabase;
before(async () => {
  testDb = await openTestDatabase();
  await addDomain(testDb.db, 'example.org');
});
after(async () => {
  await testDb?.close();
});

/** The copy without the subkeys (by index) in `drop`: a partial upload. */
function withoutSubkeys(bytes: Uint8Array, drop: Set<number>): Uint8Array {
  const out: Uint8Array[] = [];
  let subkey = -1;
  for (const p of readPackets(bytes)) {
    if (p.tag === 14) subkey++;
    else if (p.tag !== 2) subkey = -1;
    if (subkey >= 0 && drop.has(subkey)) continue;
    out.push(p.raw);
  }
  return Buffer.concat(out);
}

/** The copy with junk copies of every signature, claiming newer times. */
function withJunk(bytes: Uint8Array): Uint8Array {
  const out: Uint8Array[] = [];
  for (const p of readPackets(bytes)) {
    out.push(p.raw);
    if (p.tag === 2 && p.body[0] === 4) for (let i = 1; i <= 3; i++) out.push(retimedSignature(p.raw, new Date(Date.now() - i * 60_000)));
  }
  return Buffer.concat(out);
}

async function servedState(fingerprint: string, address: string) {
  const key = await testDb.db.selectFrom('keys').select('key_data').where('fingerprint', '=', fingerprint).executeTakeFirstOrThrow();
  const row = await testDb.db.selectFrom('addresses').select('minimal_key').where('address', '=', address).executeTakeFirstOrThrow();
  const full = await openpgp.readKey({ binaryKey: new Uint8Array(key.key_data) });
  const minimal = await openpgp.readKey({ binaryKey: new Uint8Array(row.minimal_key) });
  return {
    full: new Map(full.subkeys.map((s) => [s.getKeyID().toHex(), s.revocationSignatures.length])),
    minimal: new Set(minimal.subkeys.map((s) => s.getKeyID().toHex())),
  };
}

test(`served forms never lose a valid revocation or subkey (seed ${SEED})`, async () => {
  const random = prng(SEED);
  for (let run = 0; run < RUNS; run++) {
    const address = `p${run}@example.org`;
    const { privateKey } = await openpgp.generateKey({
      type: 'ecc',
      userIDs: [{ email: address }],
      subkeys: [{}, {}, {}],
      date: new Date(Date.now() - 86_400_000),
      format: 'object',
    });
    const original = fromPrivate(privateKey).binary;
    const ids = privateKey.subkeys.map((s) => s.getKeyID().toHex());
    const first = await checkKey(original, { now: new Date() });
    assert.ok(first.status === 'valid');
    await testDb.db.transaction().execute((tx) => publishAddress(tx, { address, key: first.key, source: 'owner' }));
    const revoked = new Set<string>();
    const trail: string[] = [];
    let current = original;
    for (let step = 0; step < STEPS; step++) {
      const pick = random();
      let upload: Uint8Array;
      if (pick < 0.25 && revoked.size < ids.length - 1) {
        const candidates = ids.map((_, i) => i).filter((i) => !revoked.has(ids[i]));
        const i = candidates[Math.floor(random() * candidates.length)];
        privateKey.subkeys[i] = await privateKey.subkeys[i].revoke(privateKey.keyPacket as openpgp.SecretKeyPacket);
        current = fromPrivate(privateKey).binary;
        upload = current;
        revoked.add(ids[i]);
        trail.push(`revoke ${i}`);
      } else if (pick < 0.45) {
        upload = original;
        trail.push('old copy');
      } else if (pick < 0.7) {
        const drop = new Set([0, 1, 2].filter(() => random() < 0.5));
        upload = withoutSubkeys(random() < 0.5 ? original : current, drop);
        trail.push(`partial without ${[...drop].join(',')}`);
      } else if (pick < 0.85) {
        upload = withJunk(random() < 0.5 ? original : current);
        trail.push('junk signatures');
      } else {
        upload = current;
        trail.push('current copy');
      }
      const check = await checkKey(upload, { now: new Date() });
      assert.ok('key' in check, `seed ${SEED} run ${run}: ${trail.join(' > ')}: ${JSON.stringify(check)}`);
      await testDb.db.transaction().execute((tx) => refreshKey(tx, check.key));
      const served = await servedState(first.key.fingerprint, address);
      const where = `seed ${SEED} run ${run}: ${trail.join(' > ')}`;
      for (const id of ids) {
        assert.ok(served.full.has(id), `${where}: subkey ${id} left the by-fingerprint copy`);
        if (revoked.has(id)) {
          assert.ok(served.full.get(id)! >= 1, `${where}: the revocation of ${id} was lost`);
          assert.ok(!served.minimal.has(id), `${where}: revoked subkey ${id} is served in the minimal key`);
        } else {
          assert.ok(served.minimal.has(id), `${where}: valid subkey ${id} left the minimal key`);
        }
      }
    }
  }
});
