// The zone logs as the public API serves them: each zone's signed head, its stored subtree hashes
// and leaves, held in memory and extended from the database when the change feed reports the zone
// (a new head bumps the serial), so a proof request costs no database round trip. Only what the
// latest signed head covers is held; a head that does not extend the one held (a zone removed and
// added again) reloads the zone.
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { ChangeFeed } from '../db/change-feed.js';
import { HASH_SIZE, rangeHash, type LeafRange, type Subtree } from './merkle.js';
import type { SignedTreeHead } from './sth.js';
import { latestTreeHead } from './tree-heads.js';

const PAGE = 10_000;

/** Subtrees of 2^6 = 64 leaves or more are a step of that many proofs: their base64 is kept. */
const SHARED_SUBTREE_LEVEL = 6;

/** The stored subtree a range is, when it is one complete aligned subtree (no folding needed). */
function completeSubtree(range: LeafRange): Subtree | undefined {
  const size = range.end - range.start;
  // A power of two, and the range starts on a multiple of it.
  if (size <= 0 || (size & (size - 1)) !== 0 || size > 2 ** 30 || range.start % size !== 0) return undefined;
  return { level: 31 - Math.clz32(size), index: range.start / size };
}

/** A growable run of fixed or variable-size byte strings in one buffer. */
class ByteRun {
  private data = Buffer.alloc(0);
  private ends: number[] = [];
  private used = 0;
  get length(): number {
    return this.ends.length;
  }
  push(bytes: Uint8Array): void {
    if (this.used + bytes.length > this.data.length) {
      const next = Buffer.alloc(Math.max(1024, (this.used + bytes.length) * 2));
      this.data.copy(next, 0, 0, this.used);
      this.data = next;
    }
    this.data.set(bytes, this.used);
    this.used += bytes.length;
    this.ends.push(this.used);
  }
  get(i: number): Buffer {
    return this.data.subarray(i === 0 ? 0 : this.ends[i - 1], this.ends[i]);
  }
  /** Entry i in base64, encoded straight from the run (no view object per call: proofs are hot). */
  base64(i: number): string {
    return this.data.toString('base64', i === 0 ? 0 : this.ends[i - 1], this.ends[i]);
  }
}

export interface ZoneLogView {
  head: SignedTreeHead;
  /** The hash of a complete subtree within the head's tree. */
  subtree(s: Subtree): Buffer;
  /** MTH of a range of the head's tree, as a proof step names it. */
  rangeHash(range: LeafRange): Buffer;
  /** The same hash in base64, as the API writes proof steps. */
  rangeHashBase64(range: LeafRange): string;
  leaf(index: number): Buffer;
  leafBase64(index: number): string;
  leafHashBase64(index: number): string;
  /** The index of a label's latest leaf within the head's tree. */
  latestOf(labelHex: string): number | undefined;
}

class ZoneLog implements ZoneLogView {
  private signedHead!: SignedTreeHead;
  /**
   * Hashes of ranges that are not one stored subtree (the right edge of a tree whose size is not a
   * power of two): every proof against the same head needs the same few, so each is folded once.
   */
  private folded = new Map<string, Buffer>();
  /**
   * Base64 of the proof steps many proofs share: the right edge, and every subtree of at least
   * 2^SHARED_SUBTREE_LEVEL leaves (a proof's upper steps, common to all leaves beneath them). Lower
   * steps differ from proof to proof and are encoded each time; this keeps the memo to a small
   * fraction of the tree (one string per 64 leaves) however large the log grows.
   */
  private base64 = new Map<number, string>();

  get head(): SignedTreeHead {
    return this.signedHead;
  }

  set head(head: SignedTreeHead) {
    this.signedHead = head;
    this.folded = new Map();
    this.base64 = new Map();
  }

  rangeHash(range: LeafRange): Buffer {
    const subtree = completeSubtree(range);
    if (subtree) return this.subtree(subtree);
    const key = `${range.start}:${range.end}`;
    let hash = this.folded.get(key);
    if (!hash) {
      hash = rangeHash(range, (s) => this.subtree(s));
      // Proofs against earlier tree sizes name other ranges; the memo stays as small as one head needs.
      if (range.end === this.signedHead?.size) this.folded.set(key, hash);
    }
    return hash;
  }

  rangeHashBase64(range: LeafRange): string {
    const subtree = completeSubtree(range);
    // A number naming a step many proofs share, or undefined for one worth no memo. Folded ranges
    // are memoized only on the head's right edge, where each is named by its start.
    const key = subtree
      ? subtree.level >= SHARED_SUBTREE_LEVEL
        ? subtree.index * 64 + subtree.level
        : undefined
      : range.end === this.signedHead?.size
        ? -1 - range.start
        : undefined;
    let text = key === undefined ? undefined : this.base64.get(key);
    if (text === undefined) {
      text = subtree ? this.subtreeBase64(subtree) : this.rangeHash(range).toString('base64');
      if (key !== undefined) this.base64.set(key, text);
    }
    return text;
  }

  private readonly levels: ByteRun[] = [];
  private readonly leaves = new ByteRun();
  private readonly latest = new Map<string, number>();

  get size(): number {
    return this.leaves.length;
  }

  subtree(s: Subtree): Buffer {
    const run = this.levels[s.level];
    if (!run || s.index >= run.length) throw new Error(`subtree ${s.level}:${s.index} is not held`);
    return run.get(s.index);
  }

  private subtreeBase64(s: Subtree): string {
    const run = this.levels[s.level];
    if (!run || s.index >= run.length) throw new Error(`subtree ${s.level}:${s.index} is not held`);
    return run.base64(s.index);
  }

  leaf(index: number): Buffer {
    return this.leaves.get(index);
  }

  leafBase64(index: number): string {
    return this.leaves.base64(index);
  }

  leafHashBase64(index: number): string {
    return this.subtreeBase64({ level: 0, index });
  }

  latestOf(labelHex: string): number | undefined {
    return this.latest.get(labelHex);
  }

  /** Reads leaves [size, to) and the subtrees they complete, in order. */
  async extend(db: Db, zone: string, to: number): Promise<void> {
    for (let from = this.size; from < to; from = this.size) {
      const end = Math.min(to, from + PAGE);
      const leaves = await db
        .selectFrom('log_leaves')
        .select(['idx', 'label', 'leaf', 'leaf_hash'])
        .where('zone', '=', zone)
        .where('idx', '>=', String(from))
        .where('idx', '<', String(end))
        .orderBy('idx')
        .execute();
      if (leaves.length !== end - from || leaves.some((l, i) => Number(l.idx) !== from + i)) throw new Error(`the log of ${zone} is missing leaves in ${from}..${end - 1}`);
      // Subtrees completed by these leaves: those whose last leaf, (idx + 1) · 2^level − 1, is in range.
      const nodes = await db
        .selectFrom('log_nodes')
        .select(['level', 'idx', 'hash'])
        .where('zone', '=', zone)
        .where(sql<boolean>`(idx + 1) * (1::bigint << level) > ${from} and (idx + 1) * (1::bigint << level) <= ${end}`)
        .orderBy('level')
        .orderBy('idx')
        .execute();
      for (const l of leaves) {
        if (l.leaf_hash.length !== HASH_SIZE) throw new Error(`the log of ${zone} holds a leaf hash of ${l.leaf_hash.length} octets at ${l.idx}`);
        this.leaves.push(l.leaf);
        (this.levels[0] ??= new ByteRun()).push(l.leaf_hash);
        this.latest.set(l.label.toString('hex'), Number(l.idx));
      }
      for (const n of nodes) {
        const run = (this.levels[n.level] ??= new ByteRun());
        if (Number(n.idx) !== run.length) throw new Error(`the log of ${zone} is missing subtree ${n.level}:${run.length}`);
        if (n.hash.length !== HASH_SIZE) throw new Error(`the log of ${zone} holds a subtree hash of ${n.hash.length} octets at ${n.level}:${n.idx}`);
        run.push(n.hash);
      }
    }
  }
}

export class LogCache {
  private readonly zones = new Map<string, Promise<ZoneLog | undefined>>();
  private readonly stale = new Set<string>();
  /** The logs of `zones` whose read has finished, for peek(). */
  private readonly ready = new Map<string, ZoneLog>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly db: Db,
    changeFeed: ChangeFeed,
  ) {
    this.unsubscribe = changeFeed.onZoneChange((zone) => this.stale.add(zone));
  }

  /** The zone's log from memory when it is held and no change was reported since; else undefined. */
  peek(zone: string): ZoneLogView | undefined {
    return this.stale.has(zone) ? undefined : this.ready.get(zone);
  }

  /** The zone's log as of its latest signed head; undefined when it has none. */
  view(zone: string): Promise<ZoneLogView | undefined> {
    const held = this.zones.get(zone);
    if (held && !this.stale.has(zone)) return held;
    this.stale.delete(zone);
    this.ready.delete(zone);
    const next = (async () => {
      const head = await latestTreeHead(this.db, zone);
      if (!head) return undefined;
      let log = await held?.catch(() => undefined);
      if (!log || head.size < log.size || !head.publicKey.equals(log.head.publicKey)) log = new ZoneLog();
      await log.extend(this.db, zone, head.size);
      // Hashes held that no longer give the head's root (the stored tree was rewritten): read it all again.
      if (!rangeHash({ start: 0, end: head.size }, (s) => log!.subtree(s)).equals(head.root)) {
        log = new ZoneLog();
        await log.extend(this.db, zone, head.size);
      }
      log.head = head;
      return log;
    })();
    this.zones.set(zone, next);
    // A failed read, or a zone without a head (perhaps no zone at all), is not kept: the next
    // request asks again, and names nobody serves take no memory.
    const forget = () => {
      if (this.zones.get(zone) === next) this.zones.delete(zone);
    };
    next.then((log) => {
      if (!log) return forget();
      if (this.zones.get(zone) === next) this.ready.set(zone, log);
    }, forget);
    return next;
  }

  close(): void {
    this.unsubscribe();
    this.zones.clear();
    this.ready.clear();
  }
}
