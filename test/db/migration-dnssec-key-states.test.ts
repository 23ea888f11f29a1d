// The key-states migration (migrations/2026_12_02_150000_add_dnssec_key_states.ts) goes down and
// up again: down leaves each zone with the one key its CDS named (the active one), so the code of
// before, which signs with every key, signs as the zone asked its parent to trust; up makes the
// keys it finds active again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { loadConfig } from '../../src/config.js';
import type { Db } from '../../src/db/database.js';
import { openSecretBox } from '../../src/secrets/sealed-box.js';
import { migrateDown, migrateToLatest, migrationStatus } from '../../src/db/migrate.js';
import { startRollover } from '../../src/dns/dnssec/rollover.js';
import { addZone } from '../dns/support/fixtures.js';
import { signZone } from '../dns/support/dnssec.js';

const MIGRATION = '2026_12_02_150000_add_dnssec_key_states';
let db: TestDatabase;

before(async () => {
  db = await openTestDatabase();
});
after(async () => {
  await db?.close();
});

const columns = async () =>
  (await sql<{ column_name: string }>`select column_name from information_schema.columns where table_name = 'dnssec_keys'`.execute(db.db)).rows.map((r) => r.column_name);

test('down keeps only the active key of a zone in a rollover and drops the state columns; up restores them', async () => {
  await addZone(db.db, 'mig.test');
  await signZone(db, 'mig.test', 13);
  const box = openSecretBox(loadConfig(db.env).secrets);
  const active = await (db.db as Db).selectFrom('dnssec_keys').select('key_tag').where('domain', '=', 'mig.test').executeTakeFirstOrThrow();
  await (db.db as Db).transaction().execute((tx) => startRollover(tx, box, 'mig.test', new Date()));
  assert.equal((await (db.db as Db).selectFrom('dnssec_keys').select('id').execute()).length, 2);

  // Migrations after this one (added later) go down first.
  while ((await migrationStatus(db.db as Db)).find((m) => m.name === MIGRATION)?.executedAt) await migrateDown(db.db as Db);
  assert.ok(!(await columns()).includes('state'));
  assert.ok(!(await columns()).includes('state_since'));
  const left = (await sql<{ key_tag: number }>`select key_tag from dnssec_keys`.execute(db.db)).rows;
  assert.deepEqual(left.map((r) => r.key_tag), [active.key_tag]);

  await migrateToLatest(db.db as Db);
  const keys = await (db.db as Db).selectFrom('dnssec_keys').select(['key_tag', 'state']).execute();
  assert.deepEqual(keys, [{ key_tag: active.key_tag, state: 'active' }]);
});
