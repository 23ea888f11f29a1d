// What the sender declared in MAIL FROM, kept so the relay can carry it to the next hop:
// BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531). Rows queued before this migration declared
// neither as far as the queue knows, which is how they were relayed until now.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('mail_queue')
    .addColumn('body_8bitmime', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('smtputf8', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mail_queue').dropColumn('body_8bitmime').dropColumn('smtputf8').execute();
}
