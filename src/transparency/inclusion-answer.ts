// The answer of GET /v1/log/:zone/proof/inclusion?address=, the log's hot route, written straight
// into one buffer: every part is a number, stored base64 text (log-cache.ts keeps leaves and hashes
// in that form) or the head's JSON, so nothing needs escaping and nothing is encoded per request.
// The fields and their order are the route's documented schema (routes.ts, inclusionSchema).
import type { ZoneLogView } from './log-cache.js';
import { inclusionRanges } from './merkle.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;
/** A proof step in the answer: a quoted 44-character base64 hash and its comma. */
const STEP_OCTETS = 44 + 3;

/** `{"leaf_index", "tree_size", "leaf", "leaf_hash", "inclusion_path", "sth"}` as JSON octets. */
export function inclusionAnswer(log: ZoneLogView, index: number, headJson: Buffer): Buffer {
  const size = log.head.size;
  const path = inclusionRanges(index, size);
  const opening = `{"leaf_index":${index},"tree_size":${size},"leaf":"`;
  const out = Buffer.allocUnsafe(opening.length + log.leafBase64Length(index) + 44 + 64 + path.length * STEP_OCTETS + headJson.length);
  let at = out.write(opening, 0, 'latin1');
  at += log.copyLeafBase64(index, out, at);
  at += out.write('","leaf_hash":"', at, 'latin1');
  at += log.copyLeafHashBase64(index, out, at);
  at += out.write('","inclusion_path":[', at, 'latin1');
  for (let i = 0; i < path.length; i++) {
    if (i > 0) out[at++] = COMMA;
    out[at++] = QUOTE;
    at += log.copyRangeHashBase64(path[i], out, at);
    out[at++] = QUOTE;
  }
  at += out.write('],"sth":', at, 'latin1');
  at += headJson.copy(out, at);
  out[at++] = CLOSE_BRACE;
  return out.subarray(0, at);
}
