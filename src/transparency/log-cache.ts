// The zone logs as the public API serves them: each zone's signed head, its stored subtree hashes
// and leaves, held in memory and extended from the database when the change feed reports the zone
// (a new head bumps the serial), so a proof request costs no database round trip. Only what the
// latest signed head covers is held; a head that does not extend the one held (a zone removed and
// added again) reloads the zone.
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { ChangeFeed } from '../db/change-feed.js';
import { LabelIndex } from './label-index.js';
import { HASH_SIZE, rangeHash, type LeafRange, type Subtree } from './merkle.js';
import type { SignedTreeHead } from './sth.js';
import { latestTreeHead } from './tree-heads.js';

/** Leaves read from the database per query. */
const PAGE = 10_000;

/** Base64 of a SHA-256 hash: 44 characters (RFC 4648 §4, one "=" of padding). */
export const HASH_BASE64 = 44;

/**
 * The lowest levels of a leaf's audit path, held next to the leaf's own hash. Within an aligned
 * block of 2^HELD_PATH_LEVELS leaves those steps are siblings inside the block, so once the block
 * is complete they never change, whatever head a proof is made against. A proof then reads them
 * from one place instead of one level run each: on the proof route every separate place read in a
 * large log is a cache and TLB miss, and in the server those cost more than the copying. Seven levels
 * make blocks of 128 leaves, so the steps above them, shared per block (inclusion-answer.ts), take
 * about 370 KB for 100,000 leaves and stay in cache.
 */
export const HELD_PATH_LEVELS = 7;
const BLOCK = 1 << HELD_PATH_LEVELS;
/** A held path record: the leaf hash, then steps 0 .. HELD_PATH_LEVELS − 1, in base64. */
const RECORD = (1 + HELD_PATH_LEVELS) * HASH_BASE64;

/** The stored subtree a range is, when it is one complete aligned subtree (no folding needed). */
function completeSubtree(range: LeafRange): Subtree | undefined {
  const size = range.end - range.start;
  // A power of two, and the range starts on a multiple of it.
  if (size <= 0 || (size & (size - 1)) !== 0 || size > 2 ** 30 || range.start % size !== 0) return undefined;
  return { level: 31 - Math.clz32(size), index: range.start / size };
}

/**
 * A growable run of hashes in one buffer, each kept as its base64 text: the API writes hashes only
 * in base64, so a proof copies stored text into its answer and encodes nothing per request.
 */
class HashRun {
  private data: Buffer = Buffer.alloc(0);
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(hash: Uint8Array): void {
    const at = this.count * HASH_BASE64;
    if (at + HASH_BASE64 > this.data.length) this.data = grown(this.data, at, at + HASH_BASE64);
    if (this.data.write(Buffer.from(hash).toString('base64'), at, 'latin1') !== HASH_BASE64) throw new Error(`a hash of ${hash.length} octets`);
    this.count++;
  }

  /** Hash i's bytes (decoded: for folding and checks, not for answers). */
  get(i: number): Buffer {
    return Buffer.from(this.data.toString('latin1', i * HASH_BASE64, (i + 1) * HASH_BASE64), 'base64');
  }

  /** Copies hash i's base64 (44 octets) into `target` at `at`; returns 44. */
  copyText(i: number, target: Buffer, at: number): number {
    return copyHash(this.data, i * HASH_BASE64, target, at);
  }
}

/** A buffer of at least `needed` octets holding the first `used` of `data`. */
function grown(data: Buffer, used: number, needed: number): Buffer {
  // Unfilled: octets past `used` are written before they are read, and the pages of the unused
  // tail are not taken from the system until then.
  const next = Buffer.allocUnsafeSlow(Math.max(64 * 1024, needed * 2));
  data.copy(next, 0, 0, used);
  return next;
}

/** Copies 44 octets of base64 from `data` at `from` to `target` at `at`; returns 44. */
function copyHash(data: Buffer, from: number, target: Buffer, at: number): number {
  // A byte loop: for 44 octets it costs less than Buffer#copy, which checks its arguments in JavaScript.
  for (const end = from + HASH_BASE64; from < end; ) target[at++] = data[from++];
  return HASH_BASE64;
}

/**
 * The leaves in leaf order, each entry holding what a proof of the leaf needs next to the leaf:
 * its hash, the HELD_PATH_LEVELS lowest steps of its audit path (written once its block is
 * complete, see HELD_PATH_LEVELS), then the leaf; all in base64. A proof reads one place per leaf.
 */
class LeafEntries {
  private data: Buffer = Buffer.alloc(0);
  /** Where entry i starts; entry `count` is where the next would. */
  private starts = new Float64Array(1024);
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(leafHash: Uint8Array, leaf: Uint8Array): void {
    const text = Buffer.from(leaf).toString('base64');
    const at = this.starts[this.count];
    const end = at + RECORD + text.length;
    if (end > this.data.length) this.data = grown(this.data, at, end);
    if (this.data.write(Buffer.from(leafHash).toString('base64'), at, 'latin1') !== HASH_BASE64) throw new Error(`a leaf hash of ${leafHash.length} octets`);
    this.data.write(text, at + RECORD, 'latin1');
    if (this.count + 2 > this.starts.length) {
      const next = new Float64Array(this.starts.length * 2);
      next.set(this.starts);
      this.starts = next;
    }
    this.starts[++this.count] = end;
  }

  /** Entry i's leaf (decoded). */
  leaf(i: number): Buffer {
    return Buffer.from(this.data.toString('latin1', this.starts[i] + RECORD, this.starts[i + 1]), 'base64');
  }

  leafTextLength(i: number): number {
    return this.starts[i + 1] - this.starts[i] - RECORD;
  }

  copyLeafText(i: number, target: Buffer, at: number): number {
    return this.data.copy(target, at, this.starts[i] + RECORD, this.starts[i + 1]);
  }

  /** Copies part `part` of entry i's record (0: the leaf hash, 1 + level: a step) to `target`. */
  copyRecordPart(i: number, part: number, target: Buffer, at: number): number {
    return copyHash(this.data, this.starts[i] + part * HASH_BASE64, target, at);
  }

  /** Writes step `level` of entry i's record from `run`'s hash `index`. */
  holdStep(i: number, level: number, run: HashRun, index: number): void {
    run.copyText(index, this.data, this.starts[i] + (1 + level) * HASH_BASE64);
  }
}

export interface ZoneLogView {
  head: SignedTreeHead;
  /** The hash of a complete subtree within the head's tree. */
  subtree(s: Subtree): Buffer;
  /** MTH of a range of the head's tree, as a proof step names it. */
  rangeHash(range: LeafRange): Buffer;
  /** A proof step's hash in base64, as the API writes it. */
  rangeHashBase64(range: LeafRange): string;
  /**
   * Writes a step of an audit path (merkle.ts, forEachInclusionStep), MTH(D[start:end]) at
   * `level`, in base64 (44 octets) into `target` at `at`; returns 44.
   */
  copyStepBase64(level: number, start: number, end: number, target: Buffer, at: number): number;
  leaf(index: number): Buffer;
  /** The length of a leaf in base64. */
  leafBase64Length(index: number): number;
  /** Writes a leaf in base64 into `target` at `at`; returns the octets written. */
  copyLeafBase64(index: number, target: Buffer, at: number): number;
  /** Writes a leaf's hash in base64 (44 octets) into `target` at `at`; returns 44. */
  copyLeafHashBase64(index: number, target: Buffer, at: number): number;
  /**
   * Whether the leaf's steps below HELD_PATH_LEVELS are held with it: its aligned block of
   * 2^HELD_PATH_LEVELS leaves is complete within the held tree.
   */
  holdsLowerPath(index: number): boolean;
  /**
   * Writes step `level` (< HELD_PATH_LEVELS) of the leaf's audit path in base64 (44 octets) into
   * `target` at `at`, from the leaf's held record; returns 44. Only when holdsLowerPath(index).
   */
  copyHeldStepBase64(index: number, level: number, target: Buffer, at: number): number;
  /** The index of a label's latest leaf within the head's tree. */
  latestOf(labelHex: string): number | undefined;
}

class ZoneLog implements ZoneLogView {
  private signedHead!: SignedTreeHead;
  /**
   * Hashes of ranges that are not one stored subtree (the right edge of a tree whose size is not a
   * power of two): every proof against the same head needs the same few, so each is folded once.
   */
  private folded = new Map<number, { hash: Buffer; text: Buffer }>();

  get head(): SignedTreeHead {
    return this.signedHead;
  }

  set head(head: SignedTreeHead) {
    this.signedHead = head;
    this.folded = new Map();
  }

  rangeHash(range: LeafRange): Buffer {
    const subtree = completeSubtree(range);
    return subtree ? this.subtree(subtree) : this.foldedRange(range).hash;
  }

  rangeHashBase64(range: LeafRange): string {
    return this.rangeHash(range).toString('base64');
  }

  copyStepBase64(level: number, start: number, end: number, target: Buffer, at: number): number {
    // A whole subtree is stored; only the tree's right edge is shorter and folded. Shifts, not
    // 2 ** level: every step of every proof passes here, and ** is a call to pow().
    if (level < 31 && end - start === 1 << level) {
      const index = start >>> level;
      return this.run(level, index).copyText(index, target, at);
    }
    return this.foldedRange({ start, end }).text.copy(target, at);
  }

  /** A range that is not one stored subtree, folded from those it is made of. */
  private foldedRange(range: LeafRange): { hash: Buffer; text: Buffer } {
    // Memoized on the head's right edge only, where each range is named by its start: proofs
    // against earlier tree sizes name other ranges, and the memo stays as small as one head needs.
    const memo = range.end === this.signedHead?.size;
    let folded = memo ? this.folded.get(range.start) : undefined;
    if (!folded) {
      const hash = rangeHash(range, (s) => this.subtree(s));
      folded = { hash, text: Buffer.from(hash.toString('base64'), 'latin1') };
      if (memo) this.folded.set(range.start, folded);
    }
    return folded;
  }

  private readonly levels: HashRun[] = [];
  private readonly leaves = new LeafEntries();
  private readonly latest = new LabelIndex();
  /** Blocks whose leaves' entries hold their lower steps (see HELD_PATH_LEVELS). */
  private heldBlocks = 0;

  constructor(private readonly pageLeaves = PAGE) {}

  get size(): number {
    return this.leaves.length;
  }

  /** The run of `level` when it holds subtree `index`; a proof never asks for one not held. */
  private run(level: number, index: number): HashRun {
    const run = this.levels[level];
    if (!run || index >= run.length) throw new Error(`subtree ${level}:${index} is not held`);
    return run;
  }

  subtree(s: Subtree): Buffer {
    return this.run(s.level, s.index).get(s.index);
  }

  leaf(index: number): Buffer {
    return this.leaves.leaf(index);
  }

  leafBase64Length(index: number): number {
    return this.leaves.leafTextLength(index);
  }

  copyLeafBase64(index: number, target: Buffer, at: number): number {
    return this.leaves.copyLeafText(index, target, at);
  }

  copyLeafHashBase64(index: number, target: Buffer, at: number): number {
    return this.leaves.copyRecordPart(index, 0, target, at);
  }

  holdsLowerPath(index: number): boolean {
    return index >>> HELD_PATH_LEVELS < this.heldBlocks;
  }

  copyHeldStepBase64(index: number, level: number, target: Buffer, at: number): number {
    if (!this.holdsLowerPath(index) || level >= HELD_PATH_LEVELS) throw new Error(`step ${level} of leaf ${index} is not held with it`);
    return this.leaves.copyRecordPart(index, 1 + level, target, at);
  }

  /** Writes the lower steps of every leaf of the blocks the leaves read so far complete. */
  private holdCompleteBlocks(): void {
    const blocks = Math.floor(this.size / BLOCK);
    for (let index = this.heldBlocks * BLOCK; index < blocks * BLOCK; index++) {
      for (let level = 0; level < HELD_PATH_LEVELS; level++) {
        // The sibling of the leaf's ancestor at `level`: inside the block, so complete.
        const sibling = (index >>> level) ^ 1;
        this.leaves.holdStep(index, level, this.run(level, sibling), sibling);
      }
    }
    this.heldBlocks = blocks;
  }

  latestOf(labelHex: string): number | undefined {
    return this.latest.get(labelHex);
  }

  /** Reads leaves [size, to) and the subtrees they complete, in order. */
  async extend(db: Db, zone: string, to: number): Promise<void> {
    for (let from = this.size; from < to; from = this.size) {
      const end = Math.min(to, from + this.pageLeaves);
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
        this.leaves.push(l.leaf_hash, l.leaf);
        (this.levels[0] ??= new HashRun()).push(l.leaf_hash);
        this.latest.set(l.label.toString('hex'), Number(l.idx));
      }
      for (const n of nodes) {
        const run = (this.levels[n.level] ??= new HashRun());
        if (Number(n.idx) !== run.length) throw new Error(`the log of ${zone} is missing subtree ${n.level}:${run.length}`);
        if (n.hash.length !== HASH_SIZE) throw new Error(`the log of ${zone} holds a subtree hash of ${n.hash.length} octets at ${n.level}:${n.idx}`);
        run.push(n.hash);
      }
      this.holdCompleteBlocks();
    }
  }
}

export class LogCache {
  private readonly zones = new Map<string, Promise<ZoneLog | undefined>>();
  private readonly stale = new Set<string>();
  /** The logs of `zones` whose read has finished, for peek(). */
  private readonly ready = new Map<string, ZoneLog>();
  private readonly unsubscribe: () => void;

  /** `pageLeaves`: leaves read per query (tests make it small to cross pages). */
  constructor(
    private readonly db: Db,
    changeFeed: ChangeFeed,
    private readonly pageLeaves = PAGE,
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
      if (!log || head.size < log.size || !head.publicKey.equals(log.head.publicKey)) log = new ZoneLog(this.pageLeaves);
      await log.extend(this.db, zone, head.size);
      // Hashes held that no longer give the head's root (the stored tree was rewritten): read it all again.
      if (!rangeHash({ start: 0, end: head.size }, (s) => log!.subtree(s)).equals(head.root)) {
        log = new ZoneLog(this.pageLeaves);
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
