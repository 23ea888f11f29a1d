// Limits on SMTP AUTH, checked before any password is hashed: each check is a 16 MiB scrypt, so
// unlimited attempts are both a password-guessing and a memory/CPU exhaustion attack.
//   - failures per connection: after the limit, the next attempt closes the connection (421);
//   - failures per client address (IPv4 or IPv6 /64) within a window: 454 until the window moves;
//   - hashes in flight across the process: a small semaphore; an attempt beyond it gets 454 at
//     once instead of queueing more 16 MiB hashes behind the ones running.
import { clientKey } from './networks.js';

export interface AuthLimitConfig {
  maxFailures: number;
  maxFailuresPerIp: number;
  windowMs: number;
  concurrency: number;
}

export type AuthAdmission =
  | { ok: true; release(): void }
  | { ok: false; reason: 'connection-failures' | 'address-failures' | 'busy' };

// A bound on remembered client addresses, so a spray of sources cannot grow the map without end;
// the oldest entries go first (Map keeps insertion order).
export const MAX_TRACKED_CLIENTS = 100_000;

export class AuthLimits {
  private inFlight = 0;
  /** Failure times per client key, oldest first, at most maxFailuresPerIp of them. */
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly config: AuthLimitConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether an attempt may hash now; `connectionFailures` are this connection's failures so far. */
  admit(remoteAddress: string, connectionFailures: number): AuthAdmission {
    if (connectionFailures >= this.config.maxFailures) return { ok: false, reason: 'connection-failures' };
    if (this.recentFailures(clientKey(remoteAddress)).length >= this.config.maxFailuresPerIp) {
      return { ok: false, reason: 'address-failures' };
    }
    if (this.inFlight >= this.config.concurrency) return { ok: false, reason: 'busy' };
    this.inFlight++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight--;
      },
    };
  }

  recordFailure(remoteAddress: string): void {
    const key = clientKey(remoteAddress);
    const times = this.recentFailures(key);
    times.push(this.now());
    if (times.length > this.config.maxFailuresPerIp) times.shift();
    this.failures.delete(key);
    this.failures.set(key, times);
    if (this.failures.size > MAX_TRACKED_CLIENTS) this.failures.delete(this.failures.keys().next().value!);
  }

  private recentFailures(key: string): number[] {
    const times = this.failures.get(key);
    if (!times) return [];
    const since = this.now() - this.config.windowMs;
    while (times.length && times[0] <= since) times.shift();
    if (times.length === 0) this.failures.delete(key);
    return times;
  }
}
