// Response-rate limiting for UDP, as NSD and BIND do it: answers are counted per client prefix
// (/24 for IPv4, /56 for IPv6) and per kind of response, so a spoofed flood aimed at one victim
// cannot turn keypost into an amplifier, while each other network keeps its own allowance.
// Over the rate, responses are dropped, except every `slip`-th one, which goes out truncated
// (TC=1, no records) so a real client behind the prefix retries over TCP, which cannot be spoofed.
// The rate is averaged over `window` seconds: a flood runs up a debt of at most rate × window
// responses, which its prefix works off before it is answered again.
import { BoundedAccounts } from './bounded-accounts.js';
import { ClientPrefixes } from './client-prefix.js';

export interface RrlSettings {
  /** Responses per second per prefix and response kind; 0 turns limiting off. */
  responsesPerSecond: number;
  /** Every slip-th limited response is sent truncated; 0 never, 1 always. */
  slip: number;
  windowSeconds: number;
  ipv4PrefixLength: number;
  ipv6PrefixLength: number;
}


export type RrlVerdict = 'send' | 'drop' | 'slip';

interface Account {
  balance: number;
  lastMs: number;
  limited: number;
}

/** Accounts kept; past this the oldest is forgotten, so a flood of sources cannot grow memory. */
export const MAX_ACCOUNTS = 100_000;

/**
 * Responses of one kind to one prefix within a clock second before an account is opened for them.
 * Nearly every (prefix, name, type) is answered a few times a second at most and can never reach
 * the rate; opening an account for each made ~60,000 objects a second under ordinary load from
 * many resolvers, which outlived the young generation and cost RRL a quarter of the throughput in
 * garbage collection. These are counted in a fixed table instead, by a hash of the account key; a
 * collision only opens an account a little early.
 */
const SCREEN_RESPONSES = 16;
const SCREEN_SLOTS = 1 << 16;

export class ResponseRateLimiter {
  private readonly accounts = new BoundedAccounts<Account>(MAX_ACCOUNTS);
  private readonly prefixes: ClientPrefixes;
  private readonly rate: number;
  private readonly floor: number;
  private readonly screenResponses: number;
  private readonly screenCounts = new Uint16Array(SCREEN_SLOTS);
  private readonly screenSeconds = new Float64Array(SCREEN_SLOTS);
  /** Per process, so that which keys share a slot cannot be worked out from outside. */
  private readonly seed = (Math.random() * 0x100000000) >>> 0;

  constructor(private readonly settings: RrlSettings) {
    this.rate = settings.responsesPerSecond;
    // Never more than the rate, so a rate below the screen is still enforced from the first response.
    this.screenResponses = Math.max(1, Math.min(SCREEN_RESPONSES, Math.floor(settings.responsesPerSecond)));
    this.floor = -settings.responsesPerSecond * settings.windowSeconds;
    this.prefixes = new ClientPrefixes(settings);
  }

  /** The network a client belongs to for accounting, as a short string. */
  prefix(remote: string): string {
    return this.prefixes.of(remote);
  }

  /** Counts one response of kind `identity` to `remote` and says what to do with it. */
  check(remote: string, identity: string, nowMs: number): RrlVerdict {
    const key = `${this.prefix(remote)}/${identity}`;
    let account = this.accounts.get(key);
    if (!account) {
      const seen = this.screen(key, nowMs);
      if (seen < this.screenResponses) return 'send';
      // The responses screened this second are debited now, all but the one counted below.
      account = { balance: this.rate - (seen - 1), lastMs: nowMs, limited: 0 };
      this.accounts.add(key, account);
    } else {
      // Credit accrues at the rate, up to one second's worth.
      account.balance = Math.min(this.rate, account.balance + ((nowMs - account.lastMs) * this.rate) / 1000);
      account.lastMs = nowMs;
    }
    account.balance = Math.max(this.floor, account.balance - 1);
    if (account.balance >= 0) return 'send';
    account.limited++;
    return this.settings.slip > 0 && account.limited % this.settings.slip === 0 ? 'slip' : 'drop';
  }

  /** Counts a response for `key` in its screening slot; how many that slot has had this second. */
  private screen(key: string, nowMs: number): number {
    // FNV-1a over the key's UTF-16 code units.
    let h = this.seed ^ 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    const slot = (h >>> 0) & (SCREEN_SLOTS - 1);
    const second = Math.floor(nowMs / 1000);
    if (this.screenSeconds[slot] !== second) {
      this.screenSeconds[slot] = second;
      this.screenCounts[slot] = 0;
    }
    return ++this.screenCounts[slot];
  }

  /** Accounts currently held (metrics, tests). */
  get size(): number {
    return this.accounts.size;
  }
}
