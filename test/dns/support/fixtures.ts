// Zones and published addresses written straight into the tables the DNS server reads, each address
// change logged and bumping the zone serial in the same transaction (recordZoneChange, as every
// writer of published data must).
import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import type { Db, ZoneDnsSettings } from '../../../src/db/database.js';
import { bumpZoneSerial, notifyZoneChanged } from '../../../src/db/change-feed.js';
import { recordZoneChange } from '../../../src/transparency/record-changes.js';

export interface TestKey {
  /** Binary transferable public key (what OPENPGPKEY publishes). */
  binary: Buffer;
  armored: string;
  fingerprint: string;
  keyIds: string[];
  algorithm: string;
  bits: number | null;
  created: Date;
}

export async function makeKey(email: string, kind: 'ed25519' | 'rsa4096' = 'ed25519'): Promise<TestKey> {
  const { publicKey } =
    kind === 'rsa4096'
      ? await openpgp.generateKey({ type: 'rsa', rsaBits: 4096, userIDs: [{ email }], format: 'object' })
      : await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email }], format: 'object' });
  return {
    binary: Buffer.from(publicKey.write()),
    armored: publicKey.armor(),
    fingerprint: publicKey.getFingerprint().toUpperCase(),
    keyIds: [publicKey, ...publicKey.subkeys].map((k) => k.getKeyID().toHex().toUpperCase()),
    algorithm: kind,
    bits: kind === 'rsa4096' ? 4096 : null,
    created: publicKey.getCreationTime(),
  };
}

export interface ZoneOptions {
  dns?: Partial<ZoneDnsSettings>;
  powBits?: number | null;
  endpoint?: string | null;
  apiUrl?: string | null;
}

export async function addZone(db: Db, name: string, options: ZoneOptions = {}): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('domains')
      .values({
        name,
        serial: 2026112701,
        pow_bits: options.powBits ?? null,
        endpoint: options.endpoint ?? null,
        next_hop: null,
        api_url: options.apiUrl ?? null,
        owner_token_hash: randomBytes(32),
        dns: JSON.stringify({ nameservers: [], ...options.dns }),
      })
      .execute();
    await notifyZoneChanged(tx, name);
  });
}

export async function updateZoneDns(db: Db, name: string, dns: Partial<ZoneDnsSettings>): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('domains').select('dns').where('name', '=', name).executeTakeFirstOrThrow();
    const current = typeof row.dns === 'string' ? JSON.parse(row.dns) : row.dns;
    await tx.updateTable('domains').set({ dns: JSON.stringify({ ...current, ...dns }) }).where('name', '=', name).execute();
    await bumpZoneSerial(tx, name);
  });
}

export interface PublishOptions {
  endpoint?: string | null;
  powBits?: number | null;
}

export async function publish(db: Db, address: string, key: TestKey, options: PublishOptions = {}): Promise<void> {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at).toLowerCase();
  const domain = address.slice(at + 1).toLowerCase();
  await db.transaction().execute(async (tx) => {
    await tx
      .insertInto('keys')
      .values({
        fingerprint: key.fingerprint,
        key_ids: key.keyIds,
        key_data: key.binary,
        algorithm: key.algorithm,
        bits: key.bits,
        created_at: key.created,
      })
      .onConflict((oc) => oc.column('fingerprint').doNothing())
      .execute();
    const row = {
      address: `${local}@${domain}`,
      domain,
      local_part: local,
      fingerprint: key.fingerprint,
      minimal_key: key.binary,
      user_id: `<${address}>`,
      status: 'published' as const,
      source: 'owner' as const,
      endpoint: options.endpoint ?? null,
      next_hop: null,
      pow_bits: options.powBits ?? null,
    };
    await tx
      .insertInto('addresses')
      .values(row)
      .onConflict((oc) => oc.column('address').doUpdateSet({ ...row, updated_at: new Date() }))
      .execute();
    await recordZoneChange(tx, domain);
  });
}

export async function withdraw(db: Db, address: string): Promise<void> {
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  await db.transaction().execute(async (tx) => {
    await tx.updateTable('addresses').set({ status: 'withdrawn' }).where('address', '=', address.toLowerCase()).execute();
    await recordZoneChange(tx, domain);
  });
}
