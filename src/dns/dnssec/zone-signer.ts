// Signs one zone's answers online with its keys, opened once from the read model's sealed copy.
// Signatures are cached: per RRset (keyed by the encoded RRset, which a snapshot never mutates,
// so a changed name is a new key and the old entry is simply collected), and per denial NSEC in a
// bounded cache. Each is made again once less than a quarter of its validity is left, minus a
// random share of an eighth, so that signatures made together do not all expire together.
import type { ZoneSigningKey } from '../../published/entries.js';
import type { SealedBox } from '../../secrets/sealed-box.js';
import { CLASS, HEADER_LENGTH, nameKey } from '../../protocol/dns-wire.js';
import { Arena } from '../arena.js';
import { importPrivateKey, isDnssecAlgorithm } from './algorithms.js';
import { signingKeyContext } from './key-store.js';
import { BoundedCache } from './signature-cache.js';
import { DNSSEC_TYPE } from './dnskey.js';
import { rrsigRdata, type RrsigKey } from './rrsig.js';

const RR_FIXED = 12; // owner pointer(2) type(2) class(2) ttl(4) rdlength(2)
const QUESTION_POINTER = 0xc000 | HEADER_LENGTH;

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
  /** RRSIG RDATAs, one per key: views into `records`. */
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

export class ZoneSigner {
  private readonly rrsets = new WeakMap<object, Map<number, Signatures>>();
  private readonly denials: BoundedCache<string, Signatures & { nsec: Buffer }>;
  private readonly apexWire: Buffer;
  /** 64 KiB chunks: a small zone's signatures fit in one, a large zone's waste little. */
  private readonly arena = new Arena(1 << 16);
  /**
   * Signatures over RRsets made for a signed transfer rather than held in a snapshot node (the
   * NSEC3 chain, NSEC3PARAM, ZONEMD), by owner, type, TTL and content. Two generations: a new
   * transfer build starts one and keeps what it reuses from the last, so memory holds at most
   * two chains however often the zone changes.
   */
  private built = new Map<string, Signatures>();
  private building = new Map<string, Signatures>();

  constructor(
    apex: string,
    private readonly keys: readonly RrsigKey[],
    /** Identifies the keys, to tell whether a newer zone read can keep this signer. */
    readonly keyIdentity: string,
    private readonly policy: SignaturePolicy = DEFAULT_SIGNATURE_POLICY,
    private readonly counts: SignatureCounts = { signaturesOnQuery: 0, signaturesInBackground: 0 },
  ) {
    this.apexWire = Buffer.from(nameKey(apex), 'latin1');
    this.denials = new BoundedCache(policy.denialCacheSize);
  }

  private sign(ownerWire: Buffer, type: number, ttl: number, rdatas: readonly Buffer[], now: number, path: SigningPath): Signatures {
    if (path === 'query') this.counts.signaturesOnQuery += this.keys.length;
    else this.counts.signaturesInBackground += this.keys.length;
    const { validitySeconds, backdateSeconds, random } = this.policy;
    const fields = { ownerWire, type, originalTtl: ttl, inception: now - backdateSeconds, expiration: now + validitySeconds, signerWire: this.apexWire };
    const refreshAt = fields.expiration - Math.floor(validitySeconds / 4) - Math.floor(random() * (validitySeconds / 8));
    const made = this.keys.map((key) => rrsigRdata(key, fields, rdatas));
    // Kept for up to weeks: in the signer's arena rather than in slabs of Node's buffer pool.
    const records = this.arena.take(made.reduce((n, r) => n + RR_FIXED + r.length, 0));
    const views: Buffer[] = [];
    let o = 0;
    for (const r of made) {
      records.writeUInt16BE(QUESTION_POINTER, o);
      records.writeUInt16BE(DNSSEC_TYPE.RRSIG, o + 2);
      records.writeUInt16BE(CLASS.IN, o + 4);
      records.writeUInt32BE(ttl >>> 0, o + 6);
      records.writeUInt16BE(r.length, o + 10);
      r.copy(records, o + RR_FIXED);
      views.push(records.subarray(o + RR_FIXED, o + RR_FIXED + r.length));
      o += RR_FIXED + r.length;
    }
    return { rdatas: views, records, ttl, refreshAt };
  }

  /**
   * RRSIGs over the RRset of `type` held in `holder` (the encoded RRset or its name's node),
   * owned by `ownerWire` (lowercased wire). `rdatas` is only called when signing is needed.
   */
  rrsetSignatures(holder: object, ownerWire: Buffer, type: number, ttl: number, rdatas: () => readonly Buffer[], now: number, path: SigningPath = 'query'): Buffer[] {
    return this.rrsetEntry(holder, ownerWire, type, ttl, rdatas, now, path).rdatas;
  }

  /** The same signatures as answer-section records owned by the question name, and their count. */
  rrsetSignatureRecords(holder: object, ownerWire: Buffer, type: number, ttl: number, rdatas: () => readonly Buffer[], now: number): { wire: Buffer; count: number } {
    const entry = this.rrsetEntry(holder, ownerWire, type, ttl, rdatas, now, 'query');
    return { wire: entry.records, count: entry.rdatas.length };
  }

  private rrsetEntry(holder: object, ownerWire: Buffer, type: number, ttl: number, rdatas: () => readonly Buffer[], now: number, path: SigningPath): Signatures {
    let byType = this.rrsets.get(holder);
    if (!byType) this.rrsets.set(holder, (byType = new Map()));
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
  return keys.map((k) => `${k.algorithm}/${k.keyTag}/${k.publicKey.toString('base64')}/${k.privateKeySealed.toString('base64')}`).join(' ');
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
  }));
  return new ZoneSigner(zone.name, opened, identity, policy, counts);
}
