// RFC 1035 §5 master-file form of a snapshot: what `keypost dns records` prints, and what a
// benchmark peer (NSD) can load. Owners are absolute, SOA first, one record per line.
import { presentRdata, typeName } from './rdata.js';
import { rrsetRdatas, type ZoneSnapshot } from './zone-snapshot.js';
import { TYPE, keyToName } from '../protocol/dns-wire.js';
import { transferContents } from './transfer-contents.js';

export async function* zoneFileLines(zone: ZoneSnapshot): AsyncGenerator<string> {
  const apexName = keyToName(zone.apexKey);
  yield `; zone ${apexName} serial ${zone.serial}, ${zone.addressCount} published address${zone.addressCount === 1 ? '' : 'es'}`;
  yield `$ORIGIN ${apexName}`;
  const line = (owner: string, ttl: number, type: number, rdata: Buffer) =>
    `${keyToName(owner + zone.apexKey)}\t${ttl}\tIN\t${typeName(type)}\t${presentRdata(type, rdata)}`;
  yield line('', zone.soa.ttl, TYPE.SOA, rrsetRdatas(zone.soa)[0]);
  const contents = await transferContents(zone);
  const digest = contents.zonemd;
  yield line('', digest.ttl, digest.type, rrsetRdatas(digest)[0]);
  for (const [owner, node] of contents.nodes()) {
    for (const set of node) {
      if (owner === '' && set.type === TYPE.SOA) continue;
      for (const rdata of rrsetRdatas(set)) yield line(owner, set.ttl, set.type, rdata);
    }
  }
}
