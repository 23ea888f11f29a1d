// keypost backup while serve runs, and keypost restore into a fresh database: the restored
// database serves the same zones, with the same serials and keys.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createScratchPostgres, openTestDatabase, testBackend } from '../support/database.js';
import { runKeypost, startServe } from '../support/keypost-process.js';
import { makeKey } from '../directory/key-fixtures.js';

const source = await openTestDatabase();
const scratch = mkdtempSync(path.join(tmpdir(), 'kp-bk-'));
after(async () => {
  await source.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function soaSerial(dnsAddress: string, zone: string): Promise<number> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([dnsAddress]);
  return (await resolver.resolveSoa(zone)).serial;
}

test('a backup taken while serve runs restores into a fresh database that serves the same zones, serials and keys', async () => {
  assert.equal((await runKeypost(['domain', 'add', 'backup.example'], source.env)).code, 0);
  const key = await makeKey({ emails: ['ann@backup.example'] });
  const ring = path.join(scratch, 'ring.asc');
  writeFileSync(ring, key.armored);
  const imported = await runKeypost(['key', 'import', '--domain', 'backup.example', ring], source.env);
  assert.equal(imported.code, 0, imported.stderr);

  const file = path.join(scratch, 'keypost.backup');
  const serving = await startServe(['--only', 'dns'], source.env);
  let records: string;
  let serial: number;
  try {
    const backup = await runKeypost(['backup', file], source.env);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /^backed up .* to .*: 1 zones, \d+ rows\n$/);
    records = (await runKeypost(['dns', 'records', 'backup.example'], source.env)).stdout;
    serial = await soaSerial(serving.addresses.dns, 'backup.example');
  } finally {
    assert.equal(await serving.stop(), 0);
  }
  assert.match(records, new RegExp(`OPENPGPKEY`));

  const target = testBackend === 'postgres' ? await createScratchPostgres(process.env.DATABASE_URL!) : undefined;
  const targetEnv = target ? { DATABASE_URL: target.url } : { DATABASE_URL: '', KEYPOST_DATA_DIR: path.join(scratch, 'restored') };
  try {
    const restored = await runKeypost(['restore', file], targetEnv);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /: 1 zones, \d+ rows\n$/);
    assert.equal((await runKeypost(['dns', 'records', 'backup.example'], targetEnv)).stdout, records, 'same records, serial and keys');

    const again = await runKeypost(['restore', file], targetEnv);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already holds a keypost database/);

    const restoredServe = await startServe(['--only', 'dns'], targetEnv);
    try {
      assert.equal(await soaSerial(restoredServe.addresses.dns, 'backup.example'), serial);
      const status = await runKeypost(['status', '--json'], targetEnv);
      assert.deepEqual(JSON.parse(status.stdout).zones, [{ name: 'backup.example', serial }]);
    } finally {
      assert.equal(await restoredServe.stop(), 0);
    }
  } finally {
    await target?.drop();
  }
});

test('restore refuses a file that is not a backup', async () => {
  const bogus = path.join(scratch, 'bogus');
  writeFileSync(bogus, 'hello');
  const result = await runKeypost(['restore', bogus], { DATABASE_URL: '', KEYPOST_DATA_DIR: path.join(scratch, 'never') });
  assert.equal(result.code, 2);
  assert.equal(result.stderr, `keypost: ${bogus} is not a keypost backup\n`);
});
