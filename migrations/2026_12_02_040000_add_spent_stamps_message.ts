// Which message spent a stamp, and a digest of that message (envelope and body). A sender whose
// connection broke after we committed, before it read our 250, sends the same message again with
// the same stamps; the gateway recognises it by the digest and answers 250 with the first queue id
// instead of a permanent "stamp already spent" for mail it has in fact accepted. Kept on the stamp
// rather than on the queue row, because the queue row is gone once the message is delivered and
// the stamp row stays until the stamp expires. Stamps spent outside the gateway have neither.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('spent_stamps')
    .addColumn('message_id', 'text')
    // SHA-256 over the envelope sender, the sorted recipients and the message as received.
    .addColumn('message_digest', 'bytea')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('spent_stamps').dropColumn('message_digest').dropColumn('message_id').execute();
}
