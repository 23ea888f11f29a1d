// A new embedded database is unpacked from the initdb dump the build made (embedded-template.ts)
// instead of running initdb at first start, and is the same working database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { pino } from 'pino';
import { openDatabase } from '../../src/db/connect.js';
import { installedPgliteVersion, readTemplate } from '../../src/db/embedded-template.js';
import { migrateToLatest } from '../../src/db/migrate.js';

const log = pino({ level: 'silent' });
const scratch = () => mkdtempSync(path.join(tmpdir(), 'kp-template-'));

/** Opens (creating) the embedded database in `dataDir`, runs `fn`, closes it. */
async function withEmbedded<T>(dataDir: string, fn: (db: Awaited<ReturnType<typeof openDatabase>>['db']) => Promise<T>): Promise<T> {
  const handle = await openDatabase({ url: undefined, dataDir }, { log });
  try {
    return await fn(handle.db);
  } finally {
    await handle.close();
  }
}

const systemIdentifier = (db: Parameters<Parameters<typeof withEmbedded>[1]>[0]) =>
  sql<{ id: string }>`select system_identifier::text as id from pg_control_system()`.execute(db).then((r) => r.rows[0].id);

test('the build left an initdb dump for the installed PGlite', () => {
  assert.ok(readTemplate() instanceof Blob);
});

test('a dump from another PGlite, or none, is not used', () => {
  const dir = scratch();
  try {
    assert.equal(readTemplate(dir), undefined, 'no dump');
    copyFileSync(fileURLToPath(new URL('../../src/db/pgdata-template.tar.gz', import.meta.url)), path.join(dir, 'pgdata-template.tar.gz'));
    writeFileSync(path.join(dir, 'pgdata-template.json'), JSON.stringify({ pglite: `${installedPgliteVersion()}-other` }));
    assert.equal(readTemplate(dir), undefined, 'another version');
    writeFileSync(path.join(dir, 'pgdata-template.json'), JSON.stringify({ pglite: installedPgliteVersion() }));
    assert.ok(readTemplate(dir) instanceof Blob, 'the same version');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('new data directories come from the dump, take the migrations, and reopen with their data', { timeout: 120_000 }, async () => {
  const first = scratch();
  const second = scratch();
  try {
    const ids: string[] = [];
    await withEmbedded(path.join(first, 'data'), async (db) => {
      assert.ok((await migrateToLatest(db)).length > 0);
      await sql`insert into spent_stamps (stamp_sha1, expires_at) values (${Buffer.alloc(20, 1)}, now() + interval '1 day')`.execute(db);
      ids.push(await systemIdentifier(db));
    });
    await withEmbedded(path.join(first, 'data'), async (db) => {
      assert.deepEqual(await migrateToLatest(db), [], 'nothing pending after reopening');
      assert.equal((await sql<{ n: number }>`select count(*)::int as n from spent_stamps`.execute(db)).rows[0].n, 1);
    });
    await withEmbedded(path.join(second, 'data'), async (db) => {
      ids.push(await systemIdentifier(db));
    });
    // initdb draws a new system identifier each time it runs; one shared by two data directories
    // shows that neither ran it.
    assert.equal(ids[0], ids[1]);
  } finally {
    rmSync(first, { recursive: true, force: true });
    rmSync(second, { recursive: true, force: true });
  }
});
