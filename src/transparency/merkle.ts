// The Merkle tree of a transparency log, exactly as RFC 9162 §2.1: leaf hash SHA-256(0x00 ‖ leaf),
// interior node SHA-256(0x01 ‖ left ‖ right), MTH({}) = SHA-256(""), and for n > 1 the tree splits
// at k, the largest power of two below n (§2.1.1).
//
// Proofs are built from complete subtrees only: every range the RFC's recursion names is either a
// complete, aligned subtree (stored once when its last leaf is appended) or a chain of them along
// the right edge, so a proof needs O(log n) stored hashes and never rehashes leaves. Generation
// first lists the subtrees a proof needs (`inclusionRanges`, `consistencyRanges` and
// `subtreesOf`), the caller fetches them in one read, and `rangeHash` folds them.
//
// This module is pure (no database): verifiers (the auditor, the sender's client) import it.
import { createHash } from 'node:crypto';

export const HASH_SIZE = 32;

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** MTH({}) (§2.1.1). */
export const EMPTY_ROOT: Buffer = sha256();

/** MTH({d}) = SHA-256(0x00 ‖ d). */
export function leafHash(leaf: Uint8Array): Buffer {
  return sha256(Buffer.of(0x00), leaf);
}

/** SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return sha256(Buffer.of(0x01), left, right);
}

/** The largest power of two strictly below n (n ≥ 2): where §2.1.1 splits D[n]. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPowerOfTwo = (n: number) => n > 0 && Number.isInteger(Math.log2(n));

/** A complete subtree: 2^level leaves starting at leaf index × 2^level. */
export interface Subtree {
  level: number;
  index: number;
}

/** A range of leaves [start, end) that the RFC's recursion names. */
export interface LeafRange {
  start: number;
  end: number;
}

/**
 * The complete subtrees whose hashes make MTH(D[start:end]), left to right, for a range the
 * recursion of §2.1.1 produces (its start is aligned to the split points inside it).
 */
export function subtreesOf(range: LeafRange): Subtree[] {
  const out: Subtree[] = [];
  let { start } = range;
  const { end } = range;
  while (start < end) {
    const n = end - start;
    const size = isPowerOfTwo(n) ? n : splitPoint(n);
    const level = Math.log2(size);
    if (start % size !== 0) throw new RangeError(`range [${range.start}, ${range.end}) is not a subtree range of the log`);
    out.push({ level, index: start / size });
    start += size;
  }
  return out;
}

/** Looks up a stored complete subtree hash. */
export type SubtreeHash = (subtree: Subtree) => Buffer;

/** MTH(D[start:end]) from stored complete subtrees: the right edge folds from the right. */
export function rangeHash(range: LeafRange, subtree: SubtreeHash): Buffer {
  if (range.end <= range.start) return EMPTY_ROOT;
  const parts = subtreesOf(range).map(subtree);
  let hash = parts[parts.length - 1];
  for (let i = parts.length - 2; i >= 0; i--) hash = nodeHash(parts[i], hash);
  return hash;
}

/** One step of an audit path: MTH(D[start:end]), a subtree at `level` or the tree's clipped right edge. */
export type InclusionStep = (level: number, start: number, end: number) => void;

/**
 * Walks PATH(m, D[n]) (§2.1.3.1) in proof order, from the leaf up, without allocating: the proof
 * route calls it per request. At each level the step is the sibling of the leaf's ancestor, cut
 * at the tree's end; a sibling that would start at or past the end is no step, because there the
 * §2.1.1 split leaves the ancestor alone and the recursion names nothing. This gives the
 * recursion's ranges exactly (the tests check it against the RFC's recursive definition).
 * `fromLevel`/`toLevel` walk only the steps of those levels (a part of the path).
 */
export function forEachInclusionStep(index: number, size: number, step: InclusionStep, fromLevel = 0, toLevel = Infinity): void {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
  }
  // Plain arithmetic, not bit operations: sizes may pass 2^31.
  for (let level = fromLevel, width = 2 ** fromLevel; width < size && level < toLevel; level++, width *= 2) {
    const ancestor = Math.floor(index / width);
    const start = (ancestor % 2 === 0 ? ancestor + 1 : ancestor - 1) * width;
    if (start < size) step(level, start, Math.min(start + width, size));
  }
}

/** The ranges whose hashes form PATH(m, D[n]) (§2.1.3.1), in proof order. */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  const path: LeafRange[] = [];
  forEachInclusionStep(index, size, (_level, start, end) => path.push({ start, end }));
  return path;
}

/** The ranges whose hashes form PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (§2.1.4.1). */
export function consistencyRanges(first: number, second: number): LeafRange[] {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) {
    throw new RangeError(`no consistency proof from size ${first} to size ${second}`);
  }
  if (first === 0 || first === second) return [];
  const proof: LeafRange[] = [];
  let start = 0;
  let end = second;
  let m = first;
  let complete = true;
  for (;;) {
    const n = end - start;
    if (m === n) {
      if (!complete) proof.unshift({ start, end });
      return proof;
    }
    const k = splitPoint(n);
    if (m <= k) {
      proof.unshift({ start: start + k, end });
      end = start + k;
    } else {
      proof.unshift({ start, end: start + k });
      start += k;
      m -= k;
      complete = false;
    }
  }
}

/** Every complete subtree the given ranges need, each once. */
export function subtreesNeeded(ranges: LeafRange[]): Subtree[] {
  const seen = new Map<string, Subtree>();
  for (const range of ranges) for (const s of subtreesOf(range)) seen.set(`${s.level}:${s.index}`, s);
  return [...seen.values()];
}

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

/**
 * §2.1.3.2: does `path` prove that the leaf with hash `leaf` sits at `index` in the tree of
 * `size` leaves whose root is `root`?
 */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, path: Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = BigInt(index);
  let sn = BigInt(size - 1);
  let r: Uint8Array = leaf;
  for (const p of path) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

/**
 * §2.1.4.2: does `proof` show that the tree of `first` leaves with root `firstRoot` is a prefix
 * of the tree of `second` leaves with root `secondRoot`? Equal sizes need an empty proof and equal
 * roots; every tree extends the empty one.
 */
export function verifyConsistency(first: number, second: number, proof: Uint8Array[], firstRoot: Uint8Array, secondRoot: Uint8Array): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) return false;
  if (first === 0) return proof.length === 0 && equal(firstRoot, EMPTY_ROOT);
  if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = BigInt(first - 1);
  let sn = BigInt(second - 1);
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr: Uint8Array = path[0];
  let sr: Uint8Array = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equal(fr, firstRoot) && equal(sr, secondRoot);
}

/**
 * Appends one leaf to the right edge of a tree: `frontier` holds the complete subtrees of
 * D[0:size] (subtreesOf({0, size})) with their hashes; returns every complete subtree the new leaf
 * completes (level 0 first), each to be stored, and the frontier of size + 1.
 */
export function appendLeaf(
  frontier: { subtree: Subtree; hash: Buffer }[],
  size: number,
  hash: Buffer,
): { created: { subtree: Subtree; hash: Buffer }[]; frontier: { subtree: Subtree; hash: Buffer }[] } {
  const next = [...frontier];
  const created: { subtree: Subtree; hash: Buffer }[] = [];
  let node = { subtree: { level: 0, index: size }, hash };
  created.push(node);
  // A node at an odd index closes its parent, whose left child is the frontier's last entry.
  while (node.subtree.index % 2 === 1) {
    const left = next.pop();
    if (!left || left.subtree.level !== node.subtree.level) throw new Error('the frontier does not match the tree size');
    node = { subtree: { level: node.subtree.level + 1, index: (node.subtree.index - 1) / 2 }, hash: nodeHash(left.hash, node.hash) };
    created.push(node);
  }
  next.push(node);
  return { created, frontier: next };
}

/** The root of a tree from its frontier (the complete subtrees of D[0:size], left to right). */
export function frontierRoot(frontier: { hash: Buffer }[]): Buffer {
  if (frontier.length === 0) return EMPTY_ROOT;
  let hash = frontier[frontier.length - 1].hash;
  for (let i = frontier.length - 2; i >= 0; i--) hash = nodeHash(frontier[i].hash, hash);
  return hash;
}
