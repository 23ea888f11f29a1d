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
//
// With several UDP threads (dns-workers.ts) each thread has its own limiter holding its share of
// both budgets (dividedAmong). The server-wide budget is a bound on signing CPU, and each thread
// signs on its own core, so shares of it bound the total exactly. Per prefix, the threads read one
// socket and the kernel hands each datagram to whichever is waiting, so a prefix's queries spread
// over the threads and the shares add up to about its rate; a prefix whose queries all land on one
// thread gets that thread's share only, which costs its resolver a TCP retry, never a wrong
// answer. Shared buckets (as shared-rrl.ts does for RRL) would need a lock on a path that is taken
// only for names not cached, for a budget that is an estimate of CPU anyway.
// "Cached" is per thread too: each worker's signer keeps the denials it signed
// (dnssec/zone-signer.ts), so a denial another thread cached is fresh to this one.
import { BoundedAccounts } from './bounded-accounts.js';
import { ClientPrefixes, type PrefixLengths } from './client-prefix.js';
import type { DnsCounters } from './counters.js';

export interface DenialLimits extends PrefixLengths {
  /** Fresh denial signatures per second per client prefix; 0 = no per-prefix limit. */
  perPrefixPerSecond: number;
  /** Fresh denial signatures per second in all; 0 = no global limit. */
  globalPerSecond: number;
}

export type DenialRefusal = 'prefix' | 'overload';

/** One thread's share of `limits` when `threads` threads answer UDP (see the head of this file). */
export function dividedAmong(limits: DenialLimits, threads: number): DenialLimits {
  const n = Math.max(1, threads);
  return { ...limits, perPrefixPerSecond: limits.perPrefixPerSecond / n, globalPerSecond: limits.globalPerSecond / n };
}

/** What the limiter counts, in the thread's DNS counters (shared rows with workers, counters.ts). */
export type DenialCounts = Pick<DnsCounters, 'denialsAdmitted' | 'denialsRefusedPrefix' | 'denialsRefusedOverload'>;

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
  /** A prefix's burst: a second's worth, but at least one signature, so a share below 1/s still admits. */
  private readonly prefixBurst: number;

  constructor(
    private readonly limits: DenialLimits,
    /** Queries refused, by budget, and fresh signatures admitted (read for /metrics). */
    private readonly counts: DenialCounts,
    nowMs = Date.now(),
  ) {
    this.prefixes = new ClientPrefixes(limits);
    this.globalBurst = Math.max(1, Math.ceil(limits.globalPerSecond / 10));
    this.prefixBurst = Math.max(1, limits.perPrefixPerSecond);
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
        account = { tokens: this.prefixBurst, lastMs: nowMs };
        this.accounts.add(key, account);
      } else refill(account, perPrefix, this.prefixBurst, nowMs);
      if (account.tokens < 1) {
        this.counts.denialsRefusedPrefix++;
        return 'prefix';
      }
    }
    if (globalPerSecond > 0) {
      refill(this.global, globalPerSecond, this.globalBurst, nowMs);
      if (this.global.tokens < 1) {
        this.counts.denialsRefusedOverload++;
        return 'overload';
      }
      this.global.tokens--;
    }
    if (account) account.tokens--;
    this.counts.denialsAdmitted++;
    return undefined;
  }

  /** Prefix accounts currently held (metrics, tests). */
  get size(): number {
    return this.accounts.size;
  }
}
