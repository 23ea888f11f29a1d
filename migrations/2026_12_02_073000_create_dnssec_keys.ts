// DNSSEC signing keys, one combined signing key (CSK, flags 257) per signed zone. They live in
// the database so that every DNS node signs with the same key; the private half is sealed with
// the key-encryption key from KEYPOST_SECRET_KEY_FILE (src/secrets/), which is never stored here.
// A zone without a row is served unsigned.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('dnssec_keys')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('domain', 'text', (c) => c.notNull().references('domains.name').onDelete('cascade'))
    // RFC 8624: 13 = ECDSA P-256/SHA-256, 15 = Ed25519.
    .addColumn('algorithm', 'smallint', (c) => c.notNull().check(sql`algorithm in (13, 15)`))
    .addColumn('flags', 'integer', (c) => c.notNull())
    .addColumn('key_tag', 'integer', (c) => c.notNull())
    /** The DNSKEY public key field (RFC 6605 §4, RFC 8080 §3). */
    .addColumn('public_key', 'bytea', (c) => c.notNull())
    /** PKCS #8 DER of the private key, sealed (src/secrets/sealed-box.ts). */
    .addColumn('private_key_sealed', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('dnssec_keys_domain').on('dnssec_keys').column('domain').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('dnssec_keys').execute();
}
