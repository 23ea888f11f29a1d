// The per-zone key transparency log (src/transparency/): its leaves with their hashes, the hash of
// every larger complete subtree (stored as the leaf that completes it is appended, so proofs read
// O(log n) rows and never rehash leaves), and one head row per zone. Appends lock the head row FOR UPDATE, which serialises
// the writers of one zone across nodes sharing the database, so the tree cannot fork. The head row
// also holds the zone's Ed25519 log key (private half sealed under KEYPOST_SECRET_KEY_FILE) and the
// latest signed tree head.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('log_heads')
    .addColumn('zone', 'text', (c) => c.primaryKey().references('domains.name').onDelete('cascade'))
    .addColumn('size', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('public_key', 'bytea')
    .addColumn('private_key_sealed', 'bytea')
    .addColumn('sth_size', 'bigint')
    .addColumn('sth_root', 'bytea')
    .addColumn('sth_time', 'bigint')
    .addColumn('sth_signature', 'bytea')
    .execute();
  await db.schema
    .createTable('log_leaves')
    .addColumn('zone', 'text', (c) => c.notNull().references('log_heads.zone').onDelete('cascade'))
    .addColumn('idx', 'bigint', (c) => c.notNull())
    .addColumn('label', 'bytea', (c) => c.notNull())
    .addColumn('leaf', 'bytea', (c) => c.notNull())
    .addColumn('leaf_hash', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('log_leaves_pkey', ['zone', 'idx'])
    .execute();
  await sql`create index log_leaves_label_idx on log_leaves (zone, label, idx desc)`.execute(db);
  await db.schema.createIndex('log_leaves_hash_idx').on('log_leaves').columns(['zone', 'leaf_hash']).execute();
  await db.schema
    .createTable('log_nodes')
    .addColumn('zone', 'text', (c) => c.notNull().references('log_heads.zone').onDelete('cascade'))
    .addColumn('level', 'smallint', (c) => c.notNull())
    .addColumn('idx', 'bigint', (c) => c.notNull())
    .addColumn('hash', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('log_nodes_pkey', ['zone', 'level', 'idx'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('log_nodes').execute();
  await db.schema.dropTable('log_leaves').execute();
  await db.schema.dropTable('log_heads').execute();
}
