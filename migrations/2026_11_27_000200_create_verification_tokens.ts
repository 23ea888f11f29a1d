// One-time tokens mailed to an address holder: confirming one publishes (or deletes) the address.
// Only a SHA-256 hash of the token is stored, so a database leak does not leak working links.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('verification_tokens')
    .addColumn('token_hash', 'bytea', (c) => c.primaryKey())
    .addColumn('purpose', 'text', (c) => c.notNull().check(sql`purpose in ('publish', 'delete')`))
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    // For 'publish': the stripped key as submitted, published when the token is confirmed.
    .addColumn('key_data', 'bytea')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('used_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('verification_tokens_address_idx')
    .on('verification_tokens')
    .columns(['address', 'purpose', 'created_at'])
    .execute();
  await db.schema.createIndex('verification_tokens_expires_idx').on('verification_tokens').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('verification_tokens').execute();
}
