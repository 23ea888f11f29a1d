// Key rollover (RFC 6781 §4.1, RFC 7583): a zone holds more than one key while it rolls, and each
// key's state says what it does. `published`: in the DNSKEY RRset (and signing it) but not yet
// signing the zone's data nor named by CDS; `active`: signs everything and is the key CDS/CDNSKEY
// name; `retired`: still in the DNSKEY RRset and signing it, for resolvers that trust it through
// the old DS, until it is safe to remove. An algorithm roll (RFC 6781 §4.1.4) adds `introduced`
// (signing, not yet in DNSKEY) and `withdrawn` (out of DNSKEY, still signing). `state_since` is
// when the key entered its state, from which the TTL-based waits are counted;
// `parent_ds_replaced_at` is when the owner said the parent no longer points at a retired key.
// Keys that existed before are the zone's active key.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('dnssec_keys')
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('active').check(sql`state in ('introduced', 'published', 'active', 'retired', 'withdrawn')`))
    .execute();
  await db.schema.alterTable('dnssec_keys').addColumn('state_since', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`)).execute();
  await db.schema.alterTable('dnssec_keys').addColumn('parent_ds_replaced_at', 'timestamptz').execute();
  await sql`update dnssec_keys set state_since = created_at`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // Without states every key signs everything: keep only each zone's active key, which is the one
  // its CDS names, so the zone goes back to one CSK.
  await sql`delete from dnssec_keys where state <> 'active'`.execute(db);
  await db.schema.alterTable('dnssec_keys').dropColumn('parent_ds_replaced_at').execute();
  await db.schema.alterTable('dnssec_keys').dropColumn('state_since').execute();
  await db.schema.alterTable('dnssec_keys').dropColumn('state').execute();
}
