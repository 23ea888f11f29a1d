// Keeps the signatures a secondary holds from running out. A secondary transfers a zone only when
// its SOA serial moves (RFC 1996, RFC 1995), and what it holds carries RRSIGs that expire (14 days,
// zone-signer.ts). A signed zone that nobody edits would go bogus at its secondaries, so the serial
// of every signed zone with secondaries is moved when the zone has not changed for a while; the
// new snapshot is transferred (after NOTIFY) with signatures refreshed where they were due.
//
// Any node running DNS may do it, and several doing it at once is harmless: the update only
// touches zones still unchanged for the whole interval, so one node moves a serial and the others
// then find it recent.
import { sql } from 'kysely';
import type { Logger } from 'pino';
import { notifyZoneChanged } from '../../db/change-feed.js';
import type { Db } from '../../db/database.js';
import type { Component } from '../../lifecycle.js';

export interface TransferRefreshOptions {
  db: Db;
  log: Logger;
  /** A signed zone with secondaries unchanged this long gets a new serial; default two days. */
  unchangedSeconds?: number;
  /** Time between checks; default one hour. */
  intervalMs?: number;
}

/**
 * Two days: a transfer carries signatures with at least 3.5 of their 14 days left (zone-signer.ts
 * refreshes them below a quarter), so a secondary gets fresh ones well before those expire, with
 * a day and a half to spare for a secondary that was down.
 */
export const DEFAULT_UNCHANGED_SECONDS = 2 * 86_400;

/** Moves the serial of each signed zone with secondaries unchanged for `unchangedSeconds`; returns their names. */
export async function refreshIdleSignedZones(db: Db, unchangedSeconds: number): Promise<string[]> {
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .updateTable('domains')
      .set({ serial: sql`(serial + 1) % 4294967296`, updated_at: sql`now()` })
      .where('updated_at', '<', sql<Date>`now() - make_interval(secs => ${unchangedSeconds})`)
      .where(sql<boolean>`jsonb_array_length(coalesce(dns->'secondaries', '[]'::jsonb)) > 0`)
      .where(({ exists, selectFrom }) => exists(selectFrom('dnssec_keys').select('id').whereRef('dnssec_keys.domain', '=', 'domains.name')))
      .returning('name')
      .execute();
    for (const { name } of rows) await notifyZoneChanged(tx, name);
    return rows.map((r) => r.name);
  });
}

export function createTransferRefresh(options: TransferRefreshOptions): Component {
  const log = options.log.child({ component: 'dnssec-transfer-refresh' });
  const unchanged = options.unchangedSeconds ?? DEFAULT_UNCHANGED_SECONDS;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const check = () => {
    running ??= refreshIdleSignedZones(options.db, unchanged)
      .then(
        (zones) => {
          for (const zone of zones) log.info({ event: 'zone_resigned', zone }, `${zone}: new serial so secondaries transfer fresh signatures`);
        },
        // A database hiccup must not stop the process; the next check tries again.
        (err: unknown) => log.warn({ err }, 'moving the serial of idle signed zones failed'),
      )
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return {
    name: 'dnssec-transfer-refresh',
    async start() {
      timer = setInterval(() => void check(), options.intervalMs ?? 3_600_000);
      // Housekeeping never keeps the process alive on its own.
      timer.unref();
      await check();
    },
    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
