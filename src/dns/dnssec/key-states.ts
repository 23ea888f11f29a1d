// What a zone key does in each state of a pre-publication CSK rollover (RFC 6781 §4.1.1.1 for the
// zone data, §4.1.2 double-signature for the DNSKEY RRset; RFC 7583 §3.1 names the states). One
// table, read by the records (DNSKEY, CDS, CDNSKEY) and by the signer, so that what is published
// and what signs it never disagree.
//
// The DNSKEY RRset is signed by every key in it. A resolver holds one of two DS sets during the
// roll (the parent's old one or its new one, RFC 7583 §3.3.1), and whichever key that DS names
// must have signed the DNSKEY RRset it fetched or cached; signing with all of them from the moment
// a key is published means a DNSKEY RRset cached at any step carries both signatures.
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
  // New, waiting until every cache that holds the DNSKEY RRset holds it with this key.
  published: { published: true, signsKeySet: true, signsData: false, wantedByParent: false },
  active: { published: true, signsKeySet: true, signsData: true, wantedByParent: true },
  // Replaced; kept until no resolver can trust the zone through it nor hold data it signed.
  retired: { published: true, signsKeySet: true, signsData: false, wantedByParent: false },
};

/** RRsets signed by the key-set signers rather than the data signers. */
export const KEY_SET_TYPES: ReadonlySet<number> = new Set([DNSSEC_TYPE.DNSKEY, DNSSEC_TYPE.CDS, DNSSEC_TYPE.CDNSKEY]);
