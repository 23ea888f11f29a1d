// Delivery status notification requests (RFC 3461), kept with the queued message so the relay can
// honour them and pass them on: RET and ENVID from MAIL FROM, NOTIFY and ORCPT from each RCPT TO,
// and whether the one delay warning a message gets has been sent. Rows queued before this migration
// asked for nothing, which the relay reads as RFC 3461's default (failure and delay reports).
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('mail_queue')
    .addColumn('dsn_ret', 'text')
    .addColumn('dsn_envid', 'text')
    .addColumn('delay_warned', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema.alterTable('mail_queue_recipients').addColumn('dsn_notify', 'text').addColumn('dsn_orcpt', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mail_queue_recipients').dropColumn('dsn_notify').dropColumn('dsn_orcpt').execute();
  await db.schema.alterTable('mail_queue').dropColumn('dsn_ret').dropColumn('dsn_envid').dropColumn('delay_warned').execute();
}
