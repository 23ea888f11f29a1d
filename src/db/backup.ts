// A logical backup of keypost's database: every row of every table, read in one repeatable-read
// transaction, so it is consistent while `serve` writes (on the embedded database the read goes
// through the running owner's socket like any other client). Rows travel as PostgreSQL's own JSON
// (row_to_json, json_populate_recordset), so every column type round-trips exactly (bytea as \x
// hex, bigint serials as numbers of any size, jsonb, timestamps). Works the same on PostgreSQL,
// where pg_dump is the usual tool (README "Backups").
import { sql } from 'kysely';
import type { Db } from './database.js';

export const BACKUP_FORMAT = 'keypost-backup/1';

export interface Backup {
  format: typeof BACKUP_FORMAT;
  createdAt: string;
  /** The schema the rows belong to: a restore needs exactly these migrations. */
  migrations: string[];
  tables: Record<string, unknown[]>;
}

/** kysely's own bookkeeping is recreated by the migrations, not copied. */
const BOOKKEEPING = ['kysely_migration', 'kysely_migration_lock'];

async function tableNames(db: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(db);
  return rows.map((r) => r.name).filter((name) => !BOOKKEEPING.includes(name));
}

async function appliedMigrations(db: Db): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
  return rows.map((r) => r.name);
}

export async function dumpDatabase(db: Db): Promise<Backup> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (tx) => {
      const tables: Record<string, unknown[]> = {};
      for (const name of await tableNames(tx)) {
        const { rows } = await sql<{ rows: unknown[] }>`select coalesce(json_agg(t), '[]'::json) as rows from ${sql.table(name)} t`.execute(tx);
        tables[name] = rows[0].rows;
      }
      return { format: BACKUP_FORMAT, createdAt: new Date().toISOString(), migrations: await appliedMigrations(tx), tables };
    });
}

export class BackupMismatchError extends Error {
  readonly code = 'DB_BACKUP_MISMATCH';
}

/** Loads a backup into a freshly migrated database (same migrations), in one transaction. */
export async function restoreDatabase(db: Db, backup: Backup): Promise<number> {
  if (backup.format !== BACKUP_FORMAT) throw new BackupMismatchError(`not a keypost backup (format ${String(backup.format)})`);
  const migrations = await appliedMigrations(db);
  if (migrations.join('\n') !== backup.migrations.join('\n')) {
    throw new BackupMismatchError('the backup was made by a keypost with different migrations; restore it with that version');
  }
  const known = new Set(await tableNames(db));
  let rows = 0;
  await db.transaction().execute(async (tx) => {
    // Rows are copied as they were: triggers (serial marks, change log) and foreign-key checks,
    // which are triggers too, must not rewrite or reorder them.
    await sql`set local session_replication_role = replica`.execute(tx);
    for (const [name, tableRows] of Object.entries(backup.tables)) {
      if (!known.has(name)) throw new BackupMismatchError(`the backup has a table this database lacks: ${name}`);
      if (tableRows.length === 0) continue;
      await sql`insert into ${sql.table(name)} select * from json_populate_recordset(null::${sql.table(name)}, ${JSON.stringify(tableRows)}::json)`.execute(tx);
      rows += tableRows.length;
    }
  });
  return rows;
}
