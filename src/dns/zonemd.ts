// ZONEMD (RFC 8976): a SHA-384 digest over the whole zone, added to zone transfers and the zone
// listing so a secondary (or `ldns-verify-zone -Z`) can check it holds exactly what keypost
// publishes. Digesting means sorting every name, so it is computed once per snapshot, only when a
// transfer or listing asks for it, and never on the query path.
import { createHash } from 'node:crypto';
import { encodeRRset, rrsetRdatas, zoneNodes, type RRset, type ZoneSnapshot } from './zone-snapshot.js';
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

async function digest(zone: ZoneSnapshot): Promise<Buffer> {
  const hash = createHash('sha384');
  const buckets = new Map<string, [string, string, readonly RRset[]][]>();
  let n = 0;
  for (const [owner, node] of zoneNodes(zone)) {
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
      const ownerWire = Buffer.from(owner + zone.apexKey, 'latin1');
      for (const set of [...node].sort((a, b) => a.type - b.type)) {
        if (owner === '' && set.type === ZONEMD_TYPE) continue;
        const rdatas = rrsetRdatas(set)
          .map((r) => canonicalRdata(set.type, r))
          .sort(Buffer.compare);
        for (const rdata of rdatas) {
          fixed.writeUInt16BE(set.type, 0);
          fixed.writeUInt16BE(CLASS.IN, 2);
          fixed.writeUInt32BE(set.ttl, 4);
          fixed.writeUInt16BE(rdata.length, 8);
          hash.update(ownerWire).update(fixed).update(rdata);
        }
      }
      if (++n % SLICE === 0) await yieldToEventLoop();
    }
  }
  return hash.digest();
}

const memo = new WeakMap<ZoneSnapshot, Promise<RRset>>();
const ready = new WeakMap<ZoneSnapshot, RRset>();

/** The ZONEMD RRset if this snapshot's digest is already computed (the query path cannot wait). */
export function zonemdIfReady(zone: ZoneSnapshot): RRset | undefined {
  return ready.get(zone);
}

/** The apex ZONEMD RRset for this snapshot (SOA TTL, RFC 8976 §2), computed once per snapshot. */
export function zonemd(zone: ZoneSnapshot): Promise<RRset> {
  let set = memo.get(zone);
  if (!set) {
    set = digest(zone).then((d) => {
      const rdata = Buffer.alloc(6);
      rdata.writeUInt32BE(zone.serial >>> 0, 0);
      rdata[4] = SCHEME_SIMPLE;
      rdata[5] = HASH_SHA384;
      const rrset = encodeRRset(ZONEMD_TYPE, zone.soa.ttl, [Buffer.concat([rdata, d])]);
      ready.set(zone, rrset);
      return rrset;
    });
    memo.set(zone, set);
  }
  return set;
}
