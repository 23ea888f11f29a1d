// keypost key import: a keyring with good keys, keys outside the zone, an expired key, a duplicate
// address and a revocation, imported by the real CLI; the summary names each skip with its reason.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import * as openpgp from 'openpgp';
import { createProgress } from '../../src/cli/progress.js';
import { armor } from '../../src/keys/key-policy.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { addDomain, makeKey, revokedCopy } from './write-side.js';

let testDb: TestDatabase;
let dir: string;

before(async () => {
  testDb = await openTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'kp-import-'));
  await addDomain(testDb.db, 'imp.example');
});

after(async () => {
  await testDb?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function binary(armored: string): Promise<Uint8Array> {
  return (await openpgp.readKey({ armoredKey: armored })).write();
}

async function published(): Promise<Map<string, string>> {
  const rows = await testDb.db.selectFrom('addresses').select(['address', 'fingerprint']).where('status', '=', 'published').execute();
  return new Map(rows.map((r) => [r.address, r.fingerprint]));
}

describe('keypost key import', () => {
  test('publishes the zone’s addresses and lists every skip with its reason', async () => {
    const alpha = await makeKey(['Alpha <alpha@imp.example>']);
    const beta = await makeKey(['beta@imp.example', 'beta@other.example']);
    const outside = await makeKey(['gamma@other.example']);
    const expired = await makeKey(['delta@imp.example'], { date: new Date(Date.now() - 3 * 86400_000), keyExpirationTime: 86400 });
    const duplicate = await makeKey(['alpha@imp.example']);
    // One armoured block holding four keys, then a second block: gpg --export -a output, concatenated.
    const block1 = armor(Buffer.concat(await Promise.all([alpha, beta, outside, expired].map((k) => binary(k.publicKey)))));
    const file = path.join(dir, 'ring.asc');
    writeFileSync(file, `${block1}\n${duplicate.publicKey}`);

    const run = await runKeypost(['key', 'import', '--domain', 'IMP.example', file, '--json'], testDb.env);
    assert.equal(run.code, 0, run.stderr);
    const summary = JSON.parse(run.stdout);
    assert.equal(summary.domain, 'imp.example');
    assert.equal(summary.keys, 5);
    assert.equal(summary.published, 2);
    assert.equal(typeof summary.addresses_per_second, 'number');
    assert.deepEqual(
      summary.skipped.map((s: any) => [s.index, s.code]),
      [
        [3, 'DIR_KEY_NO_SERVED_ADDRESS'],
        [4, 'DIR_KEY_EXPIRED'],
        [5, 'DIR_IMPORT_DUPLICATE_ADDRESS'],
      ],
    );
    assert.ok(summary.skipped.every((s: any) => typeof s.reason === 'string' && s.reason.length > 0));
    const now = await published();
    assert.equal(now.get('alpha@imp.example'), alpha.fingerprint);
    assert.equal(now.get('beta@imp.example'), beta.fingerprint);
    assert.equal(now.has('beta@other.example'), false);
    assert.equal(now.has('delta@imp.example'), false);
    const source = await testDb.db.selectFrom('addresses').select('source').where('address', '=', 'alpha@imp.example').executeTakeFirstOrThrow();
    assert.equal(source.source, 'import');

    // A later import of a revocation withdraws; a new key for an address replaces the old one.
    const newBeta = await makeKey(['beta@imp.example']);
    writeFileSync(file, `${await revokedCopy(alpha)}\n${newBeta.publicKey}`);
    const second = await runKeypost(['key', 'import', '--domain', 'imp.example', file], testDb.env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /2 key\(s\) read; published 1 address\(es\) in imp\.example \(1 replaced an older key\); skipped 1/);
    assert.match(second.stdout, /skipped key #1 [0-9A-F]{40}: revoked; withdrew alpha@imp\.example \(DIR_KEY_REVOKED\)/);
    const after = await published();
    assert.equal(after.has('alpha@imp.example'), false);
    assert.equal(after.get('beta@imp.example'), newBeta.fingerprint);
  });

  test('usage and input errors', async () => {
    const missing = await runKeypost(['key', 'import', path.join(dir, 'ring.asc')], testDb.env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--domain/);
    const noFile = await runKeypost(['key', 'import', '--domain', 'imp.example', path.join(dir, 'nope.asc')], testDb.env);
    assert.equal(noFile.code, 2);
    writeFileSync(path.join(dir, 'junk.asc'), 'hello');
    const junk = await runKeypost(['key', 'import', '--domain', 'imp.example', path.join(dir, 'junk.asc')], testDb.env);
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /DIR_KEYRING_UNPARSABLE/);
    const unknownZone = await runKeypost(['key', 'import', '--domain', 'nowhere.example', path.join(dir, 'ring.asc')], testDb.env);
    assert.equal(unknownZone.code, 1);
    assert.match(unknownZone.stderr, /DIR_DOMAIN_NOT_FOUND/);
  });

  test('the progress bar draws on a terminal and stays silent otherwise', () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    let drawn = '';
    tty.on('data', (chunk) => (drawn += chunk));
    const bar = createProgress(tty, 'importing');
    bar.update(50, 100);
    bar.update(100, 100);
    bar.finish();
    assert.match(drawn, /\rimporting \[#{15}\.{15}\] 50\/100/);
    assert.match(drawn, /\rimporting \[#{30}\] 100\/100 .*\n$/s);

    const pipe = new PassThrough();
    let quiet = '';
    pipe.on('data', (chunk) => (quiet += chunk));
    const none = createProgress(pipe, 'importing');
    none.update(1, 2);
    none.finish();
    assert.equal(quiet, '');
  });
});
