// The right edge of each zone's tree kept on its head row: the tree size it belongs to, then the
// hashes of the complete subtrees that make up that many leaves (RFC 9162 §2.1.1's decomposition
// into perfect subtrees, largest first). An append needs exactly these to hash the new leaves in,
// and the head row is what a writer locks anyway, so the lock's own read hands them over instead
// of another round trip to log_nodes made while every other writer of the zone waits. Null on
// heads written before this column; the first append reads the edge from log_leaves and log_nodes
// once and stores it.
import type { Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('log_heads').addColumn('frontier', 'bytea').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('log_heads').dropColumn('frontier').execute();
}
