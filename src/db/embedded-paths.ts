// Where the embedded database (embedded.ts) keeps its files, socket and lock, without loading
// PGlite: configuration checks, `status` and the "no database here" refusal only look at paths.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';

/** libpq convention: a socket directory plus port names `<dir>/.s.PGSQL.<port>`. */
export const SOCKET_PORT = 5432;
export const LOCK_FILE = 'keypost.lock';
const SOCKET_NAME = `.s.PGSQL.${SOCKET_PORT}`;
/** PGlite's files live in this subdirectory of the data directory. */
const PGDATA = 'pgdata';
// sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL.
export const MAX_SOCKET_PATH = 107;

export function socketDirFor(dataDir: string): string {
  return path.resolve(dataDir);
}

export function embeddedSocketPath(dataDir: string): string {
  return path.join(socketDirFor(dataDir), SOCKET_NAME);
}

export function pgdataDir(dataDir: string): string {
  return path.join(dataDir, PGDATA);
}

/** True once an owner has created the database files (PostgreSQL writes PG_VERSION at initdb). */
export function embeddedDatabaseExists(dataDir: string): boolean {
  return existsSync(path.join(pgdataDir(dataDir), 'PG_VERSION'));
}

/** True when a running owner answers on the data directory's socket. */
export function ownerIsRunning(dataDir: string): Promise<boolean> {
  const target = embeddedSocketPath(dataDir);
  if (!existsSync(target)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const probe = connect(target);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

