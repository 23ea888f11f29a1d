// What protection mail must carry to be accepted for a zone or an address (`keypost domain set
// --require`, the owner API's `require`): none, encrypted, signed, or encrypted,signed. On a zone,
// null means none; on an address, null means the zone's, and 'none' lets an address take plain
// mail in a zone that asks for more. Published in the _keypost TXT as req= and enforced by the
// gateway at DATA.
import { type Kysely, sql } from 'kysely';

const ALLOWED = sql`(requirement in ('none', 'encrypted', 'signed', 'encrypted,signed'))`;

export async function up(db: Kysely<any>): Promise<void> {
  for (const table of ['domains', 'addresses']) {
    await db.schema.alterTable(table).addColumn('requirement', 'text', (c) => c.check(ALLOWED)).execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('addresses').dropColumn('requirement').execute();
  await db.schema.alterTable('domains').dropColumn('requirement').execute();
}
