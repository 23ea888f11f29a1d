// What a zone transfer of a snapshot carries, and its ZONEMD, made once per snapshot off the query
// path: for an unsigned zone the names as they are and a digest over them; for a signed one the
// fully signed zone with an NSEC3 chain (dnssec/signed-transfer.ts), whose digest then covers the
// signatures. The ZONEMD answered to queries is this one, so a query and a transfer agree.
import { signedTransfer } from './dnssec/signed-transfer.js';
import { zoneDigest, zonemdRRset, type TransferNode } from './zonemd.js';
import { zoneNodes, type RRset, type ZoneSnapshot } from './zone-snapshot.js';

export interface TransferContents {
  /** The names in transfer order (the apex first); the SOA and ZONEMD are sent apart from these. */
  nodes(): Iterable<TransferNode>;
  zonemd: RRset;
  /** When the signatures were made (unix seconds); unset for an unsigned zone. */
  signedAt?: number;
}

/**
 * A signed build is made again after this long, whatever the snapshot: a secondary that transfers
 * later must get signatures with most of their validity left (zone-signer.ts refreshes each one
 * once less than a quarter of it remains).
 */
const SIGNED_BUILD_LIFETIME_SECONDS = 86_400;

const memo = new WeakMap<ZoneSnapshot, Promise<TransferContents>>();
const ready = new WeakMap<ZoneSnapshot, TransferContents>();
const building = new WeakSet<ZoneSnapshot>();

async function build(zone: ZoneSnapshot, now: number): Promise<TransferContents> {
  if (zone.signer) {
    const signed = await signedTransfer(zone, zone.signer, now);
    return { nodes: () => signed.nodes, zonemd: signed.zonemd, signedAt: now };
  }
  const digest = await zoneDigest(zone.apexKey, zoneNodes(zone));
  return { nodes: () => zoneNodes(zone), zonemd: zonemdRRset(zone.serial, zone.soa.ttl, digest) };
}

export function transferContents(zone: ZoneSnapshot, now = Math.floor(Date.now() / 1000)): Promise<TransferContents> {
  const done = ready.get(zone);
  const stale = done?.signedAt !== undefined && now - done.signedAt > SIGNED_BUILD_LIFETIME_SECONDS;
  let contents = memo.get(zone);
  if (!contents || (stale && !building.has(zone))) {
    building.add(zone);
    contents = build(zone, now).then(
      (made) => {
        building.delete(zone);
        ready.set(zone, made);
        return made;
      },
      (err: unknown) => {
        building.delete(zone);
        memo.delete(zone);
        throw err;
      },
    );
    memo.set(zone, contents);
  }
  return contents;
}

/** The apex ZONEMD RRset of this snapshot, computed once (RFC 8976 §2). */
export function zonemd(zone: ZoneSnapshot): Promise<RRset> {
  return transferContents(zone).then((contents) => contents.zonemd);
}

/** The ZONEMD RRset if this snapshot's digest is already computed (the query path cannot wait). */
export function zonemdIfReady(zone: ZoneSnapshot): RRset | undefined {
  return ready.get(zone)?.zonemd;
}
