// ZONEMD (RFC 8976): a SHA-384 digest over the whole zone, added to zone transfers and the zone
// listing so a secondary (or `ldns-verify-zone -Z`) can check it holds exactly what keypost
// publishes. Digesting means sorting every name, so it runs in slices that let answering go on;
// transfer-contents.ts computes it once per snapshot, never on the query path.
import { createHash } from 'node:crypto';
import { encodeRRset, rrsetRdatas, type RRset } from './zone-snapshot.js';
import { CLASS, TYPE } from '../protocol/dns-wire.js';

export const ZONEMD_TYPE = 63;
const SCHEME_SIMPLE = 1;
const HASH_SHA384 = 1;

/** RFC 4034 §6.1 canonical order as a plain string comparison: labels right to left, each ended by \0. */
function canonicalSortKey(rel: string): string {
  const labels: string[] = [];
  let i = 0;
  while (i < rel.length) {
    const len = rel.charCodeAt(i);
    labels.push(rel.slice(i + 1, i + 1 + len));
    i += len + 1;
  }
  let out = '';
  for (let j = labels.length - 1; j >= 0; j--) out += `${labels[j]}\0`;
  return out;
}

/** RFC 4034 §6.2: names inside NS and SOA RDATA are lowercased in canonical form. */
function canonicalRdata(type: number, rdata: Buffer): Buffer {
  if (type !== TYPE.NS && type !== TYPE.SOA) return rdata;
  const out = Buffer.from(rdata);
  let o = 0;
  const names = type === TYPE.SOA ? 2 : 1;
  for (let n = 0; n < names; n++) {
    while (out[o] !== 0) {
      const len = out[o];
      for (let k = o + 1; k <= o + len; k++) if (out[k] >= 0x41 && out[k] <= 0x5a) out[k] += 32;
      o += len + 1;
    }
    o += 1;
  }
  return out;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Names handled between yields, so answering goes on while a large zone is digested. */
const SLICE = 4000;

/**
 * Bucket of a sort key: its last label and two octets of the next. Buckets compared as strings
 * are in canonical order, so sorting each bucket on its own and concatenating them sorts the zone,
 * and no single sort blocks for long.
 */
function bucketOf(sortKey: string): string {
  const end = sortKey.indexOf('\0');
  return sortKey.slice(0, end + 3);
}

/** A name and its RRsets as a transfer carries them (owner relative to the apex, wire form). */
export type TransferNode = readonly [owner: string, sets: readonly RRset[]];

const RRSIG_TYPE = 46;

/**
 * RFC 8976 §3.3.1: at the apex, the ZONEMD RRset and the RRSIGs covering it are left out of the
 * digest (RRSIG RDATA starts with the type it covers).
 */
function digested(owner: string, type: number, rdata: Buffer): boolean {
  if (owner !== '') return true;
  if (type === ZONEMD_TYPE) return false;
  return !(type === RRSIG_TYPE && rdata.readUInt16BE(0) === ZONEMD_TYPE);
}

/**
 * The SHA-384 digest of a zone given as its names (RFC 8976 §3.3: names in canonical order, then
 * each name's records by type and canonical RDATA, duplicates once). Several RRsets of one type
 * at a name (the RRSIGs of a signed zone, one per covered type) are merged first.
 */
export async function zoneDigest(apexKey: string, nodes: Iterable<TransferNode>): Promise<Buffer> {
  const hash = createHash('sha384');
  const buckets = new Map<string, [string, string, readonly RRset[]][]>();
  let n = 0;
  for (const [owner, node] of nodes) {
    if (!node.length) continue;
    const key = canonicalSortKey(owner);
    const bucket = bucketOf(key);
    let list = buckets.get(bucket);
    if (!list) buckets.set(bucket, (list = []));
    list.push([key, owner, node]);
    if (++n % SLICE === 0) await yieldToEventLoop();
  }
  const fixed = Buffer.alloc(10);
  for (const bucket of [...buckets.keys()].sort()) {
    const entries = buckets.get(bucket)!;
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    for (const [, owner, node] of entries) {
      const ownerWire = Buffer.from(owner + apexKey, 'latin1');
      const records: { type: number; ttl: number; rdata: Buffer }[] = [];
      for (const set of node) {
        for (const rdata of rrsetRdatas(set)) {
          if (digested(owner, set.type, rdata)) records.push({ type: set.type, ttl: set.ttl, rdata: canonicalRdata(set.type, rdata) });
        }
      }
      records.sort((a, b) => a.type - b.type || Buffer.compare(a.rdata, b.rdata));
      let previous: (typeof records)[number] | undefined;
      for (const record of records) {
        if (previous && previous.type === record.type && previous.rdata.equals(record.rdata)) continue;
        previous = record;
        fixed.writeUInt16BE(record.type, 0);
        fixed.writeUInt16BE(CLASS.IN, 2);
        fixed.writeUInt32BE(record.ttl >>> 0, 4);
        fixed.writeUInt16BE(record.rdata.length, 8);
        hash.update(ownerWire).update(fixed).update(record.rdata);
      }
      if (++n % SLICE === 0) await yieldToEventLoop();
    }
  }
  return hash.digest();
}

/** The apex ZONEMD RRset (RFC 8976 §2: the SOA's TTL; serial, scheme SIMPLE, SHA-384, digest). */
export function zonemdRRset(serial: number, ttl: number, digest: Buffer): RRset {
  const rdata = Buffer.alloc(6);
  rdata.writeUInt32BE(serial >>> 0, 0);
  rdata[4] = SCHEME_SIMPLE;
  rdata[5] = HASH_SHA384;
  return encodeRRset(ZONEMD_TYPE, ttl, [Buffer.concat([rdata, digest])]);
}
