// The zone log as the write side fills it: one leaf per change to what is served, written in the
// publishing transaction (gone with it when it rolls back), and one tree when two nodes on one
// PostgreSQL take 64 concurrent publishes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { decodeLeaf } from '../../src/transparency/leaf.js';
import { appendLeaves, leavesBetween, lockLogHead, logSize, rootAt } from '../../src/transparency/log-store.js';
import { HASH_SIZE, frontierRoot } from '../../src/transparency/merkle.js';
import { recordZoneChange } from '../../src/transparency/record-changes.js';
import { createDomain, updateDomain } from '../../src/directory/domains.js';
import { readZone } from '../../src/published/zone-reader.js';
import { SealedBox } from '../../src/secrets/sealed-box.js';
import { signLatestTreeHead } from '../../src/transparency/tree-heads.js';
import { openTestDatabase, testBackend, type TestDatabase } from '../support/database.js';
import { addDomain, makeKey, ownerPublish, startApi, type RunningApi } from '../directory/write-side.js';

let testDb: TestDatabase;
let api: RunningApi;
let token: string;

before(async () => {
  testDb = await openTestDatabase();
  token = await addDomain(testDb.db, 'example.org', { powBits: 20 });
  api = await startApi(testDb);
});

after(async () => {
  await api?.close();
  await testDb?.close();
});

async function call(method: string, path: string, body?: unknown): Promise<number> {
  const response = await fetch(`${api.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  await response.arrayBuffer();
  return response.status;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest();

/** MTH straight from RFC 9162 §2.1.1 over the stored leaf octets. */
function mth(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return sha256(Buffer.alloc(0));
  if (leaves.length === 1) return sha256(Buffer.concat([Buffer.of(0), leaves[0]]));
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Buffer.concat([Buffer.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k))]));
}

async function leavesOf(zone: string) {
  const size = await logSize(testDb.db, zone);
  return leavesBetween(testDb.db, zone, 0, size);
}

describe('the zone log on the write side', () => {
  test('publish, override change, re-publish with another key and withdrawal are one leaf each; a no-op is none', async () => {
    const first = await makeKey(['Alice <alice@example.org>']);
    const second = await makeKey(['Alice <alice@example.org>']);
    const base = '/v1/domains/example.org/addresses/alice@example.org';
    const minimal = async () => (await testDb.db.selectFrom('addresses').select('minimal_key').where('address', '=', 'alice@example.org').executeTakeFirstOrThrow()).minimal_key;

    await ownerPublish(api.baseUrl, 'example.org', token, 'alice@example.org', first.publicKey);
    const firstMinimal = await minimal();
    assert.equal(await call('PATCH', base, { endpoint: 'smtp://mx2.example.org:25', pow: 24 }), 200);
    await ownerPublish(api.baseUrl, 'example.org', token, 'alice@example.org', first.publicKey);
    await ownerPublish(api.baseUrl, 'example.org', token, 'alice@example.org', second.publicKey);
    const secondMinimal = await minimal();
    assert.equal(await call('DELETE', base), 204);

    const leaves = (await leavesOf('example.org')).map((l) => decodeLeaf(l.leaf));
    assert.deepEqual(
      leaves.map((l) => [l.action, l.sequence, l.fingerprint, l.endpoint, l.powBits]),
      [
        ['publish', 1, first.fingerprint, null, null],
        ['publish', 2, first.fingerprint, 'smtp://mx2.example.org:25', 24],
        ['publish', 3, second.fingerprint, 'smtp://mx2.example.org:25', 24],
        ['withdraw', 4, second.fingerprint, 'smtp://mx2.example.org:25', 24],
      ],
    );
    const label = Buffer.from(openpgpkeyLabel('alice'), 'hex');
    for (const leaf of leaves) {
      assert.equal(leaf.zone, 'example.org');
      assert.deepEqual(leaf.label, label);
    }
    assert.deepEqual(leaves[0].keyHash, sha256(firstMinimal));
    assert.deepEqual(leaves[2].keyHash, sha256(secondMinimal));
    assert.deepEqual(leaves[3].keyHash, sha256(secondMinimal));
  });

  test('a change rolled back leaves no leaf; the same change committed leaves one', async () => {
    const key = await makeKey(['bob@example.org']);
    await ownerPublish(api.baseUrl, 'example.org', token, 'bob@example.org', key.publicKey);
    const before = await logSize(testDb.db, 'example.org');
    const change = (endpoint: string) =>
      testDb.db.transaction().execute(async (tx) => {
        await tx.updateTable('addresses').set({ endpoint }).where('address', '=', 'bob@example.org').execute();
        await recordZoneChange(tx, 'example.org');
        return sql<{ n: string }>`select size::text as n from log_heads where zone = 'example.org'`.execute(tx);
      });
    await assert.rejects(
      testDb.db.transaction().execute(async (tx) => {
        await tx.updateTable('addresses').set({ endpoint: 'smtp://rolled.back:25' }).where('address', '=', 'bob@example.org').execute();
        await recordZoneChange(tx, 'example.org');
        assert.equal(Number((await sql<{ n: string }>`select size::text as n from log_heads where zone = 'example.org'`.execute(tx)).rows[0].n), before + 1);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await logSize(testDb.db, 'example.org'), before);
    const seen = await change('smtp://committed:25');
    assert.equal(Number(seen.rows[0].n), before + 1);
    const last = decodeLeaf((await leavesOf('example.org')).at(-1)!.leaf);
    assert.equal(last.endpoint, 'smtp://committed:25');
  });

  test('the stored subtree hashes give the root the RFC definition gives over the stored leaves', async () => {
    const leaves = await leavesOf('example.org');
    assert.ok(leaves.length >= 6);
    for (let n = 0; n <= leaves.length; n++) {
      assert.deepEqual(await rootAt(testDb.db, 'example.org', n), mth(leaves.slice(0, n).map((l) => l.leaf)), `size ${n}`);
    }
  });

  test('an append keeps the right edge on the head row; a head without one, or with one kept for another size, is appended to from the stored subtrees', async () => {
    const zone = 'edge.example';
    await addDomain(testDb.db, zone);
    const append = (tag: string, count: number) =>
      testDb.db.transaction().execute(async (tx) => {
        const head = await lockLogHead(tx, zone);
        await appendLeaves(tx, zone, head, Array.from({ length: count }, (_, i) => ({ label: Buffer.from(`${tag}${i}`.padEnd(28, '.')), leaf: Buffer.from(`${tag} ${i}`) })));
      });
    const keptEdge = async () => (await testDb.db.selectFrom('log_heads').select('frontier').where('zone', '=', zone).executeTakeFirstOrThrow()).frontier;
    // The kept octets: the size (u64), then the edge's hashes, which fold to the root.
    const keptRoot = async () => {
      const kept = (await keptEdge())!;
      const hashes = Array.from({ length: (kept.length - 8) / HASH_SIZE }, (_, i) => ({ hash: kept.subarray(8 + i * HASH_SIZE, 8 + (i + 1) * HASH_SIZE) }));
      return { size: Number(kept.readBigUInt64BE(0)), root: frontierRoot(hashes) };
    };
    const storedLeaves = async () => (await leavesOf(zone)).map((l) => l.leaf);

    await append('a', 7);
    assert.deepEqual(await keptRoot(), { size: 7, root: mth(await storedLeaves()) }, 'the kept edge folds to the root of 7 leaves');
    const edgeOfSeven = await keptEdge();

    await sql`update log_heads set frontier = null where zone = ${zone}`.execute(testDb.db);
    await append('b', 6);
    assert.equal((await storedLeaves()).length, 13);
    assert.deepEqual(await rootAt(testDb.db, zone, 13), mth(await storedLeaves()), 'the stored subtrees give the RFC root');
    assert.deepEqual(await keptRoot(), { size: 13, root: mth(await storedLeaves()) }, 'the edge kept again folds to the same root');

    // An edge of 7 leaves has as many subtrees as one of 13 (4+2+1, 8+4+1): as a node of an older
    // release leaves it when it appends without keeping the edge.
    await sql`update log_heads set frontier = ${edgeOfSeven} where zone = ${zone}`.execute(testDb.db);
    await append('c', 1);
    assert.deepEqual(await rootAt(testDb.db, zone, 14), mth(await storedLeaves()), 'appended onto the stored subtrees, not the stale edge');
    assert.deepEqual(await keptRoot(), { size: 14, root: mth(await storedLeaves()) });
  });

  test('a zone with its log off gets no leaf and no head; turned on, it logs what every address serves; off again, DNS drops the head', async () => {
    const box = new SealedBox(randomBytes(32));
    const zone = 'quiet.example';
    const { ownerToken } = await testDb.db.transaction().execute((tx) => createDomain(tx, { name: zone, policy: { transparency: false }, now: new Date() }));
    const serial = async () => Number((await testDb.db.selectFrom('domains').select('serial').where('name', '=', zone).executeTakeFirstOrThrow()).serial);
    const servedHead = async () => (await readZone(testDb.db, zone, undefined))!.zone.treeHead;
    const before = await serial();
    const key = await makeKey([`carol@${zone}`]);
    await ownerPublish(api.baseUrl, zone, ownerToken, `carol@${zone}`, key.publicKey);
    assert.ok((await serial()) > before, 'the publish still moves the serial');
    assert.equal(await logSize(testDb.db, zone), 0);
    assert.equal(await signLatestTreeHead(testDb.db, box, zone, new Date()), undefined);
    assert.equal(await servedHead(), null);

    await testDb.db.transaction().execute((tx) => updateDomain(tx, zone, { transparency: true }));
    const leaves = (await leavesOf(zone)).map((l) => decodeLeaf(l.leaf));
    assert.deepEqual(leaves.map((l) => [l.action, l.sequence, l.fingerprint]), [['publish', 1, key.fingerprint]]);
    const head = await signLatestTreeHead(testDb.db, box, zone, new Date());
    assert.equal(head?.size, 1);
    assert.equal((await servedHead())?.size, 1);
    const sth = await fetch(`${api.baseUrl}/v1/log/${zone}/sth`);
    assert.equal(sth.status, 200);
    assert.equal((await sth.json()).tree_size, 1);

    await testDb.db.transaction().execute((tx) => updateDomain(tx, zone, { transparency: false }));
    assert.equal(await servedHead(), null);
    assert.equal(await logSize(testDb.db, zone), 1, 'what was logged stays');
    // The API drops the head once the change feed reports the zone.
    for (const started = Date.now(); ; ) {
      const response = await fetch(`${api.baseUrl}/v1/log/${zone}/sth`);
      const body = await response.json();
      if (response.status === 404) {
        assert.equal(body.code, 'LOG_ZONE_UNKNOWN');
        assert.match(body.error, /turned the zone's transparency log off/);
        break;
      }
      assert.ok(Date.now() - started < 10_000, 'the API still serves the head 10 s after the log was turned off');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  test(
    'two nodes on one PostgreSQL take 64 concurrent owner-API publishes into one tree without a gap or a fork',
    { skip: testBackend !== 'postgres' ? 'needs PostgreSQL (DATABASE_URL): the embedded database has one session' : false },
    async () => {
      const zoneToken = await addDomain(testDb.db, 'many.example');
      const second = await startApi(testDb);
      try {
        const keys = await Promise.all(Array.from({ length: 64 }, (_, i) => makeKey([`user${i}@many.example`])));
        await Promise.all(
          keys.map((key, i) => ownerPublish(i % 2 ? second.baseUrl : api.baseUrl, 'many.example', zoneToken, `user${i}@many.example`, key.publicKey)),
        );
      } finally {
        await second.close();
      }
      const leaves = await leavesOf('many.example');
      assert.equal(leaves.length, 64);
      assert.deepEqual(leaves.map((l) => l.index), Array.from({ length: 64 }, (_, i) => i));
      const decoded = leaves.map((l) => decodeLeaf(l.leaf));
      assert.equal(new Set(decoded.map((l) => l.label.toString('hex'))).size, 64);
      assert.ok(decoded.every((l) => l.action === 'publish' && l.sequence === 1));
      for (let n = 1; n <= 64; n++) assert.deepEqual(await rootAt(testDb.db, 'many.example', n), mth(leaves.slice(0, n).map((l) => l.leaf)), `size ${n}`);
      const nodes = await testDb.db.selectFrom('log_nodes').select(sql<string>`count(*)`.as('n')).where('zone', '=', 'many.example').executeTakeFirstOrThrow();
      assert.equal(Number(nodes.n), 63, 'each complete subtree above the leaves of 64 stored once');
    },
  );
});
