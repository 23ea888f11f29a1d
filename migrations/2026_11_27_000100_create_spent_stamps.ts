// Spent hashcash stamps, shared by every gateway node: a stamp is accepted once, ever, until its
// validity window has passed (after which it is refused on its date and the row can go).
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('spent_stamps')
    // SHA-1 of the exact stamp text: 20 bytes whatever the stamp's length, and the digest the
    // verifier computes anyway.
    .addColumn('stamp_sha1', 'bytea', (c) => c.primaryKey().check(sql`octet_length(stamp_sha1) = 20`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('spent_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('spent_stamps_expires_at_idx').on('spent_stamps').column('expires_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('spent_stamps').execute();
}
