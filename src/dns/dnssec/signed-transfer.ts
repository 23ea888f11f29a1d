// The zone as a signed transfer carries it (RFC 4035 §2): a secondary cannot sign, so it gets
// every RRset with its RRSIGs, the DNSKEY, CDS and CDNSKEY RRsets, NSEC3PARAM and a complete
// NSEC3 chain (RFC 5155, nsec3.ts), all signed here, and the apex ZONEMD computed over the signed
// zone and signed too (RFC 8976 §3.3.1, §4). Signatures over snapshot nodes come from the same
// per-node cache the query path uses, so after a publish only the changed names and the chain
// records next to them are signed again.
import { zoneDigest, zonemdRRset, ZONEMD_TYPE, type TransferNode } from '../zonemd.js';
import { encodeRRset, nodeRRsets, rrsetRdatas, zoneNameNodes, type RRset, type ZoneSnapshot } from '../zone-snapshot.js';
import { ancestors } from '../zone-records.js';
import { DNSSEC_TYPE } from './dnskey.js';
import { NSEC3PARAM_RDATA, NSEC3PARAM_TYPE, NSEC3_TYPE, nsec3Chain, type ChainName } from './nsec3.js';
import type { ZoneSigner } from './zone-signer.js';

export interface SignedTransfer {
  /** Every name with its RRsets and their RRSIGs, the apex first, then the NSEC3 names. */
  nodes: TransferNode[];
  /** The apex ZONEMD over the signed zone (its RRSIG is among the apex RRsets). */
  zonemd: RRset;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Names signed between yields: a first build of a large zone signs for seconds, in slices. */
const SLICE = 500;

const rrsigSet = (coveredTtl: number, signatures: Buffer[]): RRset => encodeRRset(DNSSEC_TYPE.RRSIG, coveredTtl, signatures);

export async function signedTransfer(zone: ZoneSnapshot, signer: ZoneSigner, now: number): Promise<SignedTransfer> {
  signer.beginTransferBuild();
  const ownerWire = (owner: string) => Buffer.from(owner + zone.apexKey, 'latin1');
  // RFC 9077 §3.2: NSEC3 (and here NSEC3PARAM) TTL is the negative-caching TTL, min(SOA TTL, MINIMUM).
  const chainTtl = zone.policy.negativeTtl;
  const nodes: TransferNode[] = [];
  const chainNames: ChainName[] = [];
  const owners = new Set<string>();
  const nonTerminals = new Set<string>();
  let apexSets: RRset[] | undefined;
  let n = 0;
  for (const [owner, node] of zoneNameNodes(zone)) {
    owners.add(owner);
    for (const ancestor of ancestors(owner)) nonTerminals.add(ancestor);
    const wire = ownerWire(owner);
    const sets: RRset[] = [];
    const signatures: RRset[] = [];
    for (const set of nodeRRsets(node)) {
      sets.push(set);
      signatures.push(rrsigSet(set.ttl, signer.rrsetSignatures(node, wire, set.type, set.ttl, () => rrsetRdatas(set), now, 'background')));
    }
    const types = sets.map((set) => set.type);
    if (owner === '') {
      const param = encodeRRset(NSEC3PARAM_TYPE, chainTtl, [NSEC3PARAM_RDATA]);
      sets.push(param);
      signatures.push(rrsigSet(chainTtl, signer.transferSignatures(wire, NSEC3PARAM_TYPE, chainTtl, [NSEC3PARAM_RDATA], now)));
      types.push(NSEC3PARAM_TYPE, ZONEMD_TYPE);
      apexSets = sets;
    }
    if (types.length) types.push(DNSSEC_TYPE.RRSIG);
    chainNames.push({ ownerWire: wire, types });
    nodes.push([owner, [...sets, ...signatures]]);
    if (++n % SLICE === 0) await yieldToEventLoop();
  }
  if (!apexSets) throw new Error(`zone ${zone.apex} has no apex node`);
  // RFC 5155 §7.1: empty non-terminals get NSEC3 records too, with an empty type bitmap.
  for (const ent of nonTerminals) if (!owners.has(ent)) chainNames.push({ ownerWire: ownerWire(ent), types: [] });

  for (const { label, rdata } of nsec3Chain(chainNames)) {
    const owner = String.fromCharCode(label.length) + label;
    const set = encodeRRset(NSEC3_TYPE, chainTtl, [rdata]);
    nodes.push([owner, [set, rrsigSet(chainTtl, signer.transferSignatures(ownerWire(owner), NSEC3_TYPE, chainTtl, [rdata], now))]]);
    if (++n % SLICE === 0) await yieldToEventLoop();
  }

  const zonemd = zonemdRRset(zone.serial, zone.soa.ttl, await zoneDigest(zone.apexKey, nodes));
  const apex = nodes.find(([owner]) => owner === '')!;
  const zonemdSignatures = rrsigSet(zonemd.ttl, signer.transferSignatures(ownerWire(''), ZONEMD_TYPE, zonemd.ttl, rrsetRdatas(zonemd), now));
  nodes[nodes.indexOf(apex)] = ['', [...apex[1], zonemdSignatures]];
  return { nodes, zonemd };
}
