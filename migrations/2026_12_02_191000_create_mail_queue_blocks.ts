// Large queued messages are kept in 8 MB block files under the data directory (src/gateway/
// block-store.ts); the database holds each block's length and SHA-256, so the relay can tell a
// block that was lost or damaged on disk from a good one. mail_queue.body then holds only the
// message's header section, and blocks_dir names the block directory that holds the rest, so that
// only gateways using that directory relay the message. Rows of small messages have no blocks and
// no blocks_dir: their whole body stays in mail_queue.body as before. size becomes a bigint: a
// message may now be larger than the 2 GiB an integer counts.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('mail_queue').addColumn('blocks_dir', 'text').execute();
  await db.schema.alterTable('mail_queue').alterColumn('size', (c) => c.setDataType('bigint')).execute();
  await db.schema
    .createTable('mail_queue_blocks')
    .addColumn('message_id', 'text', (c) => c.notNull().references('mail_queue.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('bytes', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('mail_queue_blocks_pkey', ['message_id', 'seq'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('mail_queue_blocks').execute();
  await db.schema.alterTable('mail_queue').dropColumn('blocks_dir').execute();
  await db.schema.alterTable('mail_queue').alterColumn('size', (c) => c.setDataType('integer')).execute();
}
