// The read model of what is published: for each served zone, its policy and every published
// address with its minimal key, held in memory and refreshed from the change log. DNS, the
// directory and the gateway all read this one model; none of them queries the published tables.
//
// Flows run one way:
//   write (addresses/keys/domains + change log + serial bump, one transaction)
//     -> change feed names the zone (NOTIFY, backed by a poll)
//     -> the model reads only the addresses the change log names (zone-reader.ts)
//     -> watchers (DNS) get the changed entries and re-encode only those names.
//
// Freshness: a change notification marks the zone stale, and readers of a stale zone wait for the
// read that follows (a few rows), so a read after a notification never answers from before it.
// A node's own writes do not wait for the notification at all: the write path calls catchUp()
// before it answers (issue 15 item 17), which compares serials and reads what moved.
//
// Zones load on first use, so a node that never asks about a zone never holds it; loadAll() (DNS)
// loads every zone and keeps loading new ones as they are announced.
import type { Logger } from 'pino';
import type { ChangeFeed } from '../db/change-feed.js';
import type { Db } from '../db/database.js';
import { sameZone, type PublishedAddress, type PublishedZone } from './entries.js';
import { addressSetting } from '../protocol/precedence.js';
import { NO_REQUIREMENT, type Requirement } from '../protocol/requirement.js';
import { CHANGE_RETENTION_SECONDS, pruneChangeLog, readZone, servedZoneSerials, type AddressChange } from './zone-reader.js';

export type { AddressChange } from './zone-reader.js';
export type { PublishedAddress, PublishedZone } from './entries.js';

/** A served zone as held in memory. `addresses` is updated in place: iterate it synchronously. */
export interface ServedZone {
  readonly zone: PublishedZone;
  readonly addresses: ReadonlyMap<string, PublishedAddress>;
}

export interface ZoneUpdate {
  name: string;
  /** The zone after the update, or null when it is no longer served. */
  served: ServedZone | null;
  /** The zone entry before the update; undefined when the zone was not held before. */
  previous: PublishedZone | undefined;
  /** The addresses that changed, or null when every address may have (a full read). */
  changes: AddressChange[] | null;
}

export interface PublishedModelOptions {
  db: Db;
  changeFeed: ChangeFeed;
  log: Logger;
  /** Stamp price for zones and addresses that set none. */
  defaultPowBits: number;
}

/** A zone not read for this long is read in full: the change log it would need may be pruned. */
const FULL_READ_AFTER_MS = (CHANGE_RETENTION_SECONDS / 2) * 1000;
const PRUNE_INTERVAL_MS = 10 * 60 * 1000;
const RETRY_AFTER_FAILURE_MS = 1000;
/**
 * After a read, changes that arrive within this window are gathered into the next one. The first
 * change after a quiet period is read at once; under a stream of publishes (each with its own
 * NOTIFY) this bounds the work to a few reads a second per zone.
 */
const REFRESH_GATHER_MS = 100;

/**
 * The hashed labels an address is also looked up by: WKD's (draft-koch-openpgp-webkey-service
 * §3.1) and the OPENPGPKEY owner label (RFC 7929 §3), which the log's auditor names addresses by.
 */
export type HashedLabel = 'wkd' | 'openpgpkey';
const labelOf: Record<HashedLabel, (entry: PublishedAddress) => string> = {
  wkd: (entry) => entry.wkdLabel,
  openpgpkey: (entry) => entry.openpgpkeyLabel,
};

interface Held {
  zone: PublishedZone;
  addresses: Map<string, PublishedAddress>;
  /** Hashed label -> entry, each built on the first lookup by it in the zone and kept up to date after. */
  byLabel: Partial<Record<HashedLabel, Map<string, PublishedAddress>>>;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

class ZoneState {
  held: Held | undefined;
  /** The last read found no such zone. */
  absent = false;
  dbSnapshot: string | undefined;
  readAt = 0;
  /** Bumped by every change notification for the zone. */
  generation = 0;
  /** The generation the last completed read started at (-1: never read). */
  readGeneration = -1;
  running: Promise<void> | undefined;
  again = false;
  waiters: Waiter[] = [];

  get fresh(): boolean {
    return this.readGeneration === this.generation;
  }
}

const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1);

export class PublishedModel {
  private readonly zones = new Map<string, ZoneState>();
  /** Names of the served zones, loaded on first use; a notified name is added until a read denies it. */
  private names: Set<string> | undefined;
  private namesLoad: Promise<void> | undefined;
  /** Zones announced while the names were being read (the read may predate their commit). */
  private readonly announced = new Set<string>();
  private eager = false;
  private closed = false;
  private readonly watchers = new Set<(update: ZoneUpdate) => void>();
  private readonly unsubscribe: () => void;
  private pruneTimer: NodeJS.Timeout | undefined;
  readonly defaultPowBits: number;

  constructor(private readonly options: PublishedModelOptions) {
    this.defaultPowBits = options.defaultPowBits;
    this.unsubscribe = options.changeFeed.onZoneChange((zone) => this.changed(zone));
  }

  // ---- reading -------------------------------------------------------------------------------

  /**
   * From memory only: the entry, null when the address is certainly not published, or undefined
   * when the zone must be read first (then call address()). Lets hot paths skip a promise.
   */
  peek(address: string): PublishedAddress | null | undefined {
    const names = this.names;
    if (!names) return undefined;
    const zone = domainOf(address);
    if (!names.has(zone)) return null;
    const state = this.zones.get(zone);
    if (!state?.held || !state.fresh) return undefined;
    return state.held.addresses.get(address) ?? null;
  }

  /** The served zone from memory, or undefined when it is not held fresh (then call zone()). */
  peekZone(name: string): PublishedZone | undefined {
    const state = this.zones.get(name);
    return state?.fresh ? state.held?.zone : undefined;
  }

  /** The published address (canonical form), or undefined. */
  async address(address: string): Promise<PublishedAddress | undefined> {
    const held = await this.freshZone(domainOf(address));
    return held?.addresses.get(address);
  }

  /** The served zone `name`, or undefined when keypost does not serve it. */
  async zone(name: string): Promise<PublishedZone | undefined> {
    return (await this.freshZone(name))?.zone;
  }

  /** Every address of a zone, for a full re-encode; undefined when the zone is not served. */
  async served(name: string): Promise<ServedZone | undefined> {
    return this.freshZone(name);
  }

  /** The published address of `domain` whose hashed label of that kind is `label`. */
  async byHashedLabel(domain: string, kind: HashedLabel, label: string): Promise<PublishedAddress | undefined> {
    const held = await this.freshZone(domain);
    if (!held) return undefined;
    const index = (held.byLabel[kind] ??= new Map([...held.addresses.values()].map((a) => [labelOf[kind](a), a])));
    return index.get(label);
  }

  /** The stamp price of a published address (address, else zone, else default: src/protocol/precedence.ts). */
  price(address: PublishedAddress, zone: PublishedZone): number {
    return addressSetting(address.powBits, zone.powBits, this.defaultPowBits);
  }

  /** The stamp price of a zone's addresses that set none. */
  zonePrice(zone: PublishedZone): number {
    return addressSetting(null, zone.powBits, this.defaultPowBits);
  }

  /** What protection mail for a published address must carry (address, else zone, else none). */
  requirement(address: PublishedAddress, zone: PublishedZone): Requirement {
    return addressSetting(address.requirement, zone.requirement, NO_REQUIREMENT);
  }

  endpoint(address: PublishedAddress, zone: PublishedZone): string | null {
    return addressSetting(address.endpoint, zone.endpoint, null);
  }

  nextHop(address: PublishedAddress, zone: PublishedZone): string | null {
    return addressSetting(address.nextHop, zone.nextHop, null);
  }

  // ---- keeping it fresh ------------------------------------------------------------------------

  /**
   * Calls `listener` after every read that changed a held zone, synchronously, before any reader
   * sees the new state answered. DNS re-encodes the changed names here.
   */
  watch(listener: (update: ZoneUpdate) => void): () => void {
    this.watchers.add(listener);
    // A watcher that comes late first gets what is already held, as if each zone had just been read.
    for (const [name, state] of this.zones) {
      if (state.held) listener({ name, served: state.held, previous: undefined, changes: null });
    }
    return () => this.watchers.delete(listener);
  }

  /** Reads every served zone now, and from then on every zone the change feed announces. */
  async loadAll(): Promise<void> {
    this.eager = true;
    await this.loadNames();
    await Promise.all([...this.names!].map((name) => this.freshZone(name).catch((err) => this.options.log.warn({ err, zone: name }, 'reading the zone failed; retrying'))));
  }

  /**
   * Brings every zone this node holds up to what is committed now. The write path calls it after
   * its transaction commits and before it answers, so the node's own next read (API, DNS,
   * gateway) shows the write without waiting for the change feed (issue 15 item 17).
   */
  async catchUp(): Promise<void> {
    if (!this.names) return; // nothing held yet: the first read will load what is committed
    const serials = await servedZoneSerials(this.options.db);
    const moved: string[] = [];
    for (const [name, serial] of serials) {
      const state = this.zones.get(name);
      if (!this.names.has(name) || (state && (state.absent || (state.held && state.held.zone.serial !== serial)))) moved.push(name);
    }
    for (const name of this.names) if (!serials.has(name)) moved.push(name);
    for (const name of moved) this.changed(name);
    await Promise.all(moved.map((name) => (this.zones.get(name)?.held || this.eager ? this.freshZone(name) : undefined)));
  }

  start(): void {
    this.pruneTimer = setInterval(() => {
      pruneChangeLog(this.options.db).catch((err) => this.options.log.warn({ err }, 'pruning the change log failed'));
    }, PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.watchers.clear();
    await Promise.all([...this.zones.values()].map((s) => s.running));
    this.zones.clear();
  }

  /** A change notification (or a moved serial) for `name`. */
  private changed(name: string): void {
    if (this.closed) return;
    let state = this.zones.get(name);
    if (!state) {
      if (!this.names && !this.eager) {
        // Nothing read yet: the first read sees the change, unless it is already running.
        if (this.namesLoad) this.announced.add(name);
        return;
      }
      this.zones.set(name, (state = new ZoneState()));
    }
    state.generation++;
    this.names?.add(name);
    if (state.held || this.eager) void this.schedule(name).catch(() => undefined);
  }

  private loadNames(): Promise<void> {
    this.namesLoad ??= servedZoneSerials(this.options.db).then(
      (serials) => {
        // Names announced while this ran stay candidates until their own read.
        this.names = new Set([...serials.keys(), ...this.announced]);
        this.announced.clear();
      },
      (err) => {
        this.namesLoad = undefined;
        throw err;
      },
    );
    return this.namesLoad;
  }

  /** The zone's held state, read first when it is not fresh; undefined when it is not served. */
  private async freshZone(name: string): Promise<Held | undefined> {
    if (!this.names) await this.loadNames();
    if (!this.names!.has(name)) return undefined;
    let state = this.zones.get(name);
    if (!state) this.zones.set(name, (state = new ZoneState()));
    while (!state.fresh) {
      if (this.closed) throw new Error('the read model is closed');
      await this.schedule(name);
    }
    return state.held;
  }

  /**
   * Coalesces reads: one runs per zone, and one more follows if changes came in meanwhile.
   * Resolves when the next read has finished (rejects when it failed). A held zone that fails to
   * read keeps retrying in the background, so DNS recovers without a reader asking.
   */
  private schedule(name: string): Promise<void> {
    let state = this.zones.get(name);
    if (!state) this.zones.set(name, (state = new ZoneState()));
    const s = state;
    const attempted = new Promise<void>((resolve, reject) => s.waiters.push({ resolve, reject }));
    if (s.running) {
      s.again = true;
      return attempted;
    }
    s.running = (async () => {
      do {
        s.again = false;
        const waiters = s.waiters.splice(0);
        try {
          await this.readOnce(name, s);
          waiters.forEach((w) => w.resolve());
          if (s.again && s.held && !this.closed) await new Promise((r) => setTimeout(r, REFRESH_GATHER_MS));
        } catch (err) {
          waiters.forEach((w) => w.reject(err));
          if (this.closed || !(s.held || this.eager)) break;
          this.options.log.warn({ err, zone: name }, 'reading the zone failed; retrying');
          await new Promise((r) => setTimeout(r, RETRY_AFTER_FAILURE_MS));
          s.again = true;
        }
      } while ((s.again || s.waiters.length) && !this.closed);
      s.running = undefined;
      // Left only after a failure or on close: their callers look at freshness again and retry.
      s.waiters.splice(0).forEach((w) => w.resolve());
    })();
    return attempted;
  }

  private async readOnce(name: string, state: ZoneState): Promise<void> {
    const generation = state.generation;
    const incremental = state.held !== undefined && state.dbSnapshot !== undefined && Date.now() - state.readAt < FULL_READ_AFTER_MS;
    const read = await readZone(this.options.db, name, incremental ? state.dbSnapshot : undefined);
    if (this.closed) return;
    state.readGeneration = generation;
    state.readAt = Date.now();
    const previous = state.held?.zone;
    if (!read) {
      state.held = undefined;
      state.absent = true;
      state.dbSnapshot = undefined;
      this.names?.delete(name);
      if (previous) this.emit({ name, served: null, previous, changes: [] });
      return;
    }
    state.absent = false;
    state.dbSnapshot = read.dbSnapshot;
    this.names?.add(name);
    if (read.kind === 'full') {
      state.held = { zone: read.zone, addresses: read.addresses, byLabel: {} };
      this.emit({ name, served: state.held, previous, changes: null });
      return;
    }
    const held = state.held!;
    if (read.changes.length === 0 && sameZone(held.zone, read.zone)) return;
    held.zone = read.zone;
    for (const change of read.changes) {
      const before = held.addresses.get(change.address);
      for (const [kind, index] of Object.entries(held.byLabel) as [HashedLabel, Map<string, PublishedAddress>][]) {
        if (before && index.get(labelOf[kind](before)) === before) index.delete(labelOf[kind](before));
        if (change.entry) index.set(labelOf[kind](change.entry), change.entry);
      }
      if (change.entry) {
        held.addresses.set(change.address, change.entry);
      } else {
        held.addresses.delete(change.address);
      }
    }
    this.emit({ name, served: held, previous, changes: read.changes });
  }

  private emit(update: ZoneUpdate): void {
    for (const watcher of this.watchers) {
      try {
        watcher(update);
      } catch (err) {
        this.options.log.error({ err, zone: update.name }, 'a read-model watcher failed');
      }
    }
  }
}

export function createPublishedModel(options: PublishedModelOptions): PublishedModel {
  return new PublishedModel(options);
}
