// What an RRSIG signs (RFC 4034 §3.1.8.1, §6): the RRSIG RDATA without its signature, then every
// RR of the RRset in canonical form: owner lowercased and uncompressed, type, class, the original
// TTL, RDLENGTH and RDATA, sorted by RDATA as left-justified octet strings, duplicates removed.
import { CLASS, TYPE, wireKey } from '../../protocol/dns-wire.js';

/**
 * RFC 4034 §6.2 (as RFC 6840 §5.1 leaves it): names inside RDATA are lowercased for the types
 * that have them. Of the types keypost publishes, NS (one name) and SOA (two names, then twenty
 * octets of timers) do; nothing else here carries a name.
 */
function canonicalRdata(type: number, rdata: Buffer): Buffer {
  if (type === TYPE.NS) return Buffer.from(wireKey(rdata, 0, rdata.length), 'latin1');
  if (type === TYPE.SOA) {
    const names = rdata.length - 20;
    return Buffer.concat([Buffer.from(wireKey(rdata, 0, names), 'latin1'), rdata.subarray(names)]);
  }
  return rdata;
}

export function signedData(rrsigHead: Buffer, ownerWire: Buffer, type: number, originalTtl: number, rdatas: readonly Buffer[]): Buffer {
  const sorted = rdatas.map((r) => canonicalRdata(type, r)).sort(Buffer.compare);
  const parts: Buffer[] = [rrsigHead];
  let previous: Buffer | undefined;
  for (const rdata of sorted) {
    if (previous && previous.equals(rdata)) continue;
    previous = rdata;
    const fixed = Buffer.allocUnsafe(10);
    fixed.writeUInt16BE(type, 0);
    fixed.writeUInt16BE(CLASS.IN, 2);
    fixed.writeUInt32BE(originalTtl >>> 0, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    parts.push(ownerWire, fixed, rdata);
  }
  return Buffer.concat(parts);
}
