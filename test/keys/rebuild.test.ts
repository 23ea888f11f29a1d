// `keypost key rebuild`: the view re-run over every stored certificate agrees with what the
// publish path wrote, finds served forms that drifted (here: rows as the code before the
// certificate store left them after an older copy was re-uploaded), and repairs them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { checkKey } from '../../src/keys/key-policy.js';
import { minimalKeyFor } from '../../src/keys/minimal-key.js';
import { publishAddress } from '../../src/directory/publish.js';
import { rebuildServedForms } from '../../src/keys/rebuild.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { fromPrivate } from '../directory/key-fixtures.js';
import { addDomain } from '../directory/write-side.js';

let testDb: TestDatabase;

before(async () => {
  testDb = await openTestDatabase();
  await addDomain(testDb.db, 'example.org');
});

after(async () => {
  await testDb?.close();
});

async function accepted(bytes: Uint8Array) {
  const check = await checkKey(bytes, { now: new Date() });
  assert.ok('key' in check, JSON.stringify(check));
  return check.key;
}

async function serial(): Promise<number> {
  return Number((await testDb.db.selectFrom('domains').select('serial').where('name', '=', 'example.org').executeTakeFirstOrThrow()).serial);
}

describe('keypost key rebuild', () => {
  test('agrees with the publish path, reports drifted forms, and repairs them', async () => {
    const { privateKey } = await openpgp.generateKey({
      type: 'ecc',
      userIDs: [{ email: 'pia@example.org' }],
      subkeys: [{}, {}],
      date: new Date(Date.now() - 86_400_000),
      format: 'object',
    });
    const original = fromPrivate(privateKey);
    privateKey.subkeys[1] = await privateKey.subkeys[1].revoke(privateKey.keyPacket as openpgp.SecretKeyPacket);
    const revoked = await accepted(fromPrivate(privateKey).binary);
    await testDb.db.transaction().execute((tx) => publishAddress(tx, { address: 'pia@example.org', key: revoked, source: 'owner' }));

    const clean = await rebuildServedForms(testDb.db, { apply: false });
    assert.ok(clean.certificates >= 1);
    assert.deepEqual(clean.changes, [], 'what the publish path served is what the view derives');

    // Rows as "last upload wins" left them: the old copy's minimal key, and it as the full key.
    const old = await accepted(original.binary);
    await testDb.db
      .updateTable('addresses')
      .set({ minimal_key: Buffer.from(await minimalKeyFor(old.stripped, 'pia@example.org')) })
      .where('address', '=', 'pia@example.org')
      .execute();
    await testDb.db.updateTable('keys').set({ key_data: Buffer.from(old.stripped) }).where('fingerprint', '=', original.fingerprint).execute();

    const cli = await runKeypost(['key', 'rebuild', '--check', '--json'], testDb.env);
    assert.equal(cli.code, 1, cli.stderr);
    const checked = JSON.parse(cli.stdout);
    assert.equal(checked.applied, false);
    assert.deepEqual(
      checked.changes.filter((c: { fingerprint: string }) => c.fingerprint === original.fingerprint),
      [
        { fingerprint: original.fingerprint, form: 'by-fingerprint' },
        { fingerprint: original.fingerprint, form: 'minimal-key', address: 'pia@example.org' },
      ],
    );

    const before = await serial();
    const applied = await rebuildServedForms(testDb.db, { apply: true });
    assert.equal(applied.changes.length, 2);
    assert.ok((await serial()) > before, 'a repaired zone gets a new serial');
    const row = await testDb.db.selectFrom('addresses').select('minimal_key').where('address', '=', 'pia@example.org').executeTakeFirstOrThrow();
    const minimal = await openpgp.readKey({ binaryKey: new Uint8Array(row.minimal_key) });
    assert.deepEqual(minimal.subkeys.map((s) => s.getKeyID().toHex()), [privateKey.subkeys[0].getKeyID().toHex()]);

    const after = await runKeypost(['key', 'rebuild', '--check'], testDb.env);
    assert.equal(after.code, 0, after.stdout + after.stderr);
    assert.match(after.stdout, /0 served form\(s\) would change/);
  });
});
