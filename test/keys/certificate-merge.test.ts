// Uploads merge into the stored certificate instead of replacing it. Regression cases for K1
// ("last upload wins": an older copy brought a revoked subkey back and dropped the revocation) and
// K3 (the by-fingerprint copy lost revocations when only some addresses were published).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { checkKey } from '../../src/keys/key-policy.js';
import { keysByFingerprint } from '../../src/directory/key-lookup.js';
import { publishAddress } from '../../src/directory/publish.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { fromPrivate, type TestKey } from '../directory/key-fixtures.js';
import { addDomain, postJson, startApi, type RunningApi } from '../directory/write-side.js';

let testDb: TestDatabase;
let api: RunningApi;
let ownerToken: string;

before(async () => {
  testDb = await openTestDatabase();
  ownerToken = await addDomain(testDb.db, 'example.org');
  api = await startApi(testDb);
});

after(async () => {
  await api?.close();
  await testDb?.close();
});

/** A key made a day ago with two encryption subkeys, and the same key with the second revoked. */
async function keyWithRevocableSubkey(emails: string[]): Promise<{ original: TestKey; revoked: TestKey; revokedId: string }> {
  const { privateKey } = await openpgp.generateKey({
    type: 'ecc',
    userIDs: emails.map((email) => ({ email })),
    subkeys: [{}, {}],
    date: new Date(Date.now() - 86_400_000),
    format: 'object',
  });
  const original = fromPrivate(privateKey);
  const copy = await openpgp.readPrivateKey({ armoredKey: privateKey.armor() });
  copy.subkeys[1] = await copy.subkeys[1].revoke(copy.keyPacket as openpgp.SecretKeyPacket);
  return { original, revoked: fromPrivate(copy), revokedId: privateKey.subkeys[1].getKeyID().toHex() };
}

async function subkeysOf(bytes: Uint8Array): Promise<{ id: string; revocations: number }[]> {
  const key = await openpgp.readKey({ binaryKey: bytes });
  return key.subkeys.map((s) => ({ id: s.getKeyID().toHex(), revocations: s.revocationSignatures.length }));
}

/** What DNS (OPENPGPKEY) and WKD serve for the address: its stored minimal key. */
async function minimalKeyOf(address: string): Promise<Uint8Array> {
  const row = await testDb.db.selectFrom('addresses').select('minimal_key').where('address', '=', address).executeTakeFirstOrThrow();
  return new Uint8Array(row.minimal_key);
}

async function byFingerprint(fingerprint: string): Promise<Uint8Array> {
  const response = await fetch(`${api.baseUrl}/vks/v1/by-fingerprint/${fingerprint}`);
  assert.equal(response.status, 200);
  const key = await openpgp.readKey({ armoredKey: await response.text() });
  return key.write();
}

async function assertRevocationServed(fingerprint: string, address: string, revokedId: string): Promise<void> {
  const minimal = await subkeysOf(await minimalKeyOf(address));
  assert.ok(!minimal.some((s) => s.id === revokedId), `the revoked subkey is not in the minimal key: ${JSON.stringify(minimal)}`);
  assert.equal(minimal.length, 1);
  const full = await subkeysOf(await byFingerprint(fingerprint));
  assert.deepEqual(
    full.find((s) => s.id === revokedId),
    { id: revokedId, revocations: 1 },
    'the by-fingerprint copy keeps the revoked subkey with its revocation',
  );
}

describe('K1: an older copy never undoes a revocation', () => {
  test('K1: re-uploading the unrevoked copy by VKS upload or /pks/add does not bring the revoked subkey back', async () => {
    const { original, revoked, revokedId } = await keyWithRevocableSubkey(['kate@example.org']);
    const put = await fetch(`${api.baseUrl}/v1/domains/example.org/addresses/kate@example.org`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ keytext: original.armored }),
    });
    assert.equal(put.status, 200, await put.text());
    assert.equal((await subkeysOf(await minimalKeyOf('kate@example.org'))).length, 2);

    // The holder revokes the second subkey and uploads the new copy.
    const refreshed = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: revoked.armored });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    await assertRevocationServed(original.fingerprint, 'kate@example.org', revokedId);

    // Anyone re-uploads the copy from before the revocation: nothing served changes.
    const replay = await postJson(`${api.baseUrl}/vks/v1/upload`, { keytext: original.armored });
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    await assertRevocationServed(original.fingerprint, 'kate@example.org', revokedId);

    const hkp = await fetch(`${api.baseUrl}/pks/add`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ keytext: original.armored }).toString(),
    });
    assert.equal(hkp.status, 200, await hkp.text());
    await assertRevocationServed(original.fingerprint, 'kate@example.org', revokedId);
  });

  test('K1: the owner republishing an older copy keeps the revocation too', async () => {
    const { original, revoked, revokedId } = await keyWithRevocableSubkey(['liam@example.org']);
    const put = (keytext: string) =>
      fetch(`${api.baseUrl}/v1/domains/example.org/addresses/liam@example.org`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ keytext }),
      });
    assert.equal((await put(revoked.armored)).status, 200);
    assert.equal((await put(original.armored)).status, 200);
    await assertRevocationServed(original.fingerprint, 'liam@example.org', revokedId);
  });
});

describe('K3: the by-fingerprint copy keeps revocations whatever is published', () => {
  test('K3: publishing one of two addresses keeps the revoked subkey and its revocation in the by-fingerprint copy', async () => {
    const { revoked, revokedId } = await keyWithRevocableSubkey(['mia@example.org', 'mia.work@example.org']);
    const check = await checkKey(revoked.binary, { now: new Date() });
    assert.ok(check.status === 'valid');
    await testDb.db.transaction().execute((tx) => publishAddress(tx, { address: 'mia@example.org', key: check.key, source: 'self' }));
    const [served] = await keysByFingerprint(testDb.db, revoked.fingerprint);
    const parsed = await openpgp.readKey({ binaryKey: served.key });
    assert.deepEqual(parsed.getUserIDs(), ['<mia@example.org>']);
    assert.deepEqual(
      parsed.subkeys.map((s) => ({ id: s.getKeyID().toHex(), revocations: s.revocationSignatures.length })).find((s) => s.id === revokedId),
      { id: revokedId, revocations: 1 },
    );
  });
});
