// Signs one zone's answers online with its keys, opened once from the read model's sealed copy.
// Signatures are cached: per RRset (keyed by where its name's encoded node lies, buffer and
// offset, which a snapshot never rewrites, so a changed name is a new key and the old entry goes
// with its buffer; the position rather than the view object, because a worker thread's shared
// name index (shared-name-index.ts) makes a new view of the same bytes on each lookup), and per denial NSEC in a
// bounded cache. Each is made again once less than a quarter of its validity is left, minus a
// random share of an eighth, so that signatures made together do not all expire together.
import type { ZoneSigningKey } from '../../published/entries.js';
import type { SealedBox } from '../../secrets/sealed-box.js';
import { nameKey } from '../../protocol/dns-wire.js';
import { Arena } from '../arena.js';
import { importPrivateKey, isDnssecAlgorithm } from './algorithms.js';
import { signingKeyContext } from './key-store.js';
import { BoundedCache } from './signature-cache.js';
import { DNSSEC_TYPE } from './dnskey.js';
import { rrsigRdata, type RrsigKey } from './rrsig.js';
import { rrsigRecordRdatas, rrsigRecordsLength, writeRrsigRecords } from './rrsig-records.js';
import { KEY_SET_TYPES, keyDuties } from './key-states.js';
import { SharedSignatures, type SharedSignatureData } from './shared-signatures.js';
import { chunkIdFor, knownChunkId } from '../shared-chunks.js';

/** A zone key opened for signing, with what its rollover state lets it sign. */
export interface ZoneRrsigKey extends RrsigKey {
  signsKeySet: boolean;
  signsData: boolean;
}

export interface SignaturePolicy {
  /** RRSIG lifetime from the moment of signing. */
  validitySeconds: number;
  /** Inception this far in the past, for validators whose clocks run behind. */
  backdateSeconds: number;
  /** Denial signatures kept (one per distinct missing name or NODATA owner). */
  denialCacheSize: number;
  random: () => number;
}

export const DEFAULT_SIGNATURE_POLICY: SignaturePolicy = {
  validitySeconds: 14 * 86_400,
  backdateSeconds: 3600,
  denialCacheSize: 20_000,
  random: Math.random,
};

/** Where signatures are made: answering a query, or off the query path (presign, transfers). */
export type SigningPath = 'query' | 'background';

/** Running totals of signatures made, by path (DnsCounters carries them to /metrics). */
export interface SignatureCounts {
  signaturesOnQuery: number;
  signaturesInBackground: number;
}

interface Signatures {
  /** RRSIG RDATAs, one per key that signs this type: views into `records`. */
  rdatas: Buffer[];
  /**
   * The same as RRSIG records in answer form, their owner a pointer to the question name (offset
   * 12) and their TTL the original TTL: what a positive answer with DO appends as it is.
   */
  records: Buffer;
  /** The original TTL they cover; a different TTL needs new signatures. */
  ttl: number;
  refreshAt: number;
}

export interface DenialSignatures {
  nsec: Buffer;
  rrsigs: Buffer[];
}

/** What a worker thread needs to sign as this signer does (KeyObjects can be posted). */
export interface SignerKeys {
  apex: string;
  keys: readonly ZoneRrsigKey[];
  keyIdentity: string;
  /** The signatures the loading thread shares (SharedSignatures), when it does. */
  signatures?: SharedSignatureData;
}

/**
 * Signatures over RRsets of shared nodes, kept in shared memory (shared-signatures.ts): written
 * by the loading thread, read by workers. The writer fills `next` during a pass over every name
 * (a new base, the hourly pass), copying from `current` what is still good, so that signatures of
 * names gone are dropped; at the end of the pass `next` becomes `current` and readers are told.
 */
interface SharedState {
  writer: boolean;
  current: SharedSignatures;
  next?: SharedSignatures;
}

export class ZoneSigner {
  /** Per node buffer, per offset of the node in it, per RRset type. */
  private readonly rrsets = new WeakMap<ArrayBufferLike, Map<number, Map<number, Signatures>>>();
  private readonly denials: BoundedCache<string, Signatures & { nsec: Buffer }>;
  private readonly apexWire: Buffer;
  /** RFC 6781 §4.1: the keys a rollover step has sign the DNSKEY/CDS/CDNSKEY RRsets, and the rest. */
  private readonly keySetKeys: readonly RrsigKey[];
  private readonly dataKeys: readonly RrsigKey[];
  /** 64 KiB chunks: a small zone's signatures fit in one, a large zone's waste little. */
  private readonly arena = new Arena({ chunkSize: 1 << 16 });
  /**
   * Signatures over RRsets made for a signed transfer rather than held in a snapshot node (the
   * NSEC3 chain, NSEC3PARAM, ZONEMD), by owner, type, TTL and content. Two generations: a new
   * transfer build starts one and keeps what it reuses from the last, so memory holds at most
   * two chains however often the zone changes.
   */
  private built = new Map<string, Signatures>();
  private building = new Map<string, Signatures>();
  private shared?: SharedState;
  /** Called on the loading thread with what readers must switch to (dns-workers.ts posts it). */
  onSharedMoved?: (data: SharedSignatureData) => void;

  constructor(
    readonly apex: string,
    private readonly keys: readonly ZoneRrsigKey[],
    /** Identifies the keys, to tell whether a newer zone read can keep this signer. */
    readonly keyIdentity: string,
    private readonly policy: SignaturePolicy = DEFAULT_SIGNATURE_POLICY,
    private readonly counts: SignatureCounts = { signaturesOnQuery: 0, signaturesInBackground: 0 },
  ) {
    this.apexWire = Buffer.from(nameKey(apex), 'latin1');
    this.keySetKeys = keys.filter((k) => k.signsKeySet);
    this.dataKeys = keys.filter((k) => k.signsData);
    this.denials = new BoundedCache(policy.denialCacheSize);
  }

  /** RRSIG RDATAs by every key whose duty covers `type`, not kept anywhere yet. */
  private signRdatas(ownerWire: Buffer, type: number, ttl: number, rdatas: readonly Buffer[], now: number, path: SigningPath): Omit<Signatures, 'records'> {
    const keys = KEY_SET_TYPES.has(type) ? this.keySetKeys : this.dataKeys;
    if (path === 'query') this.counts.signaturesOnQuery += keys.length;
    else this.counts.signaturesInBackground += keys.length;
    const { validitySeconds, backdateSeconds, random } = this.policy;
    const fields = { ownerWire, type, originalTtl: ttl, inception: now - backdateSeconds, expiration: now + validitySeconds, signerWire: this.apexWire };
    const refreshAt = fields.expiration - Math.floor(validitySeconds / 4) - Math.floor(random() * (validitySeconds / 8));
    return { rdatas: keys.map((key) => rrsigRdata(key, fields, rdatas)), ttl, refreshAt };
  }

  /** Signed and kept in this signer's arena, with the records in answer form beside them. */
  private sign(ownerWire: Buffer, type: number, ttl: number, rdatas: readonly Buffer[], now: number, path: SigningPath): Signatures {
    const made = this.signRdatas(ownerWire, type, ttl, rdatas, now, path);
    // Kept for up to weeks: in the signer's arena rather than in slabs of Node's buffer pool.
    const records = this.arena.take(rrsigRecordsLength(made.rdatas));
    writeRrsigRecords(records, made.rdatas, ttl);
    return { rdatas: rrsigRecordRdatas(records), records, ttl, refreshAt: made.refreshAt };
  }

  /** The keys, for a worker thread's own signer (zone-mirror.ts). */
  signerKeys(): SignerKeys {
    return { apex: this.apex, keys: this.keys, keyIdentity: this.keyIdentity, signatures: this.shared?.current.shared };
  }

  /** A worker thread's signer: signs what the shared signatures lack itself, denials always. */
  static reader(keys: SignerKeys, counts?: SignatureCounts): ZoneSigner {
    const signer = new ZoneSigner(keys.apex, keys.keys, keys.keyIdentity, undefined, counts);
    if (keys.signatures) signer.useShared(keys.signatures);
    return signer;
  }

  /** On the loading thread: keep signatures of shared nodes where workers read them. */
  shareSignatures(): void {
    if (this.shared) return;
    const current = SharedSignatures.create();
    this.shared = { writer: true, current };
    current.onMoved = (data) => this.onSharedMoved?.(data);
  }

  /** On a worker thread: read signatures from the store the loading thread moved to. */
  useShared(data: SharedSignatureData): void {
    if (this.shared) this.shared.current.use(data);
    else this.shared = { writer: false, current: new SharedSignatures(data) };
  }

  /** The writer starts a pass over every name (see SharedState). */
  beginSharedPass(): void {
    if (this.shared?.writer) this.shared.next = SharedSignatures.create();
  }

  /** The pass ended: its store is the one readers use from now on. */
  endSharedPass(): void {
    const shared = this.shared;
    if (!shared?.writer || !shared.next) return;
    shared.current.onMoved = undefined;
    shared.current = shared.next;
    shared.next = undefined;
    shared.current.onMoved = (data) => this.onSharedMoved?.(data);
    this.onSharedMoved?.(shared.current.shared);
  }

  /** RRSIGs from the shared store, or made and stored there (writer); undefined to go on. */
  private sharedSignatures(holder: Uint8Array, ownerWire: Buffer, type: number, ttl: number, rdatas: () => readonly Buffer[], now: number, path: SigningPath): Signatures | undefined {
    const shared = this.shared!;
    const chunk = shared.writer ? chunkIdFor(holder.buffer as SharedArrayBuffer) : knownChunkId(holder.buffer as SharedArrayBuffer);
    if (chunk === undefined) return undefined;
    const offset = holder.byteOffset;
    const target = shared.next ?? shared.current;
    let found = target.get(chunk, offset, type);
    const good = (f: typeof found): f is NonNullable<typeof found> => f !== undefined && f.ttl === ttl && now < f.refreshAt;
    if (!good(found) && shared.next && shared.writer) {
      const kept = shared.current.get(chunk, offset, type);
      if (good(kept)) {
        shared.next.put(chunk, offset, type, kept);
        found = kept;
      }
    }
    if (good(found)) return found;
    if (!shared.writer) return undefined;
    // Kept in the shared store alone (in answer form there too), not also in this signer's arena.
    target.put(chunk, offset, type, this.signRdatas(ownerWire, type, ttl, rdatas(), now, path));
    return target.get(chunk, offset, type);
  }

  /**
   * RRSIGs over the RRset of `type` held in `holder` (its name's encoded node), owned by
   * `ownerWire` (lowercased wire). `rdatas` is only called when signing is needed.
   */
  rrsetSignatures(holder: Uint8Array, ownerWire: Buffer, type: number, ttl: number, rdatas: () => readonly Buffer[], now: number, path: SigningPath = 'query'): Buffer[] {
    return this.rrsetEntry(holder, ownerWire, type, ttl, rdatas, now, path).rdatas;
  }

  /** The same signatures as answer-section records owned by the question name, and their count. */
  rrsetSignatureRecords(holder: Uint8Array, ownerWire: Buffer, type: number, ttl: number, rdatas: () => readonly Buffer[], now: number): { wire: Buffer; count: number } {
    const entry = this.rrsetEntry(holder, ownerWire, type, ttl, rdatas, now, 'query');
    return { wire: entry.records, count: entry.rdatas.length };
  }

  private rrsetEntry(holder: Uint8Array, ownerWire: Buffer, type: number, ttl: number, rdatas: () => readonly Buffer[], now: number, path: SigningPath): Signatures {
    if (this.shared && holder.buffer instanceof SharedArrayBuffer) {
      const shared = this.sharedSignatures(holder, ownerWire, type, ttl, rdatas, now, path);
      if (shared) return shared;
    }
    let byOffset = this.rrsets.get(holder.buffer);
    if (!byOffset) this.rrsets.set(holder.buffer, (byOffset = new Map()));
    let byType = byOffset.get(holder.byteOffset);
    if (!byType) byOffset.set(holder.byteOffset, (byType = new Map()));
    const cached = byType.get(type);
    if (cached && cached.ttl === ttl && now < cached.refreshAt) return cached;
    const made = this.sign(ownerWire, type, ttl, rdatas(), now, path);
    byType.set(type, made);
    return made;
  }

  /** Starts the signatures of a new transfer build (see `built`). */
  beginTransferBuild(): void {
    this.built = this.building;
    this.building = new Map();
  }

  /** RRSIGs over an RRset of a transfer build that no snapshot node holds. */
  transferSignatures(ownerWire: Buffer, type: number, ttl: number, rdatas: readonly Buffer[], now: number): Buffer[] {
    const key = `${type}/${ttl}/${ownerWire.toString('latin1')}/${Buffer.concat(rdatas).toString('latin1')}`;
    let made = this.building.get(key) ?? this.built.get(key);
    if (!made || now >= made.refreshAt) made = this.sign(ownerWire, type, ttl, rdatas, now, 'background');
    this.building.set(key, made);
    return made.rdatas;
  }

  /**
   * The NSEC RDATA `nsec` for `ownerWire`, with its RRSIGs; cached by owner, TTL and content.
   * When they are not cached, `admit` (if given) decides whether they may be made now; undefined
   * when it says no.
   */
  denialSignatures(ownerWire: Buffer, ttl: number, nsec: Buffer, now: number, admit?: () => boolean): DenialSignatures | undefined {
    const key = `${ttl}/${nsec.toString('latin1')}/${ownerWire.toString('latin1')}`;
    const cached = this.denials.get(key);
    if (cached && now < cached.refreshAt) return { nsec: cached.nsec, rrsigs: cached.rdatas };
    if (admit && !admit()) return undefined;
    const made = { ...this.sign(ownerWire, DNSSEC_TYPE.NSEC, ttl, [nsec], now, 'query'), nsec };
    this.denials.set(key, made);
    return { nsec, rrsigs: made.rdatas };
  }
}

function keyIdentity(keys: readonly ZoneSigningKey[]): string {
  return keys.map((k) => `${k.state}/${k.algorithm}/${k.keyTag}/${k.publicKey.toString('base64')}/${k.privateKeySealed.toString('base64')}`).join(' ');
}

/**
 * The signer for a zone as the read model holds it: `previous` when its keys are unchanged (its
 * caches stay warm), a new one when they changed, none when the zone has no keys. Throws
 * SECRET_UNSEALABLE when this node's KEYPOST_SECRET_KEY_FILE is not the one the keys were sealed
 * with.
 */
export function zoneSignerFor(
  zone: { name: string; signingKeys?: readonly ZoneSigningKey[] },
  box: SealedBox,
  previous?: ZoneSigner,
  policy?: SignaturePolicy,
  counts?: SignatureCounts,
): ZoneSigner | undefined {
  const keys = (zone.signingKeys ?? []).filter((k) => isDnssecAlgorithm(k.algorithm));
  if (!keys.length) return undefined;
  const identity = keyIdentity(keys);
  if (previous?.keyIdentity === identity) return previous;
  const opened = keys.map((k) => ({
    algorithm: k.algorithm as RrsigKey['algorithm'],
    keyTag: k.keyTag,
    privateKey: importPrivateKey(box.open(k.privateKeySealed, signingKeyContext(zone.name))),
    signsKeySet: keyDuties(k, keys).signsKeySet,
    signsData: keyDuties(k, keys).signsData,
  }));
  return new ZoneSigner(zone.name, opened, identity, policy, counts);
}
