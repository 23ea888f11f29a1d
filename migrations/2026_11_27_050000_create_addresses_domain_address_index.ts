// Zone readers (the directory's lookup snapshots, the DNS zone loader) read a zone's addresses in
// address order, a chunk at a time (keyset pagination). With only (domain, status) indexed, every
// chunk sorted the whole zone; (domain, address) makes each chunk an index range scan.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('addresses_domain_address_idx').on('addresses').columns(['domain', 'address']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('addresses_domain_address_idx').execute();
}
