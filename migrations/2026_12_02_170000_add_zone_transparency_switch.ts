// Per-zone switch for the key transparency log (`keypost domain add|set --transparency on|off`).
// On by default: a zone keeps an append-only public log of what it serves. A zone owner who does
// not want one (e.g. the address list of a private zone would otherwise be enumerable by label
// in the log) turns it off: publishes then only move the serial, no leaves or heads are written
// and DNS stops serving `_keypost-log`; what was logged before stays (the log is append-only).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('domains').addColumn('transparency', 'boolean', (c) => c.notNull().defaultTo(true)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('domains').dropColumn('transparency').execute();
}
