// Builds stamps with chosen fields for tests: any date, resource or version, with a real proof of
// work of a chosen size (small, so crafting takes milliseconds), or deliberately without one.
import { COUNTER_ALPHABET } from '../../src/pow/kernel/layout.js';
import { countLeadingZeroBits, stampDigest } from '../../src/pow/sha1.js';

/** Counter number `n` as base64 digits, most significant first, unpadded. */
function encodeCounter(n: number): string {
  let out = '';
  do {
    out = COUNTER_ALPHABET[n % 64] + out;
    n = Math.floor(n / 64);
  } while (n > 0);
  return out;
}

export interface CraftFields {
  version?: 0 | 1;
  /** Claimed bits (v1). */
  bits?: number;
  date: string;
  resource: string;
  ext?: string;
  rand?: string;
  /** Leading zero bits the hash really has at least (default: the claim). */
  work?: number;
}

function prefixOf(f: CraftFields): string {
  return f.version === 0
    ? `0:${f.date}:${f.resource}:${f.rand ?? 'c0ffee'}`
    : `1:${f.bits ?? 0}:${f.date}:${f.resource}:${f.ext ?? ''}:${f.rand ?? 'testrand'}:`;
}

/** A stamp whose SHA-1 has at least `work` (default: the claimed bits) leading zero bits. */
export function craftStamp(f: CraftFields): string {
  const prefix = prefixOf(f);
  const work = f.work ?? f.bits ?? 0;
  if (f.version === 0) {
    // v0 has no counter field: extend rand with base64 digits until the hash is good enough.
    for (let n = 0; ; n++) {
      const text = prefix + encodeCounter(n);
      if (countLeadingZeroBits(stampDigest(text)) >= work) return text;
    }
  }
  // Any rand, any counter digits: a plain scan, independent of the minter's layout and engines.
  for (let n = 0; ; n++) {
    const text = prefix + encodeCounter(n);
    if (countLeadingZeroBits(stampDigest(text)) >= work) return text;
  }
}

/** A v1 stamp whose hash has fewer leading zero bits than it claims (so it is worth 0). */
export function craftUnderpaid(f: CraftFields): string {
  const claimed = f.bits ?? 1;
  for (let n = 0; ; n++) {
    const text = prefixOf({ ...f, version: 1 }) + encodeCounter(n);
    if (countLeadingZeroBits(stampDigest(text)) < claimed) return text;
  }
}
