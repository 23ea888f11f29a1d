// A zone's log in the database: leaves, complete-subtree hashes and the head row. Appends run in
// the caller's transaction with the head row locked FOR UPDATE, so the writers of one zone take
// turns (across every node on one PostgreSQL) and a rolled-back change leaves no leaf behind.
// Reads compute roots and proofs from the stored subtree hashes (src/transparency/merkle.ts).
import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import {
  EMPTY_ROOT,
  HASH_SIZE,
  appendLeaf,
  consistencyRanges,
  inclusionRanges,
  leafHash,
  rangeHash,
  subtreesNeeded,
  subtreesOf,
  type LeafRange,
  type Subtree,
} from './merkle.js';

/** Rows per INSERT: far below PostgreSQL's 65535 bind parameters. */
const CHUNK = 1000;

export interface NewLeaf {
  label: Buffer;
  leaf: Buffer;
}

export interface StoredLeaf {
  index: number;
  leaf: Buffer;
  leafHash: Buffer;
}

const key = (s: Subtree) => `${s.level}:${s.index}`;

/** A zone's head row as its lock read it: the tree size and, when stored, the right edge's hashes. */
export interface LockedHead {
  size: number;
  /** The right edge as the head row keeps it (see edgeOctets); null on a head written before it was kept. */
  frontier: Buffer | null;
}

/**
 * Locks the zone's head row until `tx` ends (creating it on the zone's first append) and returns
 * it. FOR UPDATE re-reads the row at its latest committed version after waiting for another
 * writer, so size and frontier are those the previous append committed.
 */
export async function lockLogHead(tx: Tx, zone: string): Promise<LockedHead> {
  const locked = () => tx.selectFrom('log_heads').select(['size', 'frontier']).where('zone', '=', zone).forUpdate().executeTakeFirst();
  let row = await locked();
  if (!row) {
    await tx.insertInto('log_heads').values({ zone }).onConflict((oc) => oc.column('zone').doNothing()).execute();
    row = await locked();
  }
  return { size: Number(row!.size), frontier: row!.frontier };
}

/**
 * The stored hashes of the given complete subtrees; throws when one is missing (a damaged log).
 * Level 0 is the leaf hash, kept with the leaf (log_leaves.leaf_hash); higher levels are in
 * log_nodes, so each append writes one node row fewer than it completes.
 */
async function subtreeHashes(db: Db | Tx, zone: string, subtrees: Subtree[]): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  const leaves = subtrees.filter((s) => s.level === 0).map((s) => String(s.index));
  const nodes = subtrees.filter((s) => s.level > 0);
  for (let i = 0; i < leaves.length; i += CHUNK) {
    const rows = await db.selectFrom('log_leaves').select(['idx', 'leaf_hash']).where('zone', '=', zone).where('idx', 'in', leaves.slice(i, i + CHUNK)).execute();
    for (const r of rows) found.set(`0:${Number(r.idx)}`, r.leaf_hash);
  }
  for (let i = 0; i < nodes.length; i += CHUNK) {
    const part = nodes.slice(i, i + CHUNK);
    const rows = await db
      .selectFrom('log_nodes')
      .select(['level', 'idx', 'hash'])
      .where('zone', '=', zone)
      .where((eb) => eb.or(part.map((s) => eb.and([eb('level', '=', s.level), eb('idx', '=', String(s.index))]))))
      .execute();
    for (const r of rows) found.set(`${r.level}:${Number(r.idx)}`, r.hash);
  }
  for (const s of subtrees) if (!found.has(key(s))) throw new Error(`the log of ${zone} has no hash for subtree ${key(s)}`);
  return found;
}

/** Hashes of `ranges` (each a range the RFC's recursion names), from one read of stored subtrees. */
export async function rangeHashes(db: Db | Tx, zone: string, ranges: LeafRange[]): Promise<Buffer[]> {
  if (ranges.length === 0) return [];
  const hashes = await subtreeHashes(db, zone, subtreesNeeded(ranges));
  return ranges.map((r) => rangeHash(r, (s) => hashes.get(key(s))!));
}

/** Edge octets: the tree size they belong to (u64) and the hashes of subtreesOf([0, size)), largest first. */
function edgeOctets(size: number, hashes: Buffer[]): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64BE(BigInt(size));
  return Buffer.concat([prefix, ...hashes]);
}

/**
 * The right edge of the first `head.size` leaves: from the head row when it was kept for this very
 * size, else once from the stored subtrees. A head whose size moved without its edge (a node of an
 * older release appending beside this one) can have an edge of the same length for another size,
 * which is why the size it belongs to is kept with it.
 */
async function frontierOf(tx: Tx, zone: string, head: LockedHead): Promise<{ subtree: Subtree; hash: Buffer }[]> {
  const edge = subtreesOf({ start: 0, end: head.size });
  const kept = head.frontier;
  if (kept && kept.length === 8 + edge.length * HASH_SIZE && kept.readBigUInt64BE(0) === BigInt(head.size)) {
    return edge.map((subtree, i) => ({ subtree, hash: kept.subarray(8 + i * HASH_SIZE, 8 + (i + 1) * HASH_SIZE) }));
  }
  const known = edge.length ? await subtreeHashes(tx, zone, edge) : new Map<string, Buffer>();
  return edge.map((subtree) => ({ subtree, hash: known.get(key(subtree))! }));
}

/**
 * Appends leaves to the zone's log in `tx`. The caller must hold the head lock and pass the head
 * lockLogHead returned. The leaves, the subtrees they complete and the new head (size and right
 * edge) are written by one statement: the writers of a zone take turns on the head lock, so each
 * round trip made while holding it is one every other writer of the zone waits for. Returns the
 * new size.
 */
export async function appendLeaves(tx: Tx, zone: string, head: LockedHead, leaves: NewLeaf[]): Promise<number> {
  if (leaves.length === 0) return head.size;
  let frontier = await frontierOf(tx, zone, head);
  const leafRows: { idx: number; label: Buffer; leaf: Buffer; leaf_hash: Buffer }[] = [];
  const nodeRows: { level: number; idx: number; hash: Buffer }[] = [];
  let next = head.size;
  for (const { label, leaf } of leaves) {
    const hash = leafHash(leaf);
    const step = appendLeaf(frontier, next, hash);
    frontier = step.frontier;
    leafRows.push({ idx: next, label, leaf, leaf_hash: hash });
    for (const c of step.created) if (c.subtree.level > 0) nodeRows.push({ level: c.subtree.level, idx: c.subtree.index, hash: c.hash });
    next++;
  }
  // One array parameter per column whatever the batch size: a multi-row VALUES list costs a
  // parameter per cell to build, send and parse (an import batch appends hundreds of leaves).
  // Octets travel as hex text so both drivers pass the arrays alike. The inserts run as
  // data-modifying CTEs of the head update, all in one statement.
  const hex = (b: Buffer) => b.toString('hex');
  await sql`
    with appended_leaves as (
      insert into log_leaves (zone, idx, label, leaf, leaf_hash)
      select ${zone}, t.idx, decode(t.label, 'hex'), decode(t.leaf, 'hex'), decode(t.leaf_hash, 'hex')
      from unnest(${leafRows.map((r) => String(r.idx))}::bigint[], ${leafRows.map((r) => hex(r.label))}::text[],
                  ${leafRows.map((r) => hex(r.leaf))}::text[], ${leafRows.map((r) => hex(r.leaf_hash))}::text[]) as t(idx, label, leaf, leaf_hash)
    ), completed_nodes as (
      insert into log_nodes (zone, level, idx, hash)
      select ${zone}, t.level, t.idx, decode(t.hash, 'hex')
      from unnest(${nodeRows.map((r) => r.level)}::smallint[], ${nodeRows.map((r) => String(r.idx))}::bigint[], ${nodeRows.map((r) => hex(r.hash))}::text[]) as t(level, idx, hash)
    )
    update log_heads set size = ${String(next)}, frontier = decode(${hex(edgeOctets(next, frontier.map((f) => f.hash)))}, 'hex')
    where zone = ${zone}`.execute(tx);
  return next;
}

/** Leaves appended so far (0 for a zone that has none). */
export async function logSize(db: Db | Tx, zone: string): Promise<number> {
  const row = await db.selectFrom('log_heads').select('size').where('zone', '=', zone).executeTakeFirst();
  return row ? Number(row.size) : 0;
}

/** MTH of the first `size` leaves. */
export async function rootAt(db: Db | Tx, zone: string, size: number): Promise<Buffer> {
  if (size === 0) return EMPTY_ROOT;
  return (await rangeHashes(db, zone, [{ start: 0, end: size }]))[0];
}

/** The audit path of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1). */
export async function inclusionProof(db: Db | Tx, zone: string, index: number, size: number): Promise<Buffer[]> {
  return rangeHashes(db, zone, inclusionRanges(index, size));
}

/** The consistency proof from `first` to `second` leaves (RFC 9162 §2.1.4.1). */
export async function consistencyProof(db: Db | Tx, zone: string, first: number, second: number): Promise<Buffer[]> {
  return rangeHashes(db, zone, consistencyRanges(first, second));
}

/** Leaves [start, end), in order. */
export async function leavesBetween(db: Db | Tx, zone: string, start: number, end: number): Promise<StoredLeaf[]> {
  const rows = await db
    .selectFrom('log_leaves')
    .select(['idx', 'leaf', 'leaf_hash'])
    .where('zone', '=', zone)
    .where('idx', '>=', String(start))
    .where('idx', '<', String(end))
    .orderBy('idx')
    .execute();
  return rows.map((r) => ({ index: Number(r.idx), leaf: r.leaf, leafHash: r.leaf_hash }));
}

/** The latest leaf of each label among the first `below` leaves (all when omitted). */
export async function latestLeaves(db: Db | Tx, zone: string, labels: Buffer[], below?: number): Promise<Map<string, StoredLeaf>> {
  const out = new Map<string, StoredLeaf>();
  if (labels.length === 0) return out;
  // One array parameter rather than a parameter per label (see appendLeaves); `= any(array)` keeps
  // the (zone, label, idx desc) index scan.
  const { rows } = await sql<{ label: Buffer; idx: string; leaf: Buffer; leaf_hash: Buffer }>`
    select distinct on (label) label, idx, leaf, leaf_hash from log_leaves
    where zone = ${zone}
      and label = any(array(select decode(l, 'hex') from unnest(${labels.map((l) => l.toString('hex'))}::text[]) as l))
      ${below === undefined ? sql`` : sql`and idx < ${String(below)}`}
    order by label, idx desc`.execute(db);
  for (const r of rows) out.set(r.label.toString('hex'), { index: Number(r.idx), leaf: r.leaf, leafHash: r.leaf_hash });
  return out;
}

/** The first index of a leaf hash among the first `below` leaves, or undefined. */
export async function indexOfLeafHash(db: Db | Tx, zone: string, hash: Buffer, below: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('log_leaves')
    .select('idx')
    .where('zone', '=', zone)
    .where('leaf_hash', '=', hash)
    .where('idx', '<', String(below))
    .orderBy('idx')
    .limit(1)
    .executeTakeFirst();
  return row ? Number(row.idx) : undefined;
}

/** What an address serves now, as the log encodes it; every column null when its row is gone. */
export interface ServedAddressRow {
  address: string;
  fingerprint: string | null;
  minimal_key: Buffer | null;
  endpoint: string | null;
  pow_bits: number | null;
  status: string | null;
}

/**
 * The addresses of `zone` whose rows this transaction changed, from the change log it wrote (its
 * trigger rows carry this transaction's id), each with what its row serves now; none when the
 * zone's log is off, so that case costs no extra round trip. The rows are this transaction's own
 * writes, locked by it, so reading them before the log head is locked reads what the leaves record.
 */
export async function addressesChangedInTransaction(tx: Tx, zone: string): Promise<ServedAddressRow[]> {
  const { rows } = await sql<ServedAddressRow>`
    select c.address, a.fingerprint, a.minimal_key, a.endpoint, a.pow_bits, a.status
    from (select distinct c.address from dns_address_changes c
          join domains d on d.name = c.domain and d.transparency
          where c.domain = ${zone} and c.xid = pg_current_xact_id()) c
    left join addresses a on a.address = c.address
    order by c.address`.execute(tx);
  return rows;
}
