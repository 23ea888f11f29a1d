// A running serve records itself in serve_nodes with the addresses it bound, and refreshes the row
// while it runs; a clean stop removes it. A row not refreshed for three periods belongs to a process
// that died without stopping, and is not reported as running.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from './db/database.js';

const HEARTBEAT_MS = 30_000;
const STALE_SECONDS = (3 * HEARTBEAT_MS) / 1000;

export interface ServeNode {
  hostname: string;
  pid: number;
  listeners: Record<string, string>;
  startedAt: Date;
}

export interface ServeRegistration {
  close(): Promise<void>;
}

export async function registerServe(db: Db, listeners: Record<string, string>, log: Logger): Promise<ServeRegistration> {
  const id = randomUUID();
  await db
    .insertInto('serve_nodes')
    .values({ id, hostname: hostname(), pid: process.pid, listeners: JSON.stringify(listeners) })
    .execute();
  const timer = setInterval(() => {
    db.updateTable('serve_nodes')
      .set({ seen_at: sql`now()` })
      .where('id', '=', id)
      .execute()
      .catch((err) => log.warn({ err }, 'could not refresh this server in serve_nodes'));
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await db.deleteFrom('serve_nodes').where('id', '=', id).execute();
    },
  };
}

/** The servers that refreshed their row recently, oldest first. */
export async function runningServers(db: Db): Promise<ServeNode[]> {
  const rows = await db
    .selectFrom('serve_nodes')
    .select(['hostname', 'pid', 'listeners', 'started_at'])
    .where('seen_at', '>', sql<Date>`now() - make_interval(secs => ${STALE_SECONDS})`)
    .orderBy('started_at')
    .execute();
  return rows.map((r) => ({ hostname: r.hostname, pid: r.pid, listeners: r.listeners, startedAt: r.started_at }));
}
