// Sender-side fixtures: a keypost (DNS, API and gateway) running in this process on port 0 against
// the test database, keys published through the real owner API, and, for the checks that must
// fail, rows changed behind the directory's back the way a stale or tampered record would look.
import * as openpgp from 'openpgp';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { bumpZoneSerial } from '../../src/db/change-feed.js';
import { createDomain } from '../../src/directory/domains.js';
import { minimalKeyFor } from '../../src/keys/minimal-key.js';
import { checkKey } from '../../src/keys/key-policy.js';
import { startKeypost, type RunningKeypost } from '../../src/main.js';
import { lookupAddress, type LookupResult } from '../../src/client/lookup.js';
import type { DnsServer } from '../../src/client/stub-resolver.js';
import type { TestDatabase } from '../support/database.js';
import { ownerPublish } from '../directory/write-side.js';

export interface RunningSite {
  keypost: RunningKeypost;
  dns: DnsServer;
  dnsAddress: string;
  apiBase: string;
  gateway: string;
  close(): Promise<void>;
}

function hostPort(address: string): DnsServer {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

export async function startSite(testDb: TestDatabase, env: Record<string, string> = {}): Promise<RunningSite> {
  const config = loadConfig({
    ...testDb.env,
    KEYPOST_DNS_LISTEN: '127.0.0.1:0',
    KEYPOST_HTTP_LISTEN: '127.0.0.1:0',
    KEYPOST_SMTP_LISTEN: '127.0.0.1:0',
    KEYPOST_RATE_LIMIT_MAX: '10000',
    KEYPOST_RELAY_POLL_INTERVAL: '200ms',
    ...env,
  });
  const keypost = await startKeypost({ config, log: pino({ level: process.env.KEYPOST_TEST_LOG ?? 'silent' }) });
  return {
    keypost,
    dns: hostPort(keypost.addresses.dns!),
    dnsAddress: keypost.addresses.dns!,
    apiBase: `http://${keypost.addresses.api}`,
    gateway: keypost.addresses.gateway!,
    close: () => keypost.close(),
  };
}

export interface Zone {
  name: string;
  token: string;
}

export async function addZone(
  testDb: TestDatabase,
  name: string,
  policy: { powBits?: number; endpoint?: string; nextHop?: string; apiUrl?: string },
): Promise<Zone> {
  const { ownerToken } = await testDb.db.transaction().execute((tx) => createDomain(tx, { name, policy, now: new Date() }));
  return { name, token: ownerToken };
}

export interface TestKey {
  publicKey: string;
  privateKey: string;
  fingerprint: string;
}

export async function makeKey(
  email: string,
  options: { rsa?: boolean; keyExpirationTime?: number; signOnly?: boolean } = {},
): Promise<TestKey> {
  const { publicKey, privateKey } = await openpgp.generateKey({
    ...(options.rsa ? { type: 'rsa' as const, rsaBits: 4096 } : { type: 'ecc' as const, curve: 'ed25519Legacy' as const }),
    userIDs: [{ name: email.split('@')[0], email }],
    keyExpirationTime: options.keyExpirationTime,
    subkeys: options.signOnly ? [] : undefined,
    format: 'armored',
  });
  const key = await openpgp.readKey({ armoredKey: publicKey });
  return { publicKey, privateKey, fingerprint: key.getFingerprint().toUpperCase() };
}

/** Publishes through the owner API; `overrides` are the address's own ep/pow. */
export async function publish(site: RunningSite, zone: Zone, address: string, key: TestKey, overrides: { endpoint?: string; pow?: number } = {}): Promise<void> {
  await ownerPublish(site.apiBase, zone.name, zone.token, address, key.publicKey, overrides);
}

/**
 * Replaces the key DNS serves for `address` (the OPENPGPKEY record) without touching the
 * fingerprint on record: what a stale secondary or a tampered zone would serve.
 */
export async function serveOtherKey(testDb: TestDatabase, address: string, armoredKey: string): Promise<void> {
  const checked = await checkKey(armoredKey, { now: new Date() });
  if (checked.status !== 'valid' && checked.status !== 'revoked') throw new Error(`unusable test key: ${checked.status}`);
  const owner = checked.key.addresses[0]?.address ?? address;
  const minimal = await minimalKeyFor(checked.key.stripped, owner);
  const domain = address.slice(address.lastIndexOf('@') + 1);
  await testDb.db.transaction().execute(async (tx) => {
    await tx.updateTable('addresses').set({ minimal_key: Buffer.from(minimal) }).where('address', '=', address).execute();
    await bumpZoneSerial(tx, domain);
  });
}

/** A revoked copy of the key (the holder's revocation certificate applied). */
export async function revokedCopy(key: TestKey): Promise<string> {
  const privateKey = await openpgp.readPrivateKey({ armoredKey: key.privateKey });
  const { publicKey } = await openpgp.revokeKey({ key: privateKey, format: 'armored' });
  return publicKey;
}

/**
 * Looks up until `ready` holds: DNS follows the change feed a moment after each write (a zone
 * added a moment ago may still be REFUSED).
 */
export async function lookupWhen(
  address: string,
  site: RunningSite,
  ready: (result: LookupResult) => boolean,
  options: { now?: Date } = {},
): Promise<LookupResult> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    let result: LookupResult | undefined;
    try {
      result = await lookupAddress(address, { dns: site.dns, timeoutMs: 2000, now: options.now });
    } catch (err) {
      if ((err as { code?: string }).code !== 'CLIENT_DNS_FAILED' || Date.now() > deadline) throw err;
    }
    if (result && (ready(result) || Date.now() > deadline)) return result;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const statuses = (result: LookupResult): Record<string, string> =>
  Object.fromEntries(result.checks.map((c) => [c.name, c.status]));
