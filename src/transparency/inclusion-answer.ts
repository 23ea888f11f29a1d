// The answer of GET /v1/log/:zone/proof/inclusion?address=, the log's hot route, written straight
// into bytes: every part is a number, stored base64 text (log-cache.ts keeps leaves and hashes in
// that form) or the head's JSON, so nothing needs escaping and nothing is encoded per request.
// The fields and their order are the route's documented schema (routes.ts, inclusionSchema).
import type { ZoneLogView } from './log-cache.js';
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
const STEP_OCTETS = 44 + 3;

/**
 * Steps below this level are copied per answer. The steps above it are the same for the 2^5 leaves
 * of an aligned block, so each block's are written once per head and then copied as one run.
 */
const SHARED_FROM_LEVEL = 5;
const sharedSteps = new WeakMap<SignedTreeHead, Map<number, Buffer>>();

/** `,"<hash>"` for each step of the path at SHARED_FROM_LEVEL and above, for the leaf's block. */
function sharedStepsOf(log: ZoneLogView, index: number): Buffer {
  const head = log.head;
  let byBlock = sharedSteps.get(head);
  if (!byBlock) sharedSteps.set(head, (byBlock = new Map()));
  const block = Math.floor(index / (1 << SHARED_FROM_LEVEL));
  let steps = byBlock.get(block);
  if (!steps) {
    const out = Buffer.allocUnsafe(Math.max(0, Math.ceil(Math.log2(head.size)) - SHARED_FROM_LEVEL) * STEP_OCTETS);
    let at = 0;
    forEachInclusionStep(index, head.size, (level, start, end) => {
      out[at++] = COMMA;
      out[at++] = QUOTE;
      at += log.copyStepBase64(level, start, end, out, at);
      out[at++] = QUOTE;
    }, SHARED_FROM_LEVEL);
    byBlock.set(block, (steps = out.subarray(0, at)));
  }
  return steps;
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
  const shared = sharedStepsOf(log, index);
  const opening = `{"leaf_index":${index},"tree_size":${size},"leaf":"`;
  const most = opening.length + log.leafBase64Length(index) + 44 + 64 + SHARED_FROM_LEVEL * STEP_OCTETS + shared.length + headJson.length;
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
  forEachInclusionStep(index, size, (level, start, end) => {
    if (at > pathStart) out[at++] = COMMA;
    out[at++] = QUOTE;
    at += log.copyStepBase64(level, start, end, out, at);
    out[at++] = QUOTE;
  }, 0, SHARED_FROM_LEVEL);
  // The shared run starts with a comma, which the first step of a path cannot have.
  const run = at > pathStart || shared.length === 0 ? shared : shared.subarray(1);
  at += put(out, run, at);
  at += put(out, STH_KEY, at);
  at += put(out, headJson, at);
  out[at++] = CLOSE_BRACE;
  slabUsed = at;
  return out.subarray(begin, at);
}
