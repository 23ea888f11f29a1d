// What a zone key does in each state of a rollover (RFC 6781 §4.1; RFC 7583 §3.1 names the
// states). One table, read by the records (DNSKEY, CDS, CDNSKEY) and by the signer, so that what is
// published and what signs it never disagree.
//
// A key roll of the same algorithm is a pre-publication roll (RFC 6781 §4.1.1.1 for the zone data,
// §4.1.2 double signature for the DNSKEY RRset): published → active, active → retired → removed.
// The DNSKEY RRset is signed by every key in it. A resolver holds one of two DS sets during the
// roll (the parent's old one or its new one, RFC 7583 §3.3.1), and whichever key that DS names
// must have signed the DNSKEY RRset it fetched or cached; signing with all of them from the moment
// a key is published means a DNSKEY RRset cached at any step carries both signatures.
//
// An algorithm roll (RFC 6781 §4.1.4) adds two states, because a zone must carry signatures of
// every algorithm in its DNSKEY RRset (RFC 4035 §2.2; strict validators insist, RFC 6840 §5.11):
// the new key signs everything before it enters the DNSKEY RRset (`introduced`), and the old key
// signs everything until after it has left it (`withdrawn`). While a zone's keys span two
// algorithms every one of them signs everything.
import type { DnssecKeyState } from '../../db/database.js';
import { DNSSEC_TYPE } from './dnskey.js';

export interface KeyDuties {
  /** In the apex DNSKEY RRset. */
  published: boolean;
  /** Signs the apex key-set RRsets: DNSKEY, CDS, CDNSKEY (RFC 7344 §4.1: by a key the DS names). */
  signsKeySet: boolean;
  /** Signs every other RRset, the NSEC denials and the transfer's NSEC3 chain and ZONEMD. */
  signsData: boolean;
  /** Named by CDS and CDNSKEY: the key the parent is asked to point at (RFC 7344 §4, RFC 8078). */
  wantedByParent: boolean;
}

export const KEY_DUTIES: Readonly<Record<DnssecKeyState, KeyDuties>> = {
  // Algorithm roll: a new key's signatures reach every cache before the key itself.
  introduced: { published: false, signsKeySet: true, signsData: true, wantedByParent: false },
  // New, waiting until every cache that holds the DNSKEY RRset holds it with this key.
  published: { published: true, signsKeySet: true, signsData: false, wantedByParent: false },
  active: { published: true, signsKeySet: true, signsData: true, wantedByParent: true },
  // Replaced; kept until no resolver can trust the zone through it nor hold data it signed.
  retired: { published: true, signsKeySet: true, signsData: false, wantedByParent: false },
  // Algorithm roll: out of the DNSKEY RRset, still signing until no cache holds a set with it.
  withdrawn: { published: false, signsKeySet: true, signsData: true, wantedByParent: false },
};

/** An algorithm roll is under way when the zone's keys span more than one algorithm. */
export function spansAlgorithms(keys: readonly { algorithm: number }[]): boolean {
  return new Set(keys.map((k) => k.algorithm)).size > 1;
}

/** What `key` does among the zone's `keys`: its state's duties, and all signing in an algorithm roll. */
export function keyDuties(key: { state: DnssecKeyState }, keys: readonly { algorithm: number }[]): KeyDuties {
  const duties = KEY_DUTIES[key.state];
  return spansAlgorithms(keys) ? { ...duties, signsKeySet: true, signsData: true } : duties;
}

/** RRsets signed by the key-set signers rather than the data signers. */
export const KEY_SET_TYPES: ReadonlySet<number> = new Set([DNSSEC_TYPE.DNSKEY, DNSSEC_TYPE.CDS, DNSSEC_TYPE.CDNSKEY]);
