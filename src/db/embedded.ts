// Embedded PostgreSQL (PGlite) owned by exactly one process per data directory.
//
// PGlite is a single in-process backend: two processes opening the same directory would corrupt it.
// The owner takes an exclusive lock file, then serves the database on a Unix socket inside the data
// directory with the PostgreSQL wire protocol. Every caller, the owner included, connects through
// that socket with `pg`, so there is one driver, one dialect and one transaction model everywhere.
// A second keypost process (`keypost domain add` while `serve` runs) finds the socket and connects
// to the running owner instead of opening the files.
import { mkdirSync, openSync, closeSync, writeSync, readFileSync, rmSync, unlinkSync, existsSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { serializeClientBatches } from './embedded-queue.js';
import { LOCK_FILE, MAX_SOCKET_PATH, embeddedDatabaseExists, embeddedSocketPath, pgdataDir, socketDirFor } from './embedded-paths.js';
import { readTemplate } from './embedded-template.js';

export class DataDirInUseError extends Error {
  readonly code = 'DB_DATA_DIR_IN_USE';
}

export interface EmbeddedOwner {
  socketDir: string;
  close(): Promise<void>;
}

export { SOCKET_PORT, ownerIsRunning, socketDirFor } from './embedded-paths.js';
const socketPath = embeddedSocketPath;

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Create the lock file exclusively; a lock left by a dead process is taken over. */
function acquireLock(dataDir: string): string {
  const lockPath = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return lockPath;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(lockPath, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processIsAlive(holder)) {
        throw new DataDirInUseError(
          `the embedded database in ${path.resolve(dataDir)} is in use by process ${holder}; ` +
            'stop it, or set DATABASE_URL to use PostgreSQL',
        );
      }
      unlinkSync(lockPath);
    }
  }
  throw new DataDirInUseError(`could not lock ${lockPath}`);
}

/**
 * Settings of the embedded database. PostgreSQL's 128 MB of shared buffers are all touched when
 * PGlite starts, which put about 110 MB on the process's RSS before any work. The embedded
 * default serves one keypost process, whose data files the operating system caches as well;
 * a deployment that needs more memory for PostgreSQL runs PostgreSQL (DATABASE_URL).
 */
const EMBEDDED_SETTINGS = ['shared_buffers = 16MB'];

/** Opens the PGlite files in `dataDir`, creating them from the build's initdb dump when it can. */
async function openPglite(dataDir: string): Promise<PGlite> {
  const template = embeddedDatabaseExists(dataDir) ? undefined : readTemplate();
  if (template) {
    try {
      return await PGlite.create({ dataDir: pgdataDir(dataDir), loadDataDir: template, postgresqlconf: EMBEDDED_SETTINGS });
    } catch {
      // A dump that does not unpack is no reason not to start: initdb as if there were none.
      rmSync(pgdataDir(dataDir), { recursive: true, force: true });
    }
  }
  return PGlite.create({ dataDir: pgdataDir(dataDir), postgresqlconf: EMBEDDED_SETTINGS });
}

/** Open PGlite in `dataDir` and serve it on the data directory's Unix socket. */
export async function startEmbeddedOwner(dataDir: string): Promise<EmbeddedOwner> {
  // Checked before anything is created (configuration loading refuses such a path already).
  const sock = socketPath(dataDir);
  if (Buffer.byteLength(sock) > MAX_SOCKET_PATH) {
    throw new DataDirInUseError(`KEYPOST_DATA_DIR path is too long for a Unix socket: ${sock}`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const lockPath = acquireLock(dataDir);
  let pglite: PGlite | undefined;
  try {
    // A socket file left by a crashed owner would make listen() fail with EADDRINUSE.
    if (existsSync(sock)) unlinkSync(sock);
    pglite = await openPglite(dataDir);
    const server = new PGLiteSocketServer({ db: pglite, path: sock, maxConnections: 64 });
    serializeClientBatches(server);
    await server.start();
    const db = pglite;
    let closed: Promise<void> | undefined;
    return {
      socketDir: socketDirFor(dataDir),
      close() {
        closed ??= (async () => {
          await server.stop();
          await db.close();
          if (existsSync(sock)) unlinkSync(sock);
          unlinkSync(lockPath);
        })();
        return closed;
      },
    };
  } catch (err) {
    await pglite?.close().catch(() => undefined);
    unlinkSync(lockPath);
    throw err;
  }
}
