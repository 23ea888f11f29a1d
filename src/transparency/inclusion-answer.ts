// The answer of GET /v1/log/:zone/proof/inclusion?address=, the log's hot route, written straight
// into bytes: every part is a number, stored base64 text (log-cache.ts keeps leaves and hashes in
// that form) or the head's JSON, so nothing needs escaping and nothing is encoded per request.
// The fields and their order are the route's documented schema (routes.ts, inclusionSchema).
import { HASH_BASE64, HELD_PATH_LEVELS, type ZoneLogView } from './log-cache.js';
import { forEachInclusionStep } from './merkle.js';
import type { SignedTreeHead } from './sth.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;
// The fixed text between the parts, as bytes. Whole buffers go in with TypedArray#set, which costs
// less per call than Buffer#write or Buffer#copy (those validate their arguments in JavaScript first).
const LEAF_HASH_KEY = Buffer.from('","leaf_hash":"', 'latin1');
const PATH_KEY = Buffer.from('","inclusion_path":[', 'latin1');
const STH_KEY = Buffer.from('],"sth":', 'latin1');
/** Writes `bytes` into `out` at `at`; returns how many. */
function put(out: Buffer, bytes: Uint8Array, at: number): number {
  out.set(bytes, at);
  return bytes.length;
}
/** A proof step in the answer: a quoted 44-character base64 hash and its comma. */
const STEP_OCTETS = HASH_BASE64 + 3;

/**
 * Steps below this level are the leaf's own: held with it (log-cache.ts, HELD_PATH_LEVELS) once its
 * block is complete. The steps above it are the same for every leaf of an aligned block, so each
 * block's are written once per head, into one buffer per head, and then copied as one run.
 */
const SHARED_FROM_LEVEL = HELD_PATH_LEVELS;

/** `,"<hash>"` for each step at SHARED_FROM_LEVEL and above, per block, for one head. */
class SharedRuns {
  /** The most a block's run can take: one step per level above SHARED_FROM_LEVEL. */
  private readonly stride: number;
  private readonly runs: Buffer;
  /** Each block's run length plus one; 0 while not yet written. */
  private readonly lengths: Uint32Array;
  /** The size of the head these runs are for. */
  private readonly size: number;

  constructor(private readonly log: ZoneLogView) {
    const size = (this.size = log.head.size);
    this.stride = Math.max(0, Math.ceil(Math.log2(size)) - SHARED_FROM_LEVEL) * STEP_OCTETS;
    const blocks = Math.ceil(size / (1 << SHARED_FROM_LEVEL));
    // Unfilled: only the blocks that are asked for are written (and their pages touched).
    this.runs = Buffer.allocUnsafeSlow(blocks * this.stride);
    this.lengths = new Uint32Array(blocks);
  }

  /** Copies the run of the leaf's block into `out` at `at`; returns the octets written. */
  copy(index: number, out: Buffer, at: number, withLeadingComma: boolean): number {
    const block = Math.floor(index / (1 << SHARED_FROM_LEVEL));
    const start = block * this.stride;
    let length = this.lengths[block] - 1;
    if (length < 0) {
      let end = start;
      forEachInclusionStep(index, this.size, (level, from, to) => {
        this.runs[end++] = COMMA;
        this.runs[end++] = QUOTE;
        end += this.log.copyStepBase64(level, from, to, this.runs, end);
        this.runs[end++] = QUOTE;
      }, SHARED_FROM_LEVEL);
      length = end - start;
      this.lengths[block] = length + 1;
    }
    // The run starts with a comma, which the first step of a path cannot have.
    const skip = withLeadingComma || length === 0 ? 0 : 1;
    out.set(this.runs.subarray(start + skip, start + length), at);
    return length - skip;
  }
}
const sharedRuns = new WeakMap<SignedTreeHead, SharedRuns>();

function sharedRunsOf(log: ZoneLogView): SharedRuns {
  let runs = sharedRuns.get(log.head);
  if (!runs) sharedRuns.set(log.head, (runs = new SharedRuns(log)));
  return runs;
}

// Answers are cut from slabs of 256 KiB, each used up before the next: Buffer.allocUnsafe() took a
// new 8 KiB pool every fourth answer of about 1.7 KB, and that allocation was a tenth of the
// route's time (bench:log-proofs). A slab is freed once every answer cut from it is.
const SLAB_OCTETS = 256 * 1024;
let slab = Buffer.allocUnsafeSlow(SLAB_OCTETS);
let slabUsed = 0;

/** `{"leaf_index", "tree_size", "leaf", "leaf_hash", "inclusion_path", "sth"}` as JSON octets. */
export function inclusionAnswer(log: ZoneLogView, index: number, headJson: Buffer): Buffer {
  const size = log.head.size;
  const shared = sharedRunsOf(log);
  const opening = `{"leaf_index":${index},"tree_size":${size},"leaf":"`;
  const most = opening.length + log.leafBase64Length(index) + HASH_BASE64 + 64 + Math.ceil(Math.log2(size) + 1) * STEP_OCTETS + headJson.length;
  if (slabUsed + most > slab.length) {
    slab = Buffer.allocUnsafeSlow(Math.max(SLAB_OCTETS, most));
    slabUsed = 0;
  }
  const out = slab;
  const begin = slabUsed;
  let at = begin + out.write(opening, begin, 'latin1');
  at += log.copyLeafBase64(index, out, at);
  at += put(out, LEAF_HASH_KEY, at);
  at += log.copyLeafHashBase64(index, out, at);
  at += put(out, PATH_KEY, at);
  const pathStart = at;
  if (log.holdsLowerPath(index)) {
    // The leaf's block is complete: its lower steps all exist and sit next to its hash.
    for (let level = 0; level < SHARED_FROM_LEVEL; level++) {
      if (level > 0) out[at++] = COMMA;
      out[at++] = QUOTE;
      at += log.copyHeldStepBase64(index, level, out, at);
      out[at++] = QUOTE;
    }
  } else {
    forEachInclusionStep(index, size, (level, start, end) => {
      if (at > pathStart) out[at++] = COMMA;
      out[at++] = QUOTE;
      at += log.copyStepBase64(level, start, end, out, at);
      out[at++] = QUOTE;
    }, 0, SHARED_FROM_LEVEL);
  }
  at += shared.copy(index, out, at, at > pathStart);
  at += put(out, STH_KEY, at);
  at += put(out, headJson, at);
  out[at++] = CLOSE_BRACE;
  slabUsed = at;
  return out.subarray(begin, at);
}
