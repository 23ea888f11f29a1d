// What someone holding the database does to a zone's log behind keypost's back, for the tamper
// tests of `log verify` and of `keypost lookup`: read a stored leaf, and after rewriting leaves,
// make every stored hash agree with them again so that only a client's earlier head can tell.
import type { Db } from '../../src/db/database.js';
import { appendLeaf, leafHash, type Subtree } from '../../src/transparency/merkle.js';

export async function storedLeaf(db: Db, zone: string, index: number) {
  return db.selectFrom('log_leaves').selectAll().where('zone', '=', zone).where('idx', '=', String(index)).executeTakeFirstOrThrow();
}

/** Recomputes every leaf hash and complete-subtree hash of the zone's log from its stored leaves. */
export async function recomputeStoredTree(db: Db, zone: string): Promise<void> {
  const leaves = await db.selectFrom('log_leaves').select(['idx', 'leaf']).where('zone', '=', zone).orderBy('idx').execute();
  let frontier: { subtree: Subtree; hash: Buffer }[] = [];
  const nodes: { zone: string; level: number; idx: number; hash: Buffer }[] = [];
  for (const [i, row] of leaves.entries()) {
    const step = appendLeaf(frontier, i, leafHash(row.leaf));
    frontier = step.frontier;
    for (const c of step.created) if (c.subtree.level > 0) nodes.push({ zone, level: c.subtree.level, idx: c.subtree.index, hash: c.hash });
    await db.updateTable('log_leaves').set({ leaf_hash: leafHash(row.leaf) }).where('zone', '=', zone).where('idx', '=', row.idx).execute();
  }
  await db.deleteFrom('log_nodes').where('zone', '=', zone).execute();
  if (nodes.length) await db.insertInto('log_nodes').values(nodes).execute();
}
