// What a signed zone asks of its parent: the DS record (RFC 4034 §5, digest type 2 = SHA-256,
// RFC 4509) to give the registrar, and the DNSKEY it points at, in presentation form. One place
// computes them, for `keypost dns ds` and the owner's console alike, from the public half of the
// zone's signing keys (a database row or the read model's copy of it): nothing here opens a
// private key.
import type { Db } from '../../db/database.js';
import { keyToName, nameKey } from '../../protocol/dns-wire.js';
import * as rd from '../rdata.js';
import { DNSSEC_TYPE, DS_DIGEST_SHA256, keyTag } from './dnskey.js';
import { zoneSigningKeys } from './key-store.js';
import { KEY_DUTIES } from './key-states.js';

/** The public fields of a zone key, as both the key store and the read model hold them. */
export interface PublicZoneKey {
  flags: number;
  algorithm: number;
  publicKey: Buffer;
}

export interface DelegationRecord {
  keyTag: number;
  algorithm: number;
  digestType: number;
  /** The DS digest in hex, for registrars that ask for the fields one by one. */
  digest: string;
  /** The zone's name with its trailing dot, as the records' owner. */
  owner: string;
  /** Zone-file lines: `<zone>. IN DS ...` and `<zone>. IN DNSKEY ...`. */
  ds: string;
  dnskey: string;
}

/** RFC 8624 §3.1 mnemonics of the algorithms keypost signs with (src/dns/dnssec/algorithms.ts). */
const ALGORITHM_NAMES: Record<number, string> = { 13: 'ECDSAP256SHA256', 15: 'ED25519' };

export function algorithmName(algorithm: number): string {
  return ALGORITHM_NAMES[algorithm] ?? `algorithm ${algorithm}`;
}

/** The DS and DNSKEY of each key; none when the zone is served unsigned. */
export function delegationRecords(zone: string, keys: readonly PublicZoneKey[]): DelegationRecord[] {
  const owner = keyToName(nameKey(zone));
  return keys.map((key) => {
    const dnskey = rd.dnskey(key.flags, key.algorithm, key.publicKey);
    const ds = rd.ds(zone, dnskey);
    return {
      keyTag: keyTag(dnskey.wire),
      algorithm: key.algorithm,
      digestType: DS_DIGEST_SHA256,
      digest: ds.wire.subarray(4).toString('hex').toUpperCase(),
      owner,
      ds: `${owner} IN DS ${rd.presentRdata(DNSSEC_TYPE.DS, ds.wire)}`,
      dnskey: `${owner} IN DNSKEY ${rd.presentRdata(DNSSEC_TYPE.DNSKEY, dnskey.wire)}`,
    };
  });
}

/**
 * The delegation records the parent should hold now, from the stored keys: the active key's, the
 * one CDS names (key-states.ts); [] when the zone is not signed.
 */
export async function zoneDelegation(db: Db, zone: string): Promise<DelegationRecord[]> {
  return delegationRecords(zone, (await zoneSigningKeys(db, zone)).filter((k) => KEY_DUTIES[k.state].wantedByParent));
}
