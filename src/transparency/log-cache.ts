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

/** Base64 of a SHA-256 hash: 44 characters (RFC 4648 §4, one "=" of padding). */
const HASH_BASE64 = 44;

/** The stored subtree a range is, when it is one complete aligned subtree (no folding needed). */
function completeSubtree(range: LeafRange): Subtree | undefined {
  const size = range.end - range.start;
  // A power of two, and the range starts on a multiple of it.
  if (size <= 0 || (size & (size - 1)) !== 0 || size > 2 ** 30 || range.start % size !== 0) return undefined;
  return { level: 31 - Math.clz32(size), index: range.start / size };
}

/**
 * A growable run of byte strings in one buffer, each kept as its base64 text: the API writes
 * leaves and hashes only in base64, so a proof copies stored text into its answer and encodes
 * nothing per request. Entries of one fixed width need no table of ends.
 */
class Base64Run {
  private data = Buffer.alloc(0);
  private readonly ends: number[] = [];
  private count = 0;
  private used = 0;

  constructor(private readonly width?: number) {}

  get length(): number {
    return this.count;
  }

  push(bytes: Uint8Array): void {
    const text = Buffer.from(bytes).toString('base64');
    if (this.width !== undefined && text.length !== this.width) throw new Error(`an entry of ${text.length} base64 characters in a run of ${this.width}`);
    if (this.used + text.length > this.data.length) {
      const next = Buffer.alloc(Math.max(1024, (this.used + text.length) * 2));
      this.data.copy(next, 0, 0, this.used);
      this.data = next;
    }
    this.used += this.data.write(text, this.used, 'latin1');
    if (this.width === undefined) this.ends.push(this.used);
    this.count++;
  }

  private start(i: number): number {
    return this.width !== undefined ? i * this.width : i === 0 ? 0 : this.ends[i - 1];
  }

  private end(i: number): number {
    return this.width !== undefined ? (i + 1) * this.width : this.ends[i];
  }

  /** Entry i's bytes (decoded: for folding and checks, not for answers). */
  get(i: number): Buffer {
    return Buffer.from(this.data.toString('latin1', this.start(i), this.end(i)), 'base64');
  }

  /** Entry i's base64 length. */
  textLength(i: number): number {
    return this.end(i) - this.start(i);
  }

  /** Copies entry i's base64 into `target` at `at`; returns the octets written. */
  copyText(i: number, target: Buffer, at: number): number {
    // A hash (44 octets) by a byte loop, which costs about what Buffer#copy's typed-array view
    // does; a leaf (a few hundred octets) by copy(), where a loop took twice as long.
    const data = this.data;
    const end = this.end(i);
    let from = this.start(i);
    const length = end - from;
    if (length > 64) return data.copy(target, at, from, end);
    while (from < end) target[at++] = data[from++];
    return length;
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

  private readonly levels: Base64Run[] = [];
  private readonly leaves = new Base64Run();
  private readonly latest = new Map<string, number>();

  get size(): number {
    return this.leaves.length;
  }

  /** The run of `level` when it holds subtree `index`; a proof never asks for one not held. */
  private run(level: number, index: number): Base64Run {
    const run = this.levels[level];
    if (!run || index >= run.length) throw new Error(`subtree ${level}:${index} is not held`);
    return run;
  }

  subtree(s: Subtree): Buffer {
    return this.run(s.level, s.index).get(s.index);
  }

  leaf(index: number): Buffer {
    return this.leaves.get(index);
  }

  leafBase64Length(index: number): number {
    return this.leaves.textLength(index);
  }

  copyLeafBase64(index: number, target: Buffer, at: number): number {
    return this.leaves.copyText(index, target, at);
  }

  copyLeafHashBase64(index: number, target: Buffer, at: number): number {
    return this.run(0, index).copyText(index, target, at);
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
        (this.levels[0] ??= new Base64Run(HASH_BASE64)).push(l.leaf_hash);
        this.latest.set(l.label.toString('hex'), Number(l.idx));
      }
      for (const n of nodes) {
        const run = (this.levels[n.level] ??= new Base64Run(HASH_BASE64));
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
