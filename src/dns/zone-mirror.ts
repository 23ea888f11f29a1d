// How the loading thread's zone snapshots reach the worker threads that answer queries
// (dns-workers.ts), without each worker holding the zone again. A snapshot is posted as its small
// frame (apex records, SOA, settings), its base as a SharedNameIndex (SharedArrayBuffers: posting
// shares them, nothing is copied) built once per base, and its two change layers as deltas: the
// names that changed since the last message, copied (a publish is a few names). The worker
// rebuilds the same layers, so it serves exactly the snapshot the loading thread serves.
import { buildSharedNameIndex, SharedNameIndex, type SharedNameIndexData } from './shared-name-index.js';
import type { NameNode, SnapshotSet, ZoneSnapshot } from './zone-snapshot.js';

type Layer = ReadonlyMap<string, NameNode | null>;

/** A layer as posted: the whole of it (`reset`), or what changed since the last message. */
interface LayerDelta {
  reset: boolean;
  entries: [string, Uint8Array | null][];
}

type Frame = Omit<ZoneSnapshot, 'base' | 'older' | 'recent' | 'signer' | 'signedByLoader'>;

export type ZoneMessage =
  | { kind: 'zone'; apexKey: string; frame: Frame; signed: boolean; base?: SharedNameIndexData; older: LayerDelta; recent: LayerDelta }
  | { kind: 'remove'; apexKey: string };

function layerDelta(prev: Layer | undefined, next: Layer, whole: boolean): LayerDelta {
  if (whole || !prev) return { reset: true, entries: [...next] };
  if (prev === next) return { reset: false, entries: [] };
  // Layers only grow until they are emptied (zone-snapshot.ts applyChanges), so the names whose
  // node is not the one posted before are all that changed.
  if (next.size === 0) return { reset: true, entries: [] };
  const entries: [string, NameNode | null][] = [];
  for (const [key, node] of next) if (prev.get(key) !== node) entries.push([key, node]);
  return { reset: false, entries };
}

/** The loading thread's side: remembers what was posted last, per zone. */
export class ZoneMirror {
  private readonly posted = new Map<string, { zone: ZoneSnapshot; base: SharedNameIndexData }>();

  /** The messages that bring a worker that has seen nothing to `set`. */
  everything(set: SnapshotSet): ZoneMessage[] {
    return [...set.zones.values()].map((zone) => this.message(zone, true));
  }

  /** The message for a zone's new snapshot, relative to what the last call posted. */
  update(zone: ZoneSnapshot): ZoneMessage {
    return this.message(zone, false);
  }

  remove(apexKey: string): ZoneMessage {
    this.posted.delete(apexKey);
    return { kind: 'remove', apexKey };
  }

  private message(zone: ZoneSnapshot, fresh: boolean): ZoneMessage {
    const last = this.posted.get(zone.apexKey);
    const sameBase = last !== undefined && last.zone.base === zone.base;
    const base = sameBase ? last.base : buildSharedNameIndex(zone.base);
    this.posted.set(zone.apexKey, { zone, base });
    const whole = fresh || !sameBase;
    const { base: _b, older, recent, signer, signedByLoader: _s, ...frame } = zone;
    return {
      kind: 'zone',
      apexKey: zone.apexKey,
      frame,
      signed: signer !== undefined,
      base: whole ? base : undefined,
      older: layerDelta(last?.zone.older, older, whole),
      recent: layerDelta(last?.zone.recent, recent, whole),
    };
  }
}

/** Structured clone turns Buffers into plain Uint8Arrays; the answer path reads them as Buffers. */
const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function reviveMap<K>(map: ReadonlyMap<K, Uint8Array>): Map<K, Buffer> {
  const out = new Map<K, Buffer>();
  for (const [key, bytes] of map) out.set(key, asBuffer(bytes));
  return out;
}

function applyLayer(prev: Layer | undefined, delta: LayerDelta): Layer {
  if (!delta.reset && delta.entries.length === 0 && prev) return prev;
  const next = new Map<string, NameNode | null>(delta.reset || !prev ? [] : prev);
  for (const [key, bytes] of delta.entries) next.set(key, bytes ? asBuffer(bytes) : null);
  return next;
}

/** A worker thread's side: the snapshot set rebuilt from the messages, in order. */
export class MirroredZones {
  private set: SnapshotSet = { zones: new Map() };

  current(): SnapshotSet {
    return this.set;
  }

  apply(message: ZoneMessage): void {
    const zones = new Map(this.set.zones);
    if (message.kind === 'remove') {
      zones.delete(message.apexKey);
    } else {
      const prev = zones.get(message.apexKey);
      const f = message.frame;
      const zone: ZoneSnapshot = {
        ...f,
        apexWire: asBuffer(f.apexWire),
        negativeSoa: asBuffer(f.negativeSoa),
        soa: { ...f.soa, wire: asBuffer(f.soa.wire) },
        glue: f.glue ? { wire: asBuffer(f.glue.wire), count: f.glue.count } : null,
        fixed: reviveMap(f.fixed),
        tsigKeys: reviveMap(f.tsigKeys),
        base: message.base ? new SharedNameIndex(message.base) : prev!.base,
        older: applyLayer(message.base ? undefined : prev?.older, message.older),
        recent: applyLayer(message.base ? undefined : prev?.recent, message.recent),
        signedByLoader: message.signed || undefined,
      };
      zones.set(message.apexKey, zone);
    }
    this.set = { zones };
  }
}
