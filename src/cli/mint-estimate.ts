// How long a mint will take, judged before it has gone far. A hashcash search is memoryless: each
// hash meets the target with probability 2^-bits, so the expected work is 2^bits hashes whatever was
// tried before, and the time is that over the hash rate measured on this machine.

/** Past this, say so before minting on (a person may have mistyped --bits). */
export const WARN_AFTER_SECONDS = 60;
/**
 * Past this, a person at a terminal must confirm with --yes: an hour is beyond any stamp a mail
 * needs (the default 20 bits take under a second) and about 36 bits on a two-core machine.
 */
export const CONFIRM_AFTER_SECONDS = 3600;
/** The rate is judged over this much minting (thread start-up and kernel compilation excluded). */
const MEASURE_MS = 1000;

export const expectedHashes = (bits: number): number => 2 ** bits;

/** "1.2M" style counts. */
export function formatCount(n: number): string {
  if (n >= 1e12) return `${(n / 1e12).toFixed(1)}T`;
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/** A duration in the one unit a person reads at a glance: "40 s", "12 min", "3 h", "9 days", "5 months". */
export function formatDuration(seconds: number): string {
  const units: [number, string][] = [
    [365.25 * 86400, 'years'],
    [30.44 * 86400, 'months'],
    [86400, 'days'],
    [3600, 'h'],
    [60, 'min'],
  ];
  // A unit is used from twice its size on, so "90 min" rather than "1 h" or "1.5 h".
  for (const [size, name] of units) if (seconds >= 2 * size) return `${Math.round(seconds / size)} ${name}`;
  return `${Math.max(1, Math.round(seconds))} s`;
}

export interface MintEstimate {
  bits: number;
  /** Hashes per second over the measured stretch. */
  rate: number;
  /** Expected seconds for the whole search at that rate. */
  seconds: number;
}

/**
 * Measures the hash rate from a mint's progress reports (total hashes so far) and calls `judge`
 * once, after a second of minting. A mint that ends sooner is never judged: it was short.
 */
export function rateGauge(bits: number, judge: (estimate: MintEstimate) => void): (hashes: number) => void {
  let first: { at: number; hashes: number } | undefined;
  let judged = false;
  return (hashes) => {
    if (judged) return;
    const now = performance.now();
    // From the first report on: the time before it went to starting threads, not to hashing.
    if (!first) {
      first = { at: now, hashes };
      return;
    }
    if (now - first.at < MEASURE_MS) return;
    judged = true;
    const rate = (hashes - first.hashes) / ((now - first.at) / 1000);
    judge({ bits, rate, seconds: rate > 0 ? expectedHashes(bits) / rate : Infinity });
  };
}

/** "minting 26 bits will take about 4 min at 5.2M hashes/s on this machine" (`tense` picks will/would). */
export function describeEstimate(estimate: MintEstimate, tense: 'will' | 'would'): string {
  return `minting ${estimate.bits} bits ${tense} take about ${formatDuration(estimate.seconds)} at ${formatCount(estimate.rate)} hashes/s on this machine`;
}
