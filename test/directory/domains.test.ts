// Zones and publishing at the repository level, against the real database: owner tokens stored as
// hashes, date serials, serial bumps in the same transaction, one key per address, the served key
// by fingerprint carrying exactly the published user IDs, and withdrawal by revocation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDomain, hashToken, initialSerial, ownerTokenMatches, removeDomain, updateDomain } from '../../src/directory/domains.js';
import { checkKey, type CheckedKey } from '../../src/keys/key-policy.js';
import { publishAddress, withdrawAddress, withdrawKey } from '../../src/directory/publish.js';
import { KeypostError } from '../../src/errors.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { makeKey, revokedCopy } from './write-side.js';

let testDb: TestDatabase;

before(async () => {
  testDb = await openTestDatabase();
});

after(async () => {
  await testDb?.close();
});

async function checked(armored: string): Promise<CheckedKey> {
  const result = await checkKey(armored, { now: new Date() });
  assert.ok('key' in result, `key accepted: ${JSON.stringify(result)}`);
  return result.key;
}

async function serial(zone: string): Promise<number> {
  return Number((await testDb.db.selectFrom('domains').select('serial').where('name', '=', zone).executeTakeFirstOrThrow()).serial);
}

function servedUserIds(data: Buffer): string {
  return Buffer.from(data).toString('latin1');
}

describe('domains', () => {
  test('a new zone starts at a date serial and stores only the hash of its owner token', async () => {
    const now = new Date(Date.UTC(2026, 10, 27, 12));
    assert.equal(initialSerial(now), 2026112700);
    const { domain, ownerToken } = await testDb.db.transaction().execute((tx) => createDomain(tx, { name: 'zone-a.example', now }));
    assert.equal(domain.serial, 2026112700);
    assert.match(ownerToken, /^[A-Za-z0-9_-]{43}$/);
    const row = await testDb.db.selectFrom('domains').select('owner_token_hash').where('name', '=', 'zone-a.example').executeTakeFirstOrThrow();
    assert.deepEqual(Buffer.from(row.owner_token_hash), hashToken(ownerToken));
    assert.ok(!Buffer.from(row.owner_token_hash).toString('utf8').includes(ownerToken));
    assert.equal(await ownerTokenMatches(testDb.db, 'zone-a.example', ownerToken), true);

    const other = await testDb.db.transaction().execute((tx) => createDomain(tx, { name: 'zone-b.example', now }));
    assert.equal(await ownerTokenMatches(testDb.db, 'zone-b.example', ownerToken), false, 'tokens are per zone');
    assert.equal(await ownerTokenMatches(testDb.db, 'zone-a.example', other.ownerToken), false);

    await assert.rejects(
      testDb.db.transaction().execute((tx) => createDomain(tx, { name: 'zone-a.example', now })),
      (err: KeypostError) => err.code === 'DIR_DOMAIN_EXISTS',
    );
  });

  test('policy changes bump the serial only when DNS publishes them', async () => {
    const before = await serial('zone-a.example');
    await testDb.db.transaction().execute((tx) => updateDomain(tx, 'zone-a.example', { powBits: 25 }));
    assert.equal(await serial('zone-a.example'), before + 1);
    await testDb.db.transaction().execute((tx) => updateDomain(tx, 'zone-a.example', { nextHop: 'smtp://10.0.0.1:25' }));
    assert.equal(await serial('zone-a.example'), before + 1);
    await testDb.db.transaction().execute((tx) => updateDomain(tx, 'zone-a.example', { dns: { nameservers: [{ name: 'ns1.zone-a.example', ipv4: ['192.0.2.53'] }] } }));
    assert.equal(await serial('zone-a.example'), before + 2);
    // A rolled-back change leaves the serial alone: the bump shares the transaction.
    await assert.rejects(
      testDb.db.transaction().execute(async (tx) => {
        await updateDomain(tx, 'zone-a.example', { powBits: 30 });
        throw new Error('abort');
      }),
    );
    assert.equal(await serial('zone-a.example'), before + 2);
  });
});

describe('publishing', () => {
  test('one key serving two addresses carries both user IDs; withdrawing one removes only it', async () => {
    await testDb.db.transaction().execute((tx) => createDomain(tx, { name: 'pub.example', now: new Date() }));
    const key = await makeKey(['Ann <ann@pub.example>', 'ann.b@pub.example', 'ann@other.example']);
    // As the owner API does: each publication judged with only its own address served.
    const forAddress = async (address: string) => {
      const result = await checkKey(key.publicKey, { now: new Date(), isServedAddress: (a) => a === address });
      assert.ok('key' in result);
      return result.key;
    };
    await testDb.db.transaction().execute(async (tx) => {
      await publishAddress(tx, { address: 'ann@pub.example', key: await forAddress('ann@pub.example'), source: 'owner' });
    });
    await testDb.db.transaction().execute(async (tx) => {
      await publishAddress(tx, { address: 'ann.b@pub.example', key: await forAddress('ann.b@pub.example'), source: 'owner' });
    });
    const read = async () =>
      servedUserIds((await testDb.db.selectFrom('keys').select('key_data').where('fingerprint', '=', key.fingerprint).executeTakeFirstOrThrow()).key_data);
    let served = await read();
    assert.ok(served.includes('Ann <ann@pub.example>') && served.includes('ann.b@pub.example'));
    assert.ok(!served.includes('other.example'));
    const minimal = await testDb.db.selectFrom('addresses').select('minimal_key').where('address', '=', 'ann.b@pub.example').executeTakeFirstOrThrow();
    assert.ok(!servedUserIds(minimal.minimal_key).includes('ann@pub.example'), 'a minimal key names one address');

    const before = await serial('pub.example');
    assert.equal(await testDb.db.transaction().execute((tx) => withdrawAddress(tx, 'ann@pub.example')), true);
    assert.equal(await serial('pub.example'), before + 1);
    served = await read();
    assert.ok(!served.includes('<ann@pub.example>'));
    assert.ok(served.includes('ann.b@pub.example'));
    assert.equal(await testDb.db.transaction().execute((tx) => withdrawAddress(tx, 'ann@pub.example')), false);
  });

  test('addresses outside served zones, or not in the key, are refused', async () => {
    const key = await checked((await makeKey(['zed@unserved.example', 'zed@pub.example'])).publicKey);
    await assert.rejects(
      testDb.db.transaction().execute((tx) => publishAddress(tx, { address: 'zed@unserved.example', key, source: 'owner' })),
      (err: KeypostError) => err.code === 'DIR_ADDRESS_NOT_SERVED',
    );
    await assert.rejects(
      testDb.db.transaction().execute((tx) => publishAddress(tx, { address: 'yan@pub.example', key, source: 'owner' })),
      (err: KeypostError) => err.code === 'DIR_KEY_ADDRESS_NOT_IN_KEY',
    );
  });

  test('a revocation withdraws every address of the key, bumps each zone once, and blocks republication', async () => {
    await testDb.db.transaction().execute((tx) => createDomain(tx, { name: 'rev.example', now: new Date() }));
    const key = await makeKey(['r1@rev.example', 'r2@rev.example', 'r3@pub.example']);
    const good = await checked(key.publicKey);
    await testDb.db.transaction().execute(async (tx) => {
      for (const address of ['r1@rev.example', 'r2@rev.example', 'r3@pub.example']) await publishAddress(tx, { address, key: good, source: 'import' });
    });
    const rev = await serial('rev.example');
    const pub = await serial('pub.example');
    const revocation = await checkKey(await revokedCopy(key), { now: new Date() });
    assert.equal(revocation.status, 'revoked');
    assert.ok('key' in revocation);
    const withdrawn = await testDb.db.transaction().execute((tx) => withdrawKey(tx, key.fingerprint, { revocation: revocation.key }));
    assert.deepEqual(withdrawn, ['r1@rev.example', 'r2@rev.example', 'r3@pub.example']);
    assert.equal(await serial('rev.example'), rev + 1);
    assert.equal(await serial('pub.example'), pub + 1);
    const stored = await testDb.db.selectFrom('keys').select(['revoked', 'key_data']).where('fingerprint', '=', key.fingerprint).executeTakeFirstOrThrow();
    assert.equal(stored.revoked, true);
    assert.ok(!servedUserIds(stored.key_data).includes('rev.example'));
    await assert.rejects(
      testDb.db.transaction().execute((tx) => publishAddress(tx, { address: 'r1@rev.example', key: good, source: 'owner' })),
      (err: KeypostError) => err.code === 'DIR_KEY_REVOKED',
    );
  });

  test('removing a zone removes its addresses', async () => {
    const { addresses } = await testDb.db.transaction().execute((tx) => removeDomain(tx, 'pub.example'));
    assert.equal(addresses, 1);
    const left = await testDb.db.selectFrom('addresses').select('address').where('domain', '=', 'pub.example').execute();
    assert.deepEqual(left, []);
  });
});
