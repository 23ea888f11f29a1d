// The directory's view of the read model (src/published/): address lookups for VKS by-email, HKP,
// WKD and /v1/records, the armour each answer carries, and a count of where lookups were answered.
// The directory keeps no copy of what is published; the model is the only one.
import { Counter, type Registry } from 'prom-client';
import type { HashedLabel, PublishedAddress, PublishedModel, PublishedZone } from '../published/model.js';
import { armor } from '../protocol/armor.js';

export type { PublishedAddress, PublishedZone } from '../published/model.js';

function lookupCounter(metrics: Registry | undefined): Counter<'source'> | undefined {
  if (!metrics) return undefined;
  const name = 'keypost_directory_address_lookups_total';
  return (
    (metrics.getSingleMetric(name) as Counter<'source'> | undefined) ??
    new Counter({
      name,
      help: 'Address lookups by where they were answered from: memory (cache) or after reading the database (database)',
      labelNames: ['source'],
      registers: [metrics],
    })
  );
}

export class PublishedLookups {
  /**
   * Armour of each entry, made when the model reads it: VKS, HKP and /v1/records all answer
   * armour, and re-encoding per request was a measurable share of a lookup. Weak, so an entry the
   * model replaces takes its armour with it. Only the directory pays for it (a DNS-only node never
   * armours).
   */
  private readonly armoured = new WeakMap<PublishedAddress, string>();
  private readonly fromMemory: { inc(): void } | undefined;
  private readonly afterRead: { inc(): void } | undefined;
  private readonly unwatch: () => void;

  constructor(
    readonly model: PublishedModel,
    metrics?: Registry,
  ) {
    const counter = lookupCounter(metrics);
    this.fromMemory = counter?.labels('cache');
    this.afterRead = counter?.labels('database');
    this.unwatch = model.watch((update) => {
      if (!update.served) return;
      if (update.changes === null) for (const entry of update.served.addresses.values()) this.armoredKey(entry);
      else for (const change of update.changes) if (change.entry) this.armoredKey(change.entry);
    });
  }

  close(): void {
    this.unwatch();
  }

  /**
   * From memory: the entry, null when the address is certainly not published, or undefined when
   * only a read can tell (then call address()). Lets the hot routes skip the promise machinery.
   */
  peek(address: string): PublishedAddress | null | undefined {
    const known = this.model.peek(address);
    if (known !== undefined) this.fromMemory?.inc();
    return known;
  }

  /** The published address `address` (canonical form), or undefined. */
  async address(address: string): Promise<PublishedAddress | undefined> {
    const known = this.peek(address);
    if (known !== undefined) return known ?? undefined;
    this.afterRead?.inc();
    return this.model.address(address);
  }

  /** The served zone from memory, valid right after peek() answered for an address in it. */
  peekZone(name: string): PublishedZone | undefined {
    return this.model.peekZone(name);
  }

  zone(name: string): Promise<PublishedZone | undefined> {
    return this.model.zone(name);
  }

  byHashedLabel(domain: string, kind: HashedLabel, label: string): Promise<PublishedAddress | undefined> {
    return this.model.byHashedLabel(domain, kind, label);
  }

  /** The entry's minimal key, armoured. */
  armoredKey(entry: PublishedAddress): string {
    let text = this.armoured.get(entry);
    if (text === undefined) this.armoured.set(entry, (text = armor(entry.minimalKey)));
    return text;
  }
}
