// Search (`/`): by address, fingerprint or 16-digit key ID, the same terms HKP accepts
// (src/directory/search-terms.ts). A hit shows what a sender needs: the key and its verified user
// IDs, the delivery endpoint, the stamp price, and the DNS names (with the `dig` commands) that
// publish it, from the same read model and record shape as GET /v1/records; and whether the
// address's zone is signed with DNSSEC, with the commands that show or validate the signatures.
// Every miss, whatever the reason (never uploaded, unverified, withdrawn, unknown domain), is the
// same "nothing published" page with the same status, so the page tells no one whether an address
// exists in the directory at all.
import type { FastifyPluginAsync } from 'fastify';
import { addressRecord, type AddressRecord } from '../directory/address-record.js';
import type { Directory, ServedKey } from '../directory/directory.js';
import { algorithmName, delegationRecords } from '../dns/dnssec/delegation.js';
import { KEY_DUTIES } from '../dns/dnssec/key-states.js';
import { parseSearchTerm } from '../directory/search-terms.js';
import { armor } from '../protocol/armor.js';
import { addressOfUserId } from '../protocol/address.js';
import { NO_REQUIREMENT, describeRequirement } from '../protocol/requirement.js';
import type { WebContext } from './web-context.js';

export interface DigLine {
  what: string;
  command: string;
}

/** The zone's DNSSEC state as a visitor can check it. */
export interface DnssecView {
  signed: boolean;
  /** "13 (ECDSAP256SHA256), key tag 12345" for each signing key. */
  keys: string[];
  digs: DigLine[];
}

export interface AddressView extends AddressRecord {
  userId: string;
  zone: string;
  digs: DigLine[];
  dnssec: DnssecView;
  /** What mail the address accepts, in words ("encrypted and signed"); null when any. */
  accepts: string | null;
}

export interface KeyView {
  fingerprint: string;
  userIds: string[];
  armored: string;
  /** Where the armoured key downloads from (the VKS API). */
  download: string;
  addresses: AddressView[];
}

/** The `dig` commands that show each record publishing `record` (names from address-record.ts). */
export function digLines(record: AddressRecord, zone: string): DigLine[] {
  return [
    { what: 'The key (OPENPGPKEY, RFC 7929)', command: `dig +short ${record.dns.openpgpkey} OPENPGPKEY` },
    { what: 'Fingerprint, endpoint, price and requirement of the address', command: `dig +short ${record.dns.keypost} TXT` },
    { what: 'The zone’s policy (API, endpoint, price, requirement)', command: `dig +short _keypost.${zone} TXT` },
    { what: 'Fingerprint for GnuPG’s PKA (CERT)', command: `dig +short ${record.dns.pka} CERT` },
  ];
}

/**
 * Signed: `dig +dnssec` shows the RRSIG next to the record, and BIND's `delv` validates the chain
 * from the root trust anchor (RFC 4035 §5), which succeeds only once the parent holds the DS.
 * Unsigned: asking for the zone's DNSKEY shows there is none.
 */
export function dnssecView(record: AddressRecord, zone: string, keys: readonly { flags: number; algorithm: number; publicKey: Buffer }[]): DnssecView {
  const delegation = delegationRecords(zone, keys);
  if (delegation.length === 0) {
    return { signed: false, keys: [], digs: [{ what: 'The zone’s keys (none: its answers carry no signatures)', command: `dig +dnssec ${zone} DNSKEY` }] };
  }
  return {
    signed: true,
    keys: delegation.map((k) => `${k.algorithm} (${algorithmName(k.algorithm)}), key tag ${k.keyTag}`),
    digs: [
      { what: 'The key with its signature (RRSIG)', command: `dig +dnssec ${record.dns.openpgpkey} OPENPGPKEY` },
      { what: 'Validated from the root of the DNS (BIND’s delv)', command: `delv ${record.dns.keypost} TXT` },
    ],
  };
}

async function addressView(directory: Directory, address: string, now: Date, fingerprint?: string): Promise<AddressView | undefined> {
  const { lookups } = directory;
  const entry = await lookups.address(address);
  if (!entry || (fingerprint !== undefined && entry.fingerprint !== fingerprint)) return undefined;
  const zone = await lookups.zone(entry.domain);
  if (!zone) return undefined;
  const record = addressRecord(entry, zone, lookups, now);
  const accepts = record.require === NO_REQUIREMENT ? null : describeRequirement(record.require);
  return { ...record, userId: entry.userId, zone: zone.name, digs: digLines(record, zone.name), dnssec: dnssecView(record, zone.name, zone.signingKeys.filter((k) => KEY_DUTIES[k.state].published)), accepts };
}

/** A key found by fingerprint or key ID, with only its published addresses; undefined if it has none. */
async function keyView(directory: Directory, key: ServedKey, now: Date): Promise<KeyView | undefined> {
  if (key.userIds.length === 0) return undefined;
  const addresses: AddressView[] = [];
  for (const userId of key.userIds) {
    const address = addressOfUserId(userId);
    const view = address && (await addressView(directory, address, now, key.fingerprint));
    if (view) addresses.push(view);
  }
  return {
    fingerprint: key.fingerprint,
    userIds: key.userIds,
    armored: armor(key.key),
    download: `/vks/v1/by-fingerprint/${key.fingerprint}`,
    addresses,
  };
}

export type SearchOutcome = { kind: 'found'; keys: KeyView[] } | { kind: 'nothing' } | { kind: 'unsupported'; reason: string };

export async function search(directory: Directory, query: string, now: Date): Promise<SearchOutcome> {
  const term = parseSearchTerm(query);
  if (term.kind === 'unsupported') return { kind: 'unsupported', reason: term.reason };
  if (term.kind === 'address') {
    const view = await addressView(directory, term.value, now);
    if (!view) return { kind: 'nothing' };
    const key: KeyView = {
      fingerprint: view.fingerprint,
      userIds: [view.userId],
      armored: view.key,
      download: `/vks/v1/by-email/${encodeURIComponent(view.address)}`,
      addresses: [view],
    };
    return { kind: 'found', keys: [key] };
  }
  const found = term.kind === 'fingerprint' ? await directory.keysByFingerprint(term.value) : await directory.keysByKeyId(term.value);
  const keys: KeyView[] = [];
  for (const key of found) {
    const view = await keyView(directory, key, now);
    if (view) keys.push(view);
  }
  return keys.length ? { kind: 'found', keys } : { kind: 'nothing' };
}

export function searchPage({ directory, services }: WebContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { q?: string } }>('/', async (request, reply) => {
      const query = typeof request.query.q === 'string' ? request.query.q.trim().slice(0, 400) : '';
      if (!query) return reply.view('search.eta', { title: 'Find a key', nav: 'search', query, outcome: null });
      const outcome = await search(directory, query, services.now());
      // A search that finds nothing is still a search page (200): a 404 would mark the address as
      // known-absent for crawlers and caches, and every miss must look the same anyway.
      const title = outcome.kind === 'found' ? `Published for ${query}` : outcome.kind === 'nothing' ? 'Nothing published' : 'Cannot search for that';
      return reply.view('search.eta', { title, nav: 'search', query, outcome });
    });
  };
}
