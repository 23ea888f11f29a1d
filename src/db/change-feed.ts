// The change feed: every change to what DNS publishes bumps the zone's SOA serial in the same
// transaction and sends NOTIFY 'keypost_zone' with the zone name (PostgreSQL LISTEN/NOTIFY).
// Subscribers (DNS nodes, directory caches) get the zone name and rebuild only that zone.
//
// NOTIFY is fast but not a guarantee (a dropped LISTEN connection misses messages), and the
// embedded database has one backend session, so a cheap poll of (name, serial) backs it up: no
// change is missed for longer than one poll interval.
import { EventEmitter } from 'node:events';
import { sql } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import type { DatabaseHandle } from './connect.js';
import type { Db, Tx } from './database.js';

export const ZONE_CHANNEL = 'keypost_zone';

/**
 * Bump the zone serial and queue the notification; both take effect when `tx` commits.
 * Serial arithmetic is RFC 1982; +1 stays well inside the 32-bit window secondaries compare with.
 */
export async function bumpZoneSerial(tx: Tx, zone: string): Promise<number> {
  // One statement: every writer of a zone makes this call while holding the zone's locks.
  // The notification is queued whether or not the zone row is still there.
  const { rows } = await sql<{ serial: string | number | null }>`
    with bumped as (
      update domains set serial = (serial + 1) % 4294967296, updated_at = now() where name = ${zone} returning serial
    )
    select (select serial from bumped) as serial, pg_notify(${ZONE_CHANNEL}, ${zone})`.execute(tx);
  return Number(rows[0]?.serial ?? 0);
}

/** Announce a zone that was created or removed (its serial row is gone or new). */
export async function notifyZoneChanged(tx: Tx, zone: string): Promise<void> {
  await sql`select pg_notify(${ZONE_CHANNEL}, ${zone})`.execute(tx);
}

export interface ChangeFeed {
  /** Calls `listener(zone)` whenever a zone's published data may have changed (or it was removed). */
  onZoneChange(listener: (zone: string) => void): () => void;
  start(): Promise<void>;
  close(): Promise<void>;
}

const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 5000;

export interface ChangeFeedOptions {
  pollIntervalMs?: number;
}

export function createChangeFeed(handle: DatabaseHandle, log: Logger, options: ChangeFeedOptions = {}): ChangeFeed {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const pollMs = options.pollIntervalMs ?? (handle.backend === 'pglite' ? 250 : 1000);
  let serials = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let listener: pg.Client | undefined;
  let closed = false;

  const emit = (zone: string) => events.emit('zone', zone);

  async function poll(db: Db): Promise<void> {
    const rows = await db.selectFrom('domains').select(['name', 'serial']).execute();
    const next = new Map(rows.map((r) => [r.name, String(r.serial)]));
    for (const [name, serial] of next) if (serials.get(name) !== serial) emit(name);
    for (const name of serials.keys()) if (!next.has(name)) emit(name);
    serials = next;
  }

  // The LISTEN session. When it is lost (terminated backend, server restart) it is opened again,
  // with a growing pause while the server stays away, and the zones are compared at once after
  // each reconnect: notifications sent while nobody listened are gone for good (PostgreSQL queues
  // them per session), so the serials are the only record of what changed meanwhile.
  let reconnectDelayMs = RECONNECT_MIN_MS;
  let reconnectTimer: NodeJS.Timeout | undefined;

  function reconnectLater(): void {
    if (closed || reconnectTimer) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void listen().then(
        () => {
          reconnectDelayMs = RECONNECT_MIN_MS;
          log.info('change feed listening again');
          return resync();
        },
        (err) => {
          log.debug({ err }, 'change feed reconnect failed');
          reconnectDelayMs = Math.min(RECONNECT_MAX_MS, reconnectDelayMs * 2);
          reconnectLater();
        },
      );
    }, reconnectDelayMs);
    reconnectTimer.unref();
  }

  async function resync(): Promise<void> {
    await poll(handle.db).catch((err) => log.warn({ err }, 'change feed resync failed; the next poll retries'));
  }

  async function listen(): Promise<void> {
    if (closed || handle.backend !== 'postgres') return;
    const client = new pg.Client({ ...handle.clientConfig, connectionTimeoutMillis: RECONNECT_MAX_MS });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (listener === client) listener = undefined;
      client.end().catch(() => undefined);
      if (closed) return;
      log.warn({ err }, 'change feed connection lost; reconnecting');
      reconnectLater();
    };
    client.on('notification', (msg) => msg.payload && emit(msg.payload));
    client.on('error', onLost);
    client.on('end', () => onLost());
    try {
      await client.connect();
      await client.query(`LISTEN ${ZONE_CHANNEL}`);
    } catch (err) {
      lost = true;
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    if (closed) {
      await client.end().catch(() => undefined);
      return;
    }
    listener = client;
  }

  return {
    onZoneChange(fn) {
      events.on('zone', fn);
      return () => events.off('zone', fn);
    },
    async start() {
      serials = new Map(
        (await handle.db.selectFrom('domains').select(['name', 'serial']).execute()).map((r) => [r.name, String(r.serial)]),
      );
      await listen();
      const tick = () => {
        if (closed) return;
        poll(handle.db)
          .catch((err) => log.warn({ err }, 'change feed poll failed'))
          .finally(() => {
            if (!closed) timer = setTimeout(tick, pollMs);
          });
      };
      timer = setTimeout(tick, pollMs);
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      if (reconnectTimer) clearTimeout(reconnectTimer);
      await listener?.end().catch(() => undefined);
      events.removeAllListeners();
    },
  };
}
