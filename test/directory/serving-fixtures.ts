// Read-side fixtures: real services (database, change feed, metrics) around a test database, and
// rows written the way the write side stores them (stripped key, per-address minimal key, zone
// serial bumped in the same transaction), so the serving tests do not depend on the owner API.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { bumpZoneSerial, createChangeFeed, notifyZoneChanged, type ChangeFeed } from '../../src/db/change-feed.js';
import { buildHttpApp } from '../../src/http/app.js';
import { minimalKeyFor, type CheckedKey } from '../../src/keys/key-policy.js';
import { servingRoutes } from '../../src/directory/serving-routes.js';
import type { Services } from '../../src/lifecycle.js';
import { createMetrics } from '../../src/metrics.js';
import { createPublishedModel } from '../../src/published/model.js';
import type { TestDatabase } from '../support/database.js';

export interface ServingApp {
  app: FastifyInstance;
  services: Services;
  /** Resolves on the next change notification for `zone` (after the cache has seen it). */
  nextChange(zone: string): Promise<void>;
  close(): Promise<void>;
}

export async function startServingApp(db: TestDatabase, options: { now?: () => Date } = {}): Promise<ServingApp> {
  const log = pino({ level: 'silent' });
  const config = loadConfig({ ...db.env, KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_POW_DEFAULT_BITS: '20' });
  const changeFeed: ChangeFeed = createChangeFeed(db, log, { pollIntervalMs: 50 });
  await changeFeed.start();
  const published = createPublishedModel({ db: db.db, changeFeed, log, defaultPowBits: config.pow.defaultBits });
  const services: Services = { config, log, database: db, metrics: createMetrics(), changeFeed, published, now: options.now ?? (() => new Date()) };
  const app = await buildHttpApp({ db: db.db, log, metrics: services.metrics, routes: [servingRoutes(services)] });
  await app.ready();
  return {
    app,
    services,
    nextChange(zone) {
      return new Promise((resolve) => {
        const off = changeFeed.onZoneChange((changed) => {
          if (changed !== zone) return;
          off();
          resolve();
        });
      });
    },
    async close() {
      await app.close();
      await published.close();
      await changeFeed.close();
    },
  };
}

export async function insertDomain(db: TestDatabase, name: string, policy: { powBits?: number; endpoint?: string } = {}): Promise<void> {
  await db.db.transaction().execute(async (tx) => {
    await tx
      .insertInto('domains')
      .values({
        name,
        serial: 1,
        pow_bits: policy.powBits ?? null,
        endpoint: policy.endpoint ?? null,
        next_hop: null,
        api_url: null,
        owner_token_hash: randomBytes(32),
        dns: JSON.stringify({ nameservers: [] }),
      })
      .execute();
    await notifyZoneChanged(tx, name);
  });
}

export interface PublishOptions {
  endpoint?: string;
  powBits?: number;
}

/**
 * Stores `key` (all its user IDs, as checkKey stripped it) and publishes `address` with its
 * minimal key. The served copy by fingerprint must still show only published user IDs.
 */
export async function publishRow(db: TestDatabase, key: CheckedKey, address: string, options: PublishOptions = {}): Promise<void> {
  const identity = key.addresses.find((a) => a.address === address);
  if (!identity) throw new Error(`${address} is not in the key`);
  const [local, domain] = address.split('@');
  const minimal = Buffer.from(await minimalKeyFor(key.stripped, address));
  await db.db.transaction().execute(async (tx) => {
    const keyRow = {
      key_ids: key.keyIds,
      key_data: Buffer.from(key.stripped),
      algorithm: key.algorithm,
      bits: key.bits,
      created_at: key.createdAt,
      expires_at: key.expiresAt,
    };
    await tx
      .insertInto('keys')
      .values({ fingerprint: key.fingerprint, ...keyRow })
      .onConflict((oc) => oc.column('fingerprint').doUpdateSet(keyRow))
      .execute();
    const addressRow = {
      domain,
      local_part: local,
      fingerprint: key.fingerprint,
      minimal_key: minimal,
      user_id: identity.userId,
      status: 'published' as const,
      source: 'owner' as const,
      endpoint: options.endpoint ?? null,
      next_hop: null,
      pow_bits: options.powBits ?? null,
    };
    await tx
      .insertInto('addresses')
      .values({ address, ...addressRow })
      .onConflict((oc) => oc.column('address').doUpdateSet(addressRow))
      .execute();
    await bumpZoneSerial(tx, domain);
  });
}

export async function withdrawRow(db: TestDatabase, address: string): Promise<void> {
  await db.db.transaction().execute(async (tx) => {
    const row = await tx
      .updateTable('addresses')
      .set({ status: 'withdrawn' })
      .where('address', '=', address)
      .returning('domain')
      .executeTakeFirstOrThrow();
    await bumpZoneSerial(tx, row.domain);
  });
}
