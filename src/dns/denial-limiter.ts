// Admission of fresh denial signatures on UDP. Compact denial (RFC 9824) signs one NSEC per
// missing name online, at about 30 µs of CPU each, so a flood of random names is a CPU amplifier
// that response-rate limiting (rrl.ts) does not stop: it counts answers, and by default it lets
// through 200 a second per prefix, and a client that returns our cookie not at all. Two budgets
// bound it, each a token bucket:
//   - per client prefix (the same prefixes as RRL): distinct missing names that need a signature
//     not cached yet, per second;
//   - for the whole server: such signatures per second, with a burst of a tenth of that, so one
//     event-loop turn never signs more than a few milliseconds' worth.
// A query over either budget gets TC=1 with no records (RFC 2181 §9), as RRL's slip does: a real
// resolver retries over TCP (RFC 7766 §5), which cannot be spoofed and is bounded by the TCP
// connection caps, and is answered in full there. Cached denials cost nothing and are never
// refused, so repeated names, and every other answer, keep flowing while random names are refused.
import { BoundedAccounts } from './bounded-accounts.js';
import { ClientPrefixes, type PrefixLengths } from './client-prefix.js';

export interface DenialLimits extends PrefixLengths {
  /** Fresh denial signatures per second per client prefix; 0 = no per-prefix limit. */
  perPrefixPerSecond: number;
  /** Fresh denial signatures per second in all; 0 = no global limit. */
  globalPerSecond: number;
}

export type DenialRefusal = 'prefix' | 'overload';

interface Bucket {
  tokens: number;
  lastMs: number;
}

/** Prefix accounts kept; past this the oldest is forgotten, so a flood of sources cannot grow memory. */
export const MAX_DENIAL_ACCOUNTS = 100_000;

function refill(bucket: Bucket, rate: number, burst: number, nowMs: number): void {
  bucket.tokens = Math.min(burst, bucket.tokens + ((nowMs - bucket.lastMs) * rate) / 1000);
  bucket.lastMs = nowMs;
}

export class DenialLimiter {
  private readonly prefixes: ClientPrefixes;
  private readonly accounts = new BoundedAccounts<Bucket>(MAX_DENIAL_ACCOUNTS);
  private readonly global: Bucket;
  private readonly globalBurst: number;
  /** Queries refused, by budget, and fresh signatures admitted (DnsCounters reads these for /metrics). */
  readonly counts = { refusedPrefix: 0, refusedOverload: 0, admitted: 0 };

  constructor(private readonly limits: DenialLimits, nowMs = Date.now()) {
    this.prefixes = new ClientPrefixes(limits);
    this.globalBurst = Math.max(1, Math.ceil(limits.globalPerSecond / 10));
    this.global = { tokens: this.globalBurst, lastMs: nowMs };
  }

  /**
   * Asks to sign one denial not cached yet for `remote`: undefined when it may, else which budget
   * is spent. A refused query spends nothing, so a flood is refused at the cost of a map lookup.
   */
  admit(remote: string, nowMs: number): DenialRefusal | undefined {
    const { perPrefixPerSecond: perPrefix, globalPerSecond } = this.limits;
    let account: Bucket | undefined;
    if (perPrefix > 0) {
      const key = this.prefixes.of(remote);
      account = this.accounts.get(key);
      if (!account) {
        account = { tokens: perPrefix, lastMs: nowMs };
        this.accounts.add(key, account);
      } else refill(account, perPrefix, perPrefix, nowMs);
      if (account.tokens < 1) {
        this.counts.refusedPrefix++;
        return 'prefix';
      }
    }
    if (globalPerSecond > 0) {
      refill(this.global, globalPerSecond, this.globalBurst, nowMs);
      if (this.global.tokens < 1) {
        this.counts.refusedOverload++;
        return 'overload';
      }
      this.global.tokens--;
    }
    if (account) account.tokens--;
    this.counts.admitted++;
    return undefined;
  }

  /** Prefix accounts currently held (metrics, tests). */
  get size(): number {
    return this.accounts.size;
  }
}
