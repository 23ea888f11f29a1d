// The certificate store: one row per primary key fingerprint holding the merge of every accepted
// upload of that key (only signatures that verify, revocations kept forever). What keys.key_data
// and addresses.minimal_key serve is derived from it. Existing keys start from their served copy,
// the most that is known of them; `keypost key rebuild` then shows what the derivation changes.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('certificates')
    .addColumn('fingerprint', 'text', (c) => c.primaryKey())
    .addColumn('data', 'bytea', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`insert into certificates (fingerprint, data) select fingerprint, key_data from keys`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('certificates').execute();
}
