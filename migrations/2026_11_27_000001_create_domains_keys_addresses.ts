// Domains (zones), verified keys and the addresses they publish.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('domains')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('serial', 'bigint', (c) => c.notNull())
    .addColumn('pow_bits', 'integer')
    .addColumn('endpoint', 'text')
    .addColumn('next_hop', 'text')
    .addColumn('api_url', 'text')
    .addColumn('owner_token_hash', 'bytea', (c) => c.notNull())
    .addColumn('dns', 'jsonb', (c) => c.notNull().defaultTo(sql`'{"nameservers":[]}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('keys')
    .addColumn('fingerprint', 'text', (c) => c.primaryKey())
    .addColumn('key_ids', sql`text[]`, (c) => c.notNull())
    .addColumn('key_data', 'bytea', (c) => c.notNull())
    .addColumn('algorithm', 'text', (c) => c.notNull())
    .addColumn('bits', 'integer')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('revoked', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('uploaded_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('keys_key_ids_idx').on('keys').using('gin').column('key_ids').execute();

  await db.schema
    .createTable('addresses')
    .addColumn('address', 'text', (c) => c.primaryKey())
    .addColumn('domain', 'text', (c) => c.notNull().references('domains.name').onDelete('cascade'))
    .addColumn('local_part', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull().references('keys.fingerprint'))
    .addColumn('minimal_key', 'bytea', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('published', 'withdrawn')`))
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('owner', 'self', 'import')`))
    .addColumn('endpoint', 'text')
    .addColumn('next_hop', 'text')
    .addColumn('pow_bits', 'integer')
    .addColumn('published_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('addresses_domain_idx').on('addresses').columns(['domain', 'status']).execute();
  await db.schema.createIndex('addresses_fingerprint_idx').on('addresses').column('fingerprint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('addresses').execute();
  await db.schema.dropTable('keys').execute();
  await db.schema.dropTable('domains').execute();
}
