// A throwaway, migrated database for one test file.
//
// With DATABASE_URL set (CI's PostgreSQL run), each call creates a fresh database next to the one
// named in the URL and drops it afterwards, so test files never see each other's rows. Without it,
// each call opens embedded PGlite in a new temporary data directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';

export interface TestDatabase extends DatabaseHandle {
  /** The database settings to hand to loadConfig()/child processes (DATABASE_URL, KEYPOST_DATA_DIR). */
  env: { DATABASE_URL?: string; KEYPOST_DATA_DIR: string };
}

export const testBackend: 'postgres' | 'pglite' = process.env.DATABASE_URL ? 'postgres' : 'pglite';

/** Creates a fresh PostgreSQL database and returns its URL, with a function that drops it. */
export async function createScratchPostgres(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `keypost_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function openTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kp-'));
  const log = pino({ level: 'silent' });
  const baseUrl = process.env.DATABASE_URL;
  const scratch = baseUrl ? await createScratchPostgres(baseUrl) : undefined;
  const handle = await openDatabase({ url: scratch?.url, dataDir }, { log });
  if (options.migrate !== false) await migrateToLatest(handle.db);
  const env = scratch ? { DATABASE_URL: scratch.url, KEYPOST_DATA_DIR: dataDir } : { KEYPOST_DATA_DIR: dataDir };
  return {
    ...handle,
    env,
    async close() {
      await handle.close();
      await scratch?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
