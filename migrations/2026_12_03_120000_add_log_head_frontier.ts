// The right edge of each zone's tree kept on its head row: the hashes of the complete subtrees that
// make up the first `size` leaves (RFC 9162 §2.1.1's decomposition of a tree into perfect subtrees,
// largest first), concatenated. An append needs exactly these to hash the new leaves in, and the
// head row is what a writer locks anyway, so the lock's read hands them over: after waiting for
// another writer of the zone, the locked row is re-read at its latest version, which a read of
// log_nodes in the same transaction would not see. Null on heads written before this column; the
// first append reads the edge from log_leaves and log_nodes once and stores it.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('log_heads').addColumn('frontier', 'bytea').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('log_heads').dropColumn('frontier').execute();
}
