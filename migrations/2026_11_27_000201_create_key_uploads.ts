// Keys submitted through VKS upload or HKP add, waiting for their addresses to be verified.
// The upload token returned to the client (VKS `token`) is stored only as a SHA-256 hash.
import { type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('key_uploads')
    .addColumn('token_hash', 'bytea', (c) => c.primaryKey())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('key_data', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('key_uploads_expires_idx').on('key_uploads').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('key_uploads').execute();
}
