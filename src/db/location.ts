// Which database a keypost command would use, said the way an operator names it, and whether a
// keypost database is there at all: one-shot commands must find one, never create one (only
// `serve` and `migrate` do), or a command run from the wrong directory silently starts a second,
// empty database that no server reads.
import path from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db } from './database.js';
import { embeddedDatabaseExists } from './embedded-paths.js';

/** `the embedded database in /srv/keypost/data` or `PostgreSQL database keypost on db.example:5432`. */
export function databaseLocation(config: Config['database']): string {
  if (!config.url) return `the embedded database in ${path.resolve(config.dataDir)}`;
  const url = new URL(config.url);
  const name = decodeURIComponent(url.pathname.replace(/^\//, '')) || url.username || 'postgres';
  return `PostgreSQL database ${name} on ${url.hostname || 'localhost'}:${url.port || 5432}`;
}

/** What to tell someone who ran a command where there is no keypost database. */
export function noDatabaseMessage(config: Config['database']): string {
  const where = config.url ? databaseLocation(config) : config.dataDir;
  return `no keypost database at ${where}: start keypost serve first, or set KEYPOST_DATA_DIR / DATABASE_URL`;
}

/** Without opening anything: are there embedded database files? (PostgreSQL: see hasSchema.) */
export function embeddedDatabaseFound(config: Config['database']): boolean {
  return embeddedDatabaseExists(config.dataDir);
}

/** True when keypost's migrations have run in this database (kysely's bookkeeping table exists). */
export async function hasSchema(db: Db): Promise<boolean> {
  const { rows } = await sql<{ found: string | null }>`select to_regclass('kysely_migration')::text as found`.execute(db);
  return rows[0]?.found != null;
}
