// What a sender needs to write to a published address, in one shape: GET /v1/records answers it
// as JSON and the web search page shows it. The DNS names come from the labels the read model
// computed once per entry (src/protocol/address-hashes.ts).
import type { PublishedAddress, PublishedLookups, PublishedZone } from './published-lookups.js';
import type { Requirement } from '../protocol/requirement.js';

export interface AddressRecord {
  address: string;
  fingerprint: string;
  /** Armoured minimal key: primary key, this address's user ID, valid subkeys. */
  key: string;
  endpoint: string | null;
  /** Hashcash bits a message to this address must carry. */
  pow: number;
  /** What protection a message to this address must carry (req=). */
  require: Requirement;
  dns: { openpgpkey: string; keypost: string; pka: string };
  status: 'published' | 'expired';
  expires: string | null;
}

export function addressRecord(found: PublishedAddress, domain: PublishedZone, lookups: PublishedLookups, now: Date): AddressRecord {
  const { expiresAt, openpgpkeyLabel: h, wkdLabel: z, domain: zone } = found;
  const model = lookups.model;
  return {
    address: found.address,
    fingerprint: found.fingerprint,
    key: lookups.armoredKey(found),
    endpoint: model.endpoint(found, domain),
    pow: model.price(found, domain),
    require: model.requirement(found, domain),
    dns: { openpgpkey: `${h}._openpgpkey.${zone}`, keypost: `${h}._keypost.${zone}`, pka: `${z}._pka.${zone}` },
    status: expiresAt !== null && expiresAt <= now.getTime() ? 'expired' : 'published',
    expires: expiresAt === null ? null : new Date(expiresAt).toISOString(),
  };
}

/**
 * The record as GET /v1/records sends it, serialised once per published entry and zone policy:
 * the armoured key is most of the body, and the read model replaces an entry (or the zone) whenever
 * any part of it changes, so the text stays right until then, or until the key expires.
 */
const serialised = new WeakMap<PublishedAddress, { domain: PublishedZone; json: string }>();

export function addressRecordJson(found: PublishedAddress, domain: PublishedZone, lookups: PublishedLookups, now: Date): string {
  const expired = found.expiresAt !== null && found.expiresAt <= now.getTime();
  const cached = serialised.get(found);
  if (cached && cached.domain === domain && !expired) return cached.json;
  const json = JSON.stringify(addressRecord(found, domain, lookups, now));
  if (!expired) serialised.set(found, { domain, json });
  return json;
}
