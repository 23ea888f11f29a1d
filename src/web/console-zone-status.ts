// What the owner's console shows about its zone beyond the address list: the DNSSEC records to
// give the registrar, and the gateway's queue for the zone's recipients. Both come from the
// functions the operator's commands use (`keypost dns ds`: src/dns/dnssec/delegation.ts;
// `keypost queue list|retry`: src/gateway/queue-admin.ts), scoped to this zone, so the console
// and the CLI cannot tell an owner different things.
import type { Db } from '../db/database.js';
import { algorithmName, zoneDelegation, type DelegationRecord } from '../dns/dnssec/delegation.js';
import { listQueue, queueCounts, type QueueCounts, type QueueEntry } from '../gateway/queue-admin.js';

/** How many waiting messages the console lists (oldest first); the counts cover them all. */
export const QUEUE_LISTED = 10;

export interface DelegationView extends DelegationRecord {
  algorithmName: string;
}

export interface QueueEntryView extends QueueEntry {
  received: string;
  next: string;
}

export interface ZoneStatus {
  /** The zone's DS and DNSKEY; empty when DNSSEC is off for the zone. */
  delegation: DelegationView[];
  queue: QueueCounts & { oldest?: string; entries: QueueEntryView[] };
}

/** A time an owner reads at a glance and a machine can parse: "2026-12-02 10:55 UTC (4 min ago)". */
export function describeTime(at: Date, now: Date): string {
  const minutes = Math.round((at.getTime() - now.getTime()) / 60_000);
  const span = Math.abs(minutes) < 1 ? 'now' : Math.abs(minutes) < 120 ? `${Math.abs(minutes)} min` : `${Math.round(Math.abs(minutes) / 60)} h`;
  const relative = span === 'now' ? 'now' : minutes < 0 ? `${span} ago` : `in ${span}`;
  return `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC (${relative})`;
}

export async function zoneStatus(db: Db, zone: string, now: Date): Promise<ZoneStatus> {
  const [delegation, counts, entries] = await Promise.all([zoneDelegation(db, zone), queueCounts(db, { zone }), listQueue(db, QUEUE_LISTED, { zone })]);
  return {
    delegation: delegation.map((record) => ({ ...record, algorithmName: algorithmName(record.algorithm) })),
    queue: {
      ...counts,
      oldest: counts.oldestReceivedAt && describeTime(counts.oldestReceivedAt, now),
      entries: entries.map((entry) => ({
        ...entry,
        received: describeTime(entry.receivedAt, now),
        next: entry.active ? 'being delivered' : entry.nextAttemptAt <= now ? 'due now' : describeTime(entry.nextAttemptAt, now),
      })),
    },
  };
}
