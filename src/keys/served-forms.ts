// The served forms of a stored certificate, derived in one place by one pure function (no
// database, no cryptography: the certificate's signatures were verified when it was judged):
// - per published address, the minimal key DNS (OPENPGPKEY, RFC 7929 §2.2) and WKD serve;
// - by fingerprint / key ID (VKS, HKP), the stripped full key with only the published user IDs,
//   keeping revoked subkeys and every revocation so clients learn of them (K3);
// - the key facts the records JSON reports (algorithm, size, dates, revoked).
// The publish path and `keypost key rebuild` both call it, so what is served is always what this
// function says for the stored certificate.
import { minimalKeyFor, servedKeyWithUserIds } from './key-policy.js';
import type { Certificate } from './certificate-store.js';
import type { CheckedKey } from './checked-key.js';

/** The `keys` row: what the key policy found in the certificate, and whether it is revoked. */
export type KeyRecord = Pick<CheckedKey, 'fingerprint' | 'keyIds' | 'algorithm' | 'bits' | 'createdAt' | 'expiresAt'> & { revoked: boolean };

export interface AddressForm {
  /** The user ID of the address as it appears in the certificate. */
  userId: string;
  minimal: Uint8Array;
}

export interface ServedForms {
  record: KeyRecord;
  /** What VKS by-fingerprint / by-keyid and HKP serve for the key. */
  byFingerprint: Uint8Array;
  /** What DNS and WKD serve for each published address the certificate still carries. */
  perAddress: Map<string, AddressForm>;
  /** Published addresses the certificate no longer speaks for (key or user ID revoked). */
  withdrawn: string[];
}

export interface PublishedAddress {
  address: string;
  /** A minimal key the caller already cut from this same certificate (bulk import). */
  minimal?: Uint8Array;
}

export async function servedForms(certificate: Certificate, published: PublishedAddress[], now: Date): Promise<ServedForms> {
  const { key } = certificate;
  const revoked = certificate.status === 'revoked';
  const record: KeyRecord = {
    fingerprint: key.fingerprint,
    keyIds: key.keyIds,
    algorithm: key.algorithm,
    bits: key.bits,
    createdAt: key.createdAt,
    expiresAt: key.expiresAt,
    revoked,
  };
  const perAddress = new Map<string, AddressForm>();
  const withdrawn: string[] = [];
  for (const { address, minimal } of [...published].sort((a, b) => (a.address < b.address ? -1 : 1))) {
    const identity = revoked ? undefined : key.addresses.find((a) => a.address === address);
    if (!identity) {
      withdrawn.push(address);
      continue;
    }
    perAddress.set(address, { userId: identity.userId, minimal: minimal ?? (await minimalKeyFor(key.stripped, address, { now })) });
  }
  const userIds = [...perAddress.values()].map((form) => form.userId);
  return { record, byFingerprint: servedKeyWithUserIds(key.stripped, userIds), perAddress, withdrawn };
}
