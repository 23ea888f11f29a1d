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

export class ResponseRateLimiter {
  private readonly accounts = new BoundedAccounts<Account>(MAX_ACCOUNTS);
  private readonly prefixes: ClientPrefixes;
  private readonly rate: number;
  private readonly floor: number;

  constructor(private readonly settings: RrlSettings) {
    this.rate = settings.responsesPerSecond;
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
      account = { balance: this.rate, lastMs: nowMs, limited: 0 };
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

  /** Accounts currently held (metrics, tests). */
  get size(): number {
    return this.accounts.size;
  }
}
