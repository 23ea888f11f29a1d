// How the loading thread's zone snapshots reach the worker threads that answer queries
// (dns-workers.ts), without each worker holding the zone again. A snapshot is posted as its small
// frame (apex records, SOA, settings), its base as a SharedNameIndex (SharedArrayBuffers: posting
// shares them, nothing is copied) built once per base, and its two change layers as deltas: the
// names that changed since the last message, copied (a publish is a few names). The worker
// rebuilds the same layers, so it serves exactly the snapshot the loading thread serves. A signed
// zone's keys are posted when they change (KeyObjects can be), and the worker signs with its own
// signer (dns-worker.ts presigns what each message brings).
import { buildSharedNameIndex, SharedNameIndex, type SharedNameIndexData } from './shared-name-index.js';
import { adoptChunkId } from './shared-chunks.js';
import type { NameNode, SnapshotSet, ZoneSnapshot } from './zone-snapshot.js';
import { ZoneSigner, type SignatureCounts, type SignerKeys } from './dnssec/zone-signer.js';
import type { SharedSignatureData } from './dnssec/shared-signatures.js';

type Layer = ReadonlyMap<string, NameNode | null>;

/** A layer as posted: the whole of it (`reset`), or what changed since the last message. */
interface LayerDelta {
  reset: boolean;
  entries: [string, Uint8Array | null][];
}

type Frame = Omit<ZoneSnapshot, 'base' | 'older' | 'recent' | 'signer'>;

export type ZoneMessage =
  | {
      kind: 'zone';
      apexKey: string;
      frame: Frame;
      /** Unsigned zone: none; signed with the keys posted before: true; new keys: the keys. */
      signer: SignerKeys | boolean;
      base?: SharedNameIndexData;
      older: LayerDelta;
      recent: LayerDelta;
    }
  | { kind: 'remove'; apexKey: string };

/** The shared signatures of a signed zone moved to a larger store or a new generation. */
export interface SignaturesMessage {
  kind: 'signatures';
  apexKey: string;
  keyIdentity: string;
  data: SharedSignatureData;
}

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

  /** What changed in `set` since the last messages were made (zones updated or gone). */
  catchUp(set: SnapshotSet): ZoneMessage[] {
    const messages: ZoneMessage[] = [];
    for (const zone of set.zones.values()) if (this.posted.get(zone.apexKey)?.zone !== zone) messages.push(this.update(zone));
    for (const apexKey of [...this.posted.keys()]) if (!set.zones.has(apexKey)) messages.push(this.remove(apexKey));
    return messages;
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
    const { base: _b, older, recent, signer, ...frame } = zone;
    const sameSigner = !fresh && signer !== undefined && last?.zone.signer === signer;
    return {
      kind: 'zone',
      apexKey: zone.apexKey,
      frame,
      signer: signer ? sameSigner || signer.signerKeys() : false,
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
  /** The chunk objects this thread holds, by id (SharedNameIndexData.chunkIds). */
  private chunks = new Map<number, SharedArrayBuffer>();

  constructor(private readonly counts?: SignatureCounts) {}

  current(): SnapshotSet {
    return this.set;
  }

  /** The chunks as objects this thread already holds where it has them. */
  private index(data: SharedNameIndexData): SharedNameIndex {
    const chunks = data.chunks.map((chunk, i) => this.chunks.get(data.chunkIds[i]) ?? chunk);
    chunks.forEach((chunk, i) => adoptChunkId(chunk, data.chunkIds[i]));
    return new SharedNameIndex({ ...data, chunks });
  }

  /** Forgets chunks no base holds any longer. */
  private pruneChunks(zones: ReadonlyMap<string, ZoneSnapshot>): void {
    const held = new Map<number, SharedArrayBuffer>();
    for (const zone of zones.values()) {
      if (zone.base instanceof SharedNameIndex) zone.base.chunkEntries().forEach(([id, chunk]) => held.set(id, chunk));
    }
    this.chunks = held;
  }

  /** Applies one message; returns the zone it brought and whether every name is new to its signer. */
  apply(message: ZoneMessage): { zone: ZoneSnapshot; whole: boolean } | undefined {
    const zones = new Map(this.set.zones);
    let applied: { zone: ZoneSnapshot; whole: boolean } | undefined;
    if (message.kind === 'remove') {
      zones.delete(message.apexKey);
    } else {
      const prev = zones.get(message.apexKey);
      const f = message.frame;
      const signer =
        message.signer === false ? undefined : message.signer === true ? prev?.signer : ZoneSigner.reader(message.signer, this.counts);
      const zone: ZoneSnapshot = {
        ...f,
        apexWire: asBuffer(f.apexWire),
        negativeSoa: asBuffer(f.negativeSoa),
        soa: { ...f.soa, wire: asBuffer(f.soa.wire) },
        glue: f.glue ? { wire: asBuffer(f.glue.wire), count: f.glue.count } : null,
        fixed: reviveMap(f.fixed),
        tsigKeys: reviveMap(f.tsigKeys),
        base: message.base ? this.index(message.base) : prev!.base,
        older: applyLayer(message.base ? undefined : prev?.older, message.older),
        recent: applyLayer(message.base ? undefined : prev?.recent, message.recent),
        ...(signer ? { signer } : {}),
      };
      zones.set(message.apexKey, zone);
      applied = { zone, whole: message.base !== undefined || typeof message.signer === 'object' };
    }
    this.pruneChunks(zones);
    this.set = { zones };
    return applied;
  }

  /** The loading thread moved a signed zone's shared signatures (SharedSignatures.onMoved). */
  signatures(message: SignaturesMessage): void {
    const signer = this.set.zones.get(message.apexKey)?.signer;
    // Only for the keys they were made with: a rollover may have replaced the signer since.
    if (signer?.keyIdentity === message.keyIdentity) signer.useShared(message.data);
  }
}
