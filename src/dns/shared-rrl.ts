// Response-rate limiting (rrl.ts) with its accounts in a SharedArrayBuffer, so that when several
// threads answer UDP (dns-workers.ts) a prefix has one allowance, whichever thread the kernel
// hands its datagrams to. Accounts live in a fixed table of MAX_ACCOUNTS slots, found by a hash of
// prefix and kind of response; a new account takes over its slot, so memory is bounded as in
// rrl.ts (there the oldest account goes, here the one in the way). Each slot is updated under a
// small spin lock (Atomics.compareExchange), held for a few arithmetic operations.
//
// rrl.ts evicts through a ring (bounded-accounts.ts) and screens responses before it opens an
// account, both because its accounts are objects in a Map: deleting from a full Map cost tens of
// microseconds, and one object per (prefix, name, type) cost garbage collection. Neither applies
// to this table: taking over a slot is O(1) and allocates nothing, so it opens an account on the
// first response, and needs no screening table beside it.
import { ClientPrefixes } from './client-prefix.js';
import { MAX_ACCOUNTS, type RrlSettings, type RrlVerdict } from './rrl.js';

// Per slot, as Float64: hash tag, balance, last update (ms), limited count; and an Int32 lock.
const FIELDS = 4;

export interface SharedRrlData {
  settings: RrlSettings;
  /**
   * Made per process and shared by its threads: with a hash anyone could compute, a spoofed flood
   * from keys that land in a victim prefix's slot would keep taking the slot over and wipe the
   * debt the victim's account ran up, and the reflection would never be limited.
   */
  seed: number;
  accounts: SharedArrayBuffer;
  locks: SharedArrayBuffer;
}

export function sharedRrlData(settings: RrlSettings): SharedRrlData {
  return {
    settings,
    seed: (Math.random() * 0x100000000) >>> 0,
    accounts: new SharedArrayBuffer(MAX_ACCOUNTS * FIELDS * Float64Array.BYTES_PER_ELEMENT),
    locks: new SharedArrayBuffer(MAX_ACCOUNTS * Int32Array.BYTES_PER_ELEMENT),
  };
}

/** FNV-1a over the key's UTF-16 code units, from a seeded start. */
function hash(seed: number, key: string): number {
  let h = seed ^ 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class SharedRateLimiter {
  private readonly accounts: Float64Array;
  private readonly locks: Int32Array;
  private readonly prefixes: ClientPrefixes;
  private readonly rate: number;
  private readonly floor: number;

  constructor(private readonly data: SharedRrlData) {
    this.accounts = new Float64Array(data.accounts);
    this.locks = new Int32Array(data.locks);
    this.prefixes = new ClientPrefixes(data.settings);
    this.rate = data.settings.responsesPerSecond;
    this.floor = -data.settings.responsesPerSecond * data.settings.windowSeconds;
  }

  /** As ResponseRateLimiter.check, on the account every thread shares. */
  check(remote: string, identity: string, nowMs: number): RrlVerdict {
    const key = `${this.prefixes.of(remote)}/${identity}`;
    const h = hash(this.data.seed, key);
    // The tag is the hash plus one, so that an empty slot (0) never matches.
    const tag = h + 1;
    const slot = h % MAX_ACCOUNTS;
    const o = slot * FIELDS;
    const a = this.accounts;
    while (Atomics.compareExchange(this.locks, slot, 0, 1) !== 0);
    try {
      if (a[o] !== tag) {
        a[o] = tag;
        a[o + 1] = this.rate;
        a[o + 2] = nowMs;
        a[o + 3] = 0;
      } else {
        // Credit accrues at the rate, up to one second's worth.
        a[o + 1] = Math.min(this.rate, a[o + 1] + ((nowMs - a[o + 2]) * this.rate) / 1000);
        a[o + 2] = nowMs;
      }
      a[o + 1] = Math.max(this.floor, a[o + 1] - 1);
      if (a[o + 1] >= 0) return 'send';
      const limited = ++a[o + 3];
      const slip = this.data.settings.slip;
      return slip > 0 && limited % slip === 0 ? 'slip' : 'drop';
    } finally {
      Atomics.store(this.locks, slot, 0);
    }
  }
}
