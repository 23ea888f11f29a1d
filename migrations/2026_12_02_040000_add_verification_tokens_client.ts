// Verification mail budgets (issue 15 item 7): mails are counted per address whatever the key, and
// per requesting client, over a sliding window, so each token records who asked for it.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('verification_tokens').addColumn('client_address', 'text').execute();
  await db.schema
    .createIndex('verification_tokens_client_idx')
    .on('verification_tokens')
    .columns(['client_address', 'created_at'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('verification_tokens_client_idx').execute();
  await db.schema.alterTable('verification_tokens').dropColumn('client_address').execute();
}
