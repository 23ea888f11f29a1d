// The stamp rule, per recipient: an X-Hashcash stamp for that exact address, worth at least the
// recipient's price, within the validity window. (Never spent is decided in the queue transaction,
// where the stamp is recorded as spent; see acceptor.ts.) A recipient that fails is named with the
// bits it needs and why the stamps offered did not do.
import { POW_CODES } from '../pow/errors.js';
import { stampResourceKey, verifyStamp, type VerifyOptions, type VerifyResult } from '../pow/verify.js';
import { parseStamp, type Stamp } from '../pow/stamp.js';

export interface StampPolicy {
  validitySeconds: number;
  graceSeconds: number;
  caseSensitive: boolean;
}

export interface StampDemand {
  address: string;
  price: number;
}

export type StampOutcome =
  | { address: string; ok: true; stamp: Stamp; value: number; expiresAt: Date }
  | { address: string; ok: false; price: number; code: string; reason: string };

// When several stamps were offered for one recipient and none passed, the reply explains the
// failure closest to passing: a stamp for the right address beats one for another address.
const SPECIFICITY: Record<string, number> = {
  [POW_CODES.expired]: 4,
  [POW_CODES.future]: 4,
  [POW_CODES.insufficientBits]: 3,
  [POW_CODES.resourceMismatch]: 1,
  [POW_CODES.malformed]: 0,
};

/**
 * The most X-Hashcash fields a message may carry: two per recipient (a sender may offer a spare)
 * plus some room for stamps other gateways on the path care about. Beyond it the message is
 * refused before any stamp is looked at, so the work per message stays bounded.
 */
export function maxStampFields(recipients: number): number {
  return 2 * recipients + 16;
}

type Verify = (text: string, options: VerifyOptions) => VerifyResult;

/**
 * Each recipient against the stamps offered for its own address. The stamps are parsed once and
 * indexed by resource (compared the way verifyStamp compares them), so a message costs one
 * verification per stamp and recipient pair that can match, not one per stamp times recipient.
 * `verify` is verifyStamp; tests count its calls.
 */
export function checkStamps(
  stamps: readonly string[],
  demands: readonly StampDemand[],
  policy: StampPolicy,
  now: Date,
  verify: Verify = verifyStamp,
): StampOutcome[] {
  const byResource = new Map<string, string[]>();
  // What a recipient without a stamp of its own is told: a stamp for another address (as the
  // closest miss), else why the first stamp could not be read.
  let foreign: string | undefined;
  for (const text of stamps) {
    let resource: string;
    try {
      resource = parseStamp(text).resource;
    } catch {
      continue;
    }
    foreign ??= text;
    const key = stampResourceKey(resource, policy.caseSensitive);
    const bucket = byResource.get(key);
    if (bucket) bucket.push(text);
    else byResource.set(key, [text]);
  }
  const options = (demand: StampDemand): VerifyOptions => ({
    resource: demand.address,
    bits: demand.price,
    now,
    validitySeconds: policy.validitySeconds,
    graceSeconds: policy.graceSeconds,
    caseSensitive: policy.caseSensitive,
  });

  return demands.map((demand) => {
    if (stamps.length === 0) {
      return { address: demand.address, ok: false, price: demand.price, code: 'GW_STAMP_MISSING', reason: 'no X-Hashcash stamp in the message' };
    }
    const own = byResource.get(stampResourceKey(demand.address, policy.caseSensitive)) ?? [foreign ?? stamps[0]];
    let best: Extract<VerifyResult, { ok: false }> | undefined;
    for (const text of own) {
      const result = verify(text, options(demand));
      if (result.ok) {
        return { address: demand.address, ok: true, stamp: result.stamp, value: result.value, expiresAt: result.expiresAt };
      }
      if (!best || (SPECIFICITY[result.code] ?? 0) > (SPECIFICITY[best.code] ?? 0)) best = result;
    }
    return { address: demand.address, ok: false, price: demand.price, code: best!.code, reason: best!.reason };
  });
}

/** One reply line per failing recipient, e.g. `X-Hashcash: 20 bits required for a@b (stamp expired)`. */
export function stampRequiredLine(address: string, price: number, reason: string): string {
  return `X-Hashcash: ${price} bits required for ${address} (${reason})`;
}
