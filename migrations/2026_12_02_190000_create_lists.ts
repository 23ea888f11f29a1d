// Encrypted mailing lists (src/lists/): a list is a published address whose OpenPGP secret key is
// kept here sealed under KEYPOST_SECRET_KEY_FILE; its members with the key each copy is encrypted
// to; and the fan-out record of each post: one row per member whose copy is queued, written in the
// transaction that queues the copy, so a fan-out resumed after a crash skips exactly those members.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('lists')
    .addColumn('address', 'text', (c) => c.primaryKey())
    .addColumn('domain', 'text', (c) => c.notNull().references('domains.name').onDelete('cascade'))
    .addColumn('owner', 'text')
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('secret_key_sealed', 'bytea', (c) => c.notNull())
    .addColumn('members_only', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('encrypted_only', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('list_members')
    .addColumn('list_address', 'text', (c) => c.notNull().references('lists.address').onDelete('cascade'))
    .addColumn('member', 'text', (c) => c.notNull())
    .addColumn('key_source', 'text', (c) => c.notNull().check(sql`key_source in ('dns', 'owner')`))
    .addColumn('key_data', 'bytea', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active').check(sql`status in ('active', 'paused')`))
    .addColumn('paused_reason', 'text')
    .addColumn('checked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('added_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('list_members_pkey', ['list_address', 'member'])
    .execute();
  await db.schema.createIndex('list_members_checked_idx').on('list_members').columns(['key_source', 'checked_at']).execute();
  await db.schema
    .createTable('list_fanout')
    .addColumn('post_id', 'text', (c) => c.notNull())
    .addColumn('list_address', 'text', (c) => c.notNull())
    .addColumn('member', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('list_fanout_pkey', ['post_id', 'list_address', 'member'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('list_fanout').execute();
  await db.schema.dropTable('list_members').execute();
  await db.schema.dropTable('lists').execute();
}
