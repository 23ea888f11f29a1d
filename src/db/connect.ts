// Builds the kysely instance: PostgreSQL when DATABASE_URL is set, otherwise the embedded PGlite
// database in the data directory (see embedded.ts), reached through its Unix socket.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from './database.js';
import { DataDirInUseError, SOCKET_PORT, ownerIsRunning, socketDirFor, startEmbeddedOwner, type EmbeddedOwner } from './embedded.js';
import { embeddedDatabaseExists } from './embedded-paths.js';

// PostgreSQL returns int8 as text to avoid precision loss; our bigints (serials, counters) fit in
// a double only up to 2^53, so keep them as strings and convert explicitly where used.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export type Backend = 'postgres' | 'pglite';

export interface DatabaseHandle {
  db: Db;
  backend: Backend;
  /** Connection settings, so a component (LISTEN, benchmarks) can open its own pg client. */
  clientConfig: pg.ClientConfig;
  /** True when this process owns the embedded database (others reach it through us). */
  ownsEmbedded: boolean;
  close(): Promise<void>;
}

export interface OpenOptions {
  log: Logger;
  /** Pool size; the embedded owner serialises queries anyway. */
  maxConnections?: number;
}

const CONNECT_TIMEOUT_MS = 5000;

async function waitForOwner(dataDir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ownerIsRunning(dataDir)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export async function openDatabase(config: Config['database'], options: OpenOptions): Promise<DatabaseHandle> {
  const { log } = options;
  let clientConfig: pg.ClientConfig;
  let owner: EmbeddedOwner | undefined;
  let backend: Backend;

  if (config.url) {
    backend = 'postgres';
    clientConfig = { connectionString: config.url };
  } else {
    backend = 'pglite';
    if (!(await ownerIsRunning(config.dataDir))) {
      try {
        // Creating the database (initdb inside PGlite) takes many seconds; say so rather than
        // leave the first start silent.
        const creating = !embeddedDatabaseExists(config.dataDir);
        const started = Date.now();
        if (creating) log.info({ dataDir: config.dataDir }, `creating the embedded database in ${config.dataDir} (first start)`);
        owner = await startEmbeddedOwner(config.dataDir);
        if (creating) log.info({ dataDir: config.dataDir, ms: Date.now() - started }, 'embedded database created');
        else log.debug({ dataDir: config.dataDir }, 'opened embedded database');
      } catch (err) {
        // Another process won the lock a moment ago: use it once its socket is up.
        if (!(err instanceof DataDirInUseError) || !(await waitForOwner(config.dataDir, 5000))) throw err;
      }
    }
    clientConfig = { host: socketDirFor(config.dataDir), port: SOCKET_PORT, user: 'postgres', database: 'postgres' };
  }

  const pool = new pg.Pool({
    ...clientConfig,
    max: options.maxConnections ?? (backend === 'postgres' ? 20 : 8),
    // A server that does not answer must fail the request (503/451), not hold it forever. (The
    // embedded owner answers a new connection only between other clients' transactions, so a
    // busy one may take longer; it is on this machine and cannot vanish silently.)
    connectionTimeoutMillis: backend === 'postgres' ? CONNECT_TIMEOUT_MS : 0,
  });
  // A connection can be lost at any time (pg_terminate_backend, a server restart, the network).
  // The pool listens on idle clients only; a client that is checked out (inside a transaction,
  // between two queries) emits 'error' with nobody listening, and an unheard 'error' event ends
  // the process. So every client gets its own listener: the query in flight fails on its own, and
  // the pool drops the broken client when it is released (it is no longer queryable).
  pool.on('connect', (client) => {
    client.on('error', (err) => log.warn({ err }, 'database connection lost (in use)'));
  });
  pool.on('error', (err) => log.warn({ err }, 'database connection lost (idle)'));
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) }) as Db;

  let closing: Promise<void> | undefined;
  return {
    db,
    backend,
    clientConfig,
    ownsEmbedded: owner !== undefined,
    close() {
      closing ??= (async () => {
        await db.destroy();
        await owner?.close();
      })();
      return closing;
    },
  };
}
