// Immutable, pre-encoded view of one zone, as answer() reads it. Work is done here, at load time:
// owner names are lowercased wire keys, RRsets are already in answer-section wire form (owner
// written as a pointer to the question name at offset 12, RFC 1035 §4.1.4), and empty non-terminals
// are explicit (RFC 8020: a name with children exists, so it answers NODATA, not NXDOMAIN).
//
// Each name is one buffer holding all its RRsets (a 12-octet header per RRset, then its records):
// at 300,000 names, an object, an array and a view per name would cost more than the keys do.
//
// A zone with 100,000 addresses has some 300,000 names; copying that map for each publish would
// cost more than answering. So a snapshot is a large `base` plus two small layers of names changed
// since (null = removed), as in a log-structured merge: each refresh copies only the `recent` layer;
// when it grows past its bound it is merged into `older`, and `older` into a new base past a larger
// bound, so the big copies are rare. The snapshot being served is never mutated.
import type { ZoneDnsSettings } from '../db/database.js';
import {
  OPENPGPKEY_ENT,
  PKA_ENT,
  addressOwners,
  addressPolicyRecords,
  addressRecords,
  ancestors,
  apexRecords,
  zonePolicy,
  type AddressPolicySource,
  type AddressSource,
  type PolicyDefaults,
  type ZonePolicy,
  type ZoneRecord,
  type ZoneSource,
} from './zone-records.js';
import { txt } from './rdata.js';
import { Arena } from './arena.js';
import type { ZoneSigner } from './dnssec/zone-signer.js';
import { UNTRANSFERRED_TYPES } from './dnssec/dnskey.js';
import { CLASS, TYPE, encodeName, nameKey, wireKey } from '../protocol/dns-wire.js';

export interface RRset {
  type: number;
  ttl: number;
  count: number;
  /** `count` resource records, each `C0 0C type class ttl rdlength rdata`. */
  wire: Buffer;
}

/**
 * The RRsets at one name, encoded: per RRset a header of type(2) count(2) ttl(4) length(4), then
 * `length` octets of records as in RRset.wire. Empty for an empty non-terminal.
 */
export type NameNode = Buffer;
export const NODE_HEADER = 12;
const EMPTY_NODE: NameNode = Buffer.alloc(0);

/** Offset of the header of the RRset of `type` in `node`, or -1. The query path's only lookup. */
export function findRRset(node: NameNode, type: number): number {
  for (let o = 0; o < node.length; o += NODE_HEADER + node.readUInt32BE(o + 8)) {
    if (((node[o] << 8) | node[o + 1]) === type) return o;
  }
  return -1;
}

/** The RRsets of a node as views (transfers, listings, digests). */
export function nodeRRsets(node: NameNode): RRset[] {
  const sets: RRset[] = [];
  for (let o = 0; o < node.length; ) {
    const length = node.readUInt32BE(o + 8);
    sets.push({ type: node.readUInt16BE(o), count: node.readUInt16BE(o + 2), ttl: node.readUInt32BE(o + 4), wire: node.subarray(o + NODE_HEADER, o + NODE_HEADER + length) });
    o += NODE_HEADER + length;
  }
  return sets;
}

export interface Secondary {
  address: string;
  port: number;
  /** Lowercased wire key of the TSIG key name, when transfers must be signed. */
  tsigKey?: string;
}

export interface ZoneSnapshot {
  readonly apex: string;
  /** Wire key of the apex including the root octet. */
  readonly apexKey: string;
  readonly apexWire: Buffer;
  readonly serial: number;
  readonly policy: ZonePolicy;
  readonly source: ZoneSource;
  /** SOA for the authority section of negative answers, without its owner (RFC 2308 §3). */
  readonly negativeSoa: Buffer;
  /** The apex SOA RRset (for AXFR's first and last record). */
  readonly soa: RRset;
  /**
   * Addresses of in-zone name servers, for the additional section of NS answers at the apex
   * (RFC 1034 §4.3.2 step 6): each owner is its labels below the apex then a pointer to the
   * question name at offset 12, which for such a query is the apex. Null when there are none.
   */
  readonly glue: { wire: Buffer; count: number } | null;
  readonly fixed: ReadonlyMap<string, NameNode>;
  readonly base: ReadonlyMap<string, NameNode>;
  readonly recent: ReadonlyMap<string, NameNode | null>;
  readonly older: ReadonlyMap<string, NameNode | null>;
  readonly addressCount: number;
  readonly tsigKeys: ReadonlyMap<string, Buffer>;
  readonly secondaries: readonly Secondary[];
  /** Signs answers to queries with DO (src/dns/dnssec/); absent for an unsigned zone. */
  readonly signer?: ZoneSigner;

}

export interface LayerLimits {
  /** Merge `recent` into `older` past this many names (copied on every refresh). */
  recent: number;
  /** Fold `older` into a new base past this many names (copying the base blocks for ~50 ms). */
  older: number;
}

export const LAYER_LIMITS: LayerLimits = { recent: 1024, older: 60_000 };

const RR_FIXED = 12; // pointer(2) type(2) class(2) ttl(4) rdlength(2)

interface RRsetSource {
  type: number;
  ttl: number;
  rdatas: Buffer[];
}

function writeRecords(out: Buffer, o: number, set: RRsetSource): number {
  for (const r of set.rdatas) {
    out.writeUInt16BE(0xc00c, o);
    out.writeUInt16BE(set.type, o + 2);
    out.writeUInt16BE(CLASS.IN, o + 4);
    out.writeUInt32BE(set.ttl >>> 0, o + 6);
    out.writeUInt16BE(r.length, o + 10);
    r.copy(out, o + 12);
    o += RR_FIXED + r.length;
  }
  return o;
}

const recordsLength = (set: RRsetSource) => set.rdatas.reduce((n, r) => n + RR_FIXED + r.length, 0);

/** One RRset on its own (ZONEMD, the synthesised records of tests). */
export function encodeRRset(type: number, ttl: number, rdatas: Buffer[]): RRset {
  const set = { type, ttl, rdatas };
  const wire = Buffer.allocUnsafe(recordsLength(set));
  writeRecords(wire, 0, set);
  return { type, ttl, count: rdatas.length, wire };
}

export function encodeNode(sets: RRsetSource[], arena?: Arena): NameNode {
  let size = 0;
  for (const set of sets) size += NODE_HEADER + recordsLength(set);
  const node = arena ? arena.take(size) : Buffer.allocUnsafe(size);
  let o = 0;
  for (const set of sets) {
    const length = recordsLength(set);
    node.writeUInt16BE(set.type, o);
    node.writeUInt16BE(set.rdatas.length, o + 2);
    node.writeUInt32BE(set.ttl >>> 0, o + 4);
    node.writeUInt32BE(length, o + 8);
    o = writeRecords(node, o + NODE_HEADER, set);
  }
  return node;
}

/** The RDATAs of an encoded RRset, in order (for AXFR and zone files). */
export function rrsetRdatas(set: RRset): Buffer[] {
  const out: Buffer[] = [];
  let o = 0;
  while (o < set.wire.length) {
    const len = set.wire.readUInt16BE(o + 10);
    out.push(set.wire.subarray(o + 12, o + 12 + len));
    o += RR_FIXED + len;
  }
  return out;
}

/** Groups records by owner and type into encoded nodes; RRsets keep first-seen order. */
function groupRecords(records: ZoneRecord[]): Map<string, NameNode> {
  const byOwner = new Map<string, Map<number, { ttl: number; rdatas: Buffer[] }>>();
  for (const r of records) {
    let types = byOwner.get(r.owner);
    if (!types) byOwner.set(r.owner, (types = new Map()));
    let set = types.get(r.rdata.type);
    if (!set) types.set(r.rdata.type, (set = { ttl: r.ttl, rdatas: [] }));
    // RFC 2181 §5: an RRset holds distinct records.
    if (!set.rdatas.some((x) => x.equals(r.rdata.wire))) set.rdatas.push(r.rdata.wire);
  }
  const nodes = new Map<string, NameNode>();
  for (const [owner, types] of byOwner) {
    nodes.set(owner, encodeNode([...types].map(([type, set]) => ({ type, ttl: set.ttl, rdatas: set.rdatas }))));
  }
  return nodes;
}

/** A name holding one record (every address name holds exactly one). */
function recordNode(r: ZoneRecord, arena?: Arena): NameNode {
  return encodeNode([{ type: r.rdata.type, ttl: r.ttl, rdatas: [r.rdata.wire] }], arena);
}

function addressNodes(policy: ZonePolicy, address: AddressSource, arena?: Arena): [string, NameNode][] {
  return addressRecords(policy, address).map((r) => [r.owner, recordNode(r, arena)]);
}

function tsigKeyMap(dns: ZoneDnsSettings): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const [name, secret] of Object.entries(dns.tsigKeys ?? {})) keys.set(nameKey(name), Buffer.from(secret, 'base64'));
  return keys;
}

function secondaryList(dns: ZoneDnsSettings): Secondary[] {
  return (dns.secondaries ?? []).map((s) => ({
    address: s.address,
    port: s.port ?? 53,
    tsigKey: s.tsigKey ? nameKey(s.tsigKey) : undefined,
  }));
}

/** See ZoneSnapshot.glue: the A and AAAA RRsets of every apex NS target that lies in the zone. */
function glueRecords(fixed: ReadonlyMap<string, NameNode>, apexKey: string): { wire: Buffer; count: number } | null {
  const ns = nodeRRsets(fixed.get('') ?? EMPTY_NODE).find((set) => set.type === TYPE.NS);
  if (!ns) return null;
  const parts: Buffer[] = [];
  let count = 0;
  const seen = new Set<string>();
  for (const rdata of rrsetRdatas(ns)) {
    const target = wireKey(rdata, 0, rdata.length);
    if (target.length <= apexKey.length || !target.endsWith(apexKey)) continue;
    const rel = target.slice(0, target.length - apexKey.length);
    const node = fixed.get(rel);
    if (!node || seen.has(rel)) continue;
    seen.add(rel);
    for (const set of nodeRRsets(node)) {
      if (set.type !== TYPE.A && set.type !== TYPE.AAAA) continue;
      // Each record as stored starts with the C0 0C owner pointer: prefix the labels below the apex.
      for (let o = 0; o < set.wire.length; ) {
        const length = RR_FIXED + set.wire.readUInt16BE(o + 10);
        parts.push(Buffer.from(rel, 'latin1'), set.wire.subarray(o, o + length));
        count++;
        o += length;
      }
    }
  }
  return count ? { wire: Buffer.concat(parts), count } : null;
}

/** Everything that depends only on the domains row: apex names, SOA, keys, secondaries. */
function zoneFrame(source: ZoneSource, defaults: PolicyDefaults, addressCount: number) {
  const policy = zonePolicy(source, defaults);
  const fixed = groupRecords(apexRecords(source, policy));
  for (const owner of [...fixed.keys()]) for (const up of ancestors(owner)) if (!fixed.has(up)) fixed.set(up, EMPTY_NODE);
  if (addressCount > 0) {
    for (const ent of [OPENPGPKEY_ENT, PKA_ENT]) if (!fixed.has(ent)) fixed.set(ent, EMPTY_NODE);
  }
  const soa = nodeRRsets(fixed.get('')!).find((set) => set.type === TYPE.SOA)!;
  const soaRdata = rrsetRdatas(soa)[0];
  const negativeSoa = Buffer.allocUnsafe(10 + soaRdata.length);
  negativeSoa.writeUInt16BE(TYPE.SOA, 0);
  negativeSoa.writeUInt16BE(CLASS.IN, 2);
  negativeSoa.writeUInt32BE(policy.negativeTtl, 4);
  negativeSoa.writeUInt16BE(soaRdata.length, 8);
  soaRdata.copy(negativeSoa, 10);
  const apexWire = encodeName(source.name);
  const apexKey = nameKey(source.name);
  return {
    apex: source.name,
    apexKey,
    apexWire,
    serial: source.serial,
    policy,
    source,
    negativeSoa,
    soa,
    glue: glueRecords(fixed, apexKey),
    fixed,
    tsigKeys: tsigKeyMap(source.dns),
    secondaries: secondaryList(source.dns),
  };
}

/** Builds a zone's base map address by address, so a large zone can be fed page by page. */
export class ZoneBuilder {
  private readonly policy: ZonePolicy;
  private readonly base = new Map<string, NameNode>();
  private readonly arena = new Arena({ shared: true });
  private count = 0;

  constructor(
    private readonly source: ZoneSource,
    private readonly defaults: PolicyDefaults,
  ) {
    this.policy = zonePolicy(source, defaults);
  }

  add(address: AddressSource): void {
    const nodes = addressNodes(this.policy, address, this.arena);
    if (!this.base.has(nodes[0][0])) this.count++; // nodes[0] is the _keypost TXT
    for (const [owner, node] of nodes) this.base.set(owner, node);
  }

  finish(): ZoneSnapshot {
    return { ...zoneFrame(this.source, this.defaults, this.count), base: this.base, recent: new Map(), older: new Map(), addressCount: this.count };
  }
}

export function buildZoneSnapshot(source: ZoneSource, addresses: Iterable<AddressSource>, defaults: PolicyDefaults): ZoneSnapshot {
  const builder = new ZoneBuilder(source, defaults);
  for (const address of addresses) builder.add(address);
  return builder.finish();
}

export function lookupNode(zone: ZoneSnapshot, rel: string): NameNode | undefined {
  const fixed = zone.fixed.get(rel);
  if (fixed) return fixed;
  if (zone.recent.size) {
    const o = zone.recent.get(rel);
    if (o !== undefined) return o ?? undefined;
  }
  if (zone.older.size) {
    const o = zone.older.get(rel);
    if (o !== undefined) return o ?? undefined;
  }
  return zone.base.get(rel);
}

export interface AddressChange {
  localPart: string;
  /** The published row, or null when the address is no longer published. */
  row: AddressSource | null;
}

/**
 * A new snapshot with the given addresses replaced or removed and the zone row (serial) updated.
 * The zone row must carry the same policy as `prev` (a policy change rebuilds the whole zone).
 */
export function applyChanges(
  prev: ZoneSnapshot,
  source: ZoneSource,
  changes: AddressChange[],
  defaults: PolicyDefaults,
  limits: LayerLimits = LAYER_LIMITS,
): ZoneSnapshot {
  const policy = zonePolicy(source, defaults);
  let recent = new Map(prev.recent);
  const exists = (owner: string): boolean => {
    for (const layer of [recent, prev.older]) {
      const o = layer.get(owner);
      if (o !== undefined) return o !== null;
    }
    return prev.base.has(owner);
  };
  let count = prev.addressCount;
  for (const change of changes) {
    const owners = addressOwners(change.localPart, change.row ?? {});
    const existed = exists(owners.keypost);
    // Every owner the address may have had is cleared first: the new row can publish fewer names
    // (a key over MAX_OPENPGPKEY_RDATA has no OPENPGPKEY), and what it does not replace must go.
    for (const owner of [owners.openpgpkey, owners.keypost, owners.pka]) recent.set(owner, null);
    if (change.row) {
      for (const [owner, node] of addressNodes(policy, change.row)) recent.set(owner, node);
      if (!existed) count++;
    } else if (existed) {
      count--;
    }
  }
  let older = prev.older;
  let base = prev.base;
  if (recent.size > limits.recent) {
    const merged = new Map(older);
    for (const [owner, node] of recent) merged.set(owner, node);
    older = merged;
    recent = new Map();
  }
  if (older.size > limits.older) {
    base = fold(base, older);
    older = new Map();
  }
  return { ...zoneFrame(source, defaults, count), base, recent, older, addressCount: count };
}

/**
 * A new base with the layers applied, oldest first. Layer nodes are small separate buffers; they
 * are copied into shared arena chunks, so that the whole base is shared memory and each node has
 * one place on every thread (the worker threads' name index and shared signatures key by it).
 */
function fold(base: ReadonlyMap<string, NameNode>, ...layers: ReadonlyMap<string, NameNode | null>[]): Map<string, NameNode> {
  const merged = new Map(base);
  const arena = new Arena({ shared: true });
  for (const layer of layers) {
    for (const [owner, node] of layer) {
      if (!node) {
        merged.delete(owner);
      } else if (node.buffer instanceof SharedArrayBuffer) {
        merged.set(owner, node);
      } else {
        const shared = arena.take(node.length);
        node.copy(shared);
        merged.set(owner, shared);
      }
    }
  }
  return merged;
}

/** What a published address's own records depend on besides its row (see addressRecords). */
export function addressPolicyKey(source: ZoneSource, defaults: PolicyDefaults): string {
  const p = zonePolicy(source, defaults);
  return JSON.stringify([p.ttl, p.powBits, p.endpoint, p.apiUrl, p.requirement]);
}

/**
 * The zone's stamp price, endpoint, requirement or directory URL changed, so every per-address TXT (which leaves
 * out what equals the zone policy) and PKA CERT (whose URL is at the directory) is re-encoded;
 * OPENPGPKEY records are shared with `prev`, which keeps a policy change on a large zone from
 * holding two copies of every key. Callers rebuild fully when the TTL changed, since that touches
 * every record.
 */
export function rewriteAddressPolicy(prev: ZoneSnapshot, source: ZoneSource, rows: Iterable<AddressPolicySource>, defaults: PolicyDefaults): ZoneSnapshot {
  const policy = zonePolicy(source, defaults);
  const base = fold(prev.base, prev.older, prev.recent);
  const arena = new Arena({ shared: true });
  for (const row of rows) {
    if (!base.has(addressOwners(row.localPart, row).keypost)) continue;
    for (const r of addressPolicyRecords(policy, row)) base.set(r.owner, recordNode(r, arena));
  }
  return { ...zoneFrame(source, defaults, prev.addressCount), base, recent: new Map(), older: new Map(), addressCount: prev.addressCount };
}

/**
 * Every name of the zone with its encoded node, apex names first, then address names; later
 * layers shadow earlier ones, and withdrawn names are left out.
 */
export function* zoneNameNodes(zone: ZoneSnapshot): Generator<[string, NameNode]> {
  yield* zone.fixed;
  const shadowed = (owner: string) => zone.fixed.has(owner) || zone.recent.has(owner) || zone.older.has(owner);
  for (const [owner, node] of zone.base) if (!shadowed(owner)) yield [owner, node];
  for (const [owner, node] of zone.older) if (node && !zone.recent.has(owner) && !zone.fixed.has(owner)) yield [owner, node];
  for (const [owner, node] of zone.recent) if (node && !zone.fixed.has(owner)) yield [owner, node];
}

/**
 * Every name with its RRsets as an unsigned zone transfer carries them (AXFR, ZONEMD, zone
 * files). The signing keys' records stay out (UNTRANSFERRED_TYPES): a signed transfer
 * (dnssec/signed-transfer.ts) carries them with their signatures.
 */
export function* zoneNodes(zone: ZoneSnapshot): Generator<[string, RRset[]]> {
  for (const [owner, node] of zoneNameNodes(zone)) {
    const sets = nodeRRsets(node);
    yield [owner, zone.fixed.has(owner) ? sets.filter((set) => !UNTRANSFERRED_TYPES.has(set.type)) : sets];
  }
}

/** All zones a node serves, keyed by apex wire key; replaced as a whole when any zone changes. */
export interface SnapshotSet {
  readonly zones: ReadonlyMap<string, ZoneSnapshot>;
}

export function emptySnapshotSet(): SnapshotSet {
  return { zones: new Map() };
}

export function withZone(set: SnapshotSet, zone: ZoneSnapshot): SnapshotSet {
  const zones = new Map(set.zones);
  zones.set(zone.apexKey, zone);
  return { zones };
}

export function withoutZone(set: SnapshotSet, apex: string): SnapshotSet {
  const zones = new Map(set.zones);
  zones.delete(nameKey(apex));
  return { zones };
}
