// Signs a signed zone's RRsets when its snapshot changes, so answers to queries with DO find their
// RRSIGs made already instead of signing on the packet path. After an incremental change only the
// layers holding changed names are walked (unchanged RRsets are cache hits); after a full build,
// and once an hour, every name is, which also makes again the signatures that are due (less than a
// quarter of their validity left, zone-signer.ts). Work runs in slices between which answering
// goes on, one zone at a time; requests for a zone that is waiting are merged into one.
import type { Logger } from 'pino';
import { nodeRRsets, rrsetRdatas, zoneNameNodes, type NameNode, type ZoneSnapshot } from '../zone-snapshot.js';

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Names handled between yields. */
const SLICE = 256;

/** The names an incremental snapshot added or replaced since its base (zone-snapshot.ts layers). */
function* layeredNodes(zone: ZoneSnapshot): Generator<[string, NameNode]> {
  yield* zone.fixed;
  for (const layer of [zone.older, zone.recent]) for (const [owner, node] of layer) if (node) yield [owner, node];
}

/** Signs every RRset of `names` not signed yet (or due again); resolves with how many names it saw. */
export async function presign(zone: ZoneSnapshot, names: Iterable<[string, NameNode]>, now: () => number, stopped: () => boolean): Promise<number> {
  const signer = zone.signer;
  if (!signer) return 0;
  let n = 0;
  for (const [owner, node] of names) {
    const wire = Buffer.from(owner + zone.apexKey, 'latin1');
    for (const set of nodeRRsets(node)) signer.rrsetSignatures(node, wire, set.type, set.ttl, () => rrsetRdatas(set), now(), 'background');
    if (++n % SLICE === 0) {
      await yieldToEventLoop();
      if (stopped()) break;
    }
  }
  return n;
}

export class Presigner {
  private readonly waiting = new Map<string, { zone: ZoneSnapshot; whole: boolean }>();
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /** Signs `zone` soon: every name when `whole`, else the names changed since its base. */
  schedule(zone: ZoneSnapshot, whole: boolean): void {
    if (this.closed || !zone.signer) return;
    const earlier = this.waiting.get(zone.apexKey);
    // The newest snapshot is signed; an earlier whole request stays whole.
    this.waiting.set(zone.apexKey, { zone, whole: whole || (earlier?.whole ?? false) });
    this.running ??= this.drain();
  }

  /** Resolves once nothing is waiting (tests, shutdown). */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async drain(): Promise<void> {
    try {
      while (!this.closed && this.waiting.size) {
        const [apex, { zone, whole }] = this.waiting.entries().next().value!;
        this.waiting.delete(apex);
        try {
          // A pass over every name renews the shared signatures (zone-signer.ts SharedState).
          if (whole) zone.signer?.beginSharedPass();
          const started = Date.now();
          const names = await presign(zone, whole ? zoneNameNodes(zone) : layeredNodes(zone), this.now, () => this.closed);
          if (whole && !this.closed) {
            zone.signer?.endSharedPass();
            // How long signing a whole zone takes (at start, after a key change, hourly): the time
            // a new node or key needs before answers stop signing on the packet path.
            this.log.info({ zone: zone.apex, names, ms: Date.now() - started }, 'zone signed in the background');
          }
        } catch (err) {
          // The query path still signs what this missed; log and go on with the next zone.
          this.log.warn({ err, zone: zone.apex }, 'signing the zone in the background failed');
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.waiting.clear();
    await this.running;
  }
}
