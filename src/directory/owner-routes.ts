// The domain owner's API: bearer token per zone. The token is checked against the hash stored for
// the zone named in the path, and every address in a request must belong to that same zone, so a
// token for example.org can never read or change anything of example.net.
import type {} from '@fastify/swagger';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { KP1_MAX_POW_BITS } from '../protocol/kp1.js';
import { REQUIREMENTS } from '../protocol/requirement.js';
import { KeypostError } from '../errors.js';
import type { Domain } from './domains.js';
import type { KeyCheckPool } from './key-check-pool.js';
import { parseAddress } from '../protocol/address.js';
import { listZone, overridesFrom, ownerZone, publishAsOwner, setZonePolicy, withdrawZoneAddress, type PolicyInput } from './owner-service.js';
import { setAddressOverrides } from './publish.js';
import { UPLOAD_BODY_LIMIT } from './self-service-routes.js';
import { KEYTEXT_SCHEMA } from './keytext-schema.js';


export interface OwnerRouteOptions {
  db: Db;
  now(): Date;
  /** Where uploaded keys are judged (worker threads). */
  keyChecks: KeyCheckPool;
}

const nullableString = { type: ['string', 'null'] } as const;
const nullablePow = { type: ['integer', 'null'], minimum: 0, maximum: KP1_MAX_POW_BITS } as const;
/** What protection mail must carry (src/protocol/requirement.ts); null returns to the default. */
const nullableRequire = {
  type: ['string', 'null'],
  enum: [...REQUIREMENTS, null],
  description: 'none, encrypted, signed or encrypted,signed; null: the zone\'s (on an address) or none (on a zone)',
} as const;
const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, code: { type: 'string' }, property: { type: 'string', description: 'the unknown body property refused' } },
} as const;
const security = [{ ownerToken: [] }];
const domainParams = { type: 'object', required: ['domain'], properties: { domain: { type: 'string' } } } as const;
const addressParams = {
  type: 'object',
  required: ['domain', 'address'],
  properties: { domain: { type: 'string' }, address: { type: 'string' } },
} as const;

interface Overrides {
  endpoint?: string | null;
  next_hop?: string | null;
  pow?: number | null;
  require?: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The zone the bearer token was checked against (set by the owner auth hook). */
    ownerZone?: string;
  }
}

/** The owner token of a request (`Authorization: Bearer <token>`); AUTH_REQUIRED without one. */
export function bearer(request: FastifyRequest): string {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new KeypostError('AUTH_REQUIRED', 'send the domain owner token as "Authorization: Bearer <token>"');
  return match[1];
}

function describeDomain(domain: Domain) {
  return {
    domain: domain.name,
    serial: domain.serial,
    pow: domain.powBits,
    endpoint: domain.endpoint,
    next_hop: domain.nextHop,
    api: domain.apiUrl,
    require: domain.requirement,
  };
}

/** The address in the path, canonical, and required to be inside the authorised zone. */
function addressInZone(request: FastifyRequest<{ Params: { address: string } }>): string {
  const { address, domain } = parseAddress(request.params.address);
  if (domain !== request.ownerZone) {
    throw new KeypostError('DIR_ADDRESS_OUTSIDE_DOMAIN', `${address} is not in ${request.ownerZone}; this token only covers ${request.ownerZone}`);
  }
  return address;
}

export function ownerRoutes(options: OwnerRouteOptions): FastifyPluginAsync {
  const { db } = options;
  return async (app: FastifyInstance) => {
    // Authenticate before the body is parsed: unauthorised uploads cost no parsing or crypto.
    app.addHook('onRequest', async (request: FastifyRequest<{ Params: { domain?: string } }>) => {
      const zone = await ownerZone(db, request.params.domain ?? '', bearer(request));
      if (!zone) throw new KeypostError('AUTH_FORBIDDEN', 'this token does not cover that domain');
      request.ownerZone = zone;
    });

    app.get<{ Params: { domain: string }; Querystring: { limit?: number; after?: string } }>(
      '/v1/domains/:domain',
      {
        schema: {
          summary: 'Zone policy and its addresses (paged by address)',
          tags: ['owner'],
          security,
          params: domainParams,
          querystring: {
            type: 'object',
            properties: { limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 1000 }, after: { type: 'string', maxLength: 320 } },
          },
          response: { '4xx': errorSchema },
        },
      },
      async (request) => {
        const listing = await listZone(db, request.ownerZone!, { limit: request.query.limit ?? 1000, after: request.query.after });
        return { ...describeDomain(listing.domain), published_addresses: listing.publishedAddresses, addresses: listing.addresses, next: listing.next };
      },
    );

    app.patch<{ Params: { domain: string }; Body: PolicyInput }>(
      '/v1/domains/:domain',
      {
        schema: {
          summary: 'Change the zone policy: stamp price, published endpoint, next hop, API URL, required protection (null clears)',
          tags: ['owner'],
          security,
          params: domainParams,
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { pow: nullablePow, endpoint: nullableString, next_hop: nullableString, api: nullableString, require: nullableRequire },
          },
          response: { '4xx': errorSchema },
        },
      },
      async (request) => describeDomain(await setZonePolicy(db, request.ownerZone!, request.body)),
    );

    app.put<{ Params: { domain: string; address: string }; Body: Overrides & { keytext: string } }>(
      '/v1/domains/:domain/addresses/:address',
      {
        bodyLimit: UPLOAD_BODY_LIMIT,
        schema: {
          summary: 'Publish or replace the key of an address (no mail verification: the owner vouches)',
          tags: ['owner'],
          security,
          params: addressParams,
          body: {
            type: 'object',
            required: ['keytext'],
            additionalProperties: false,
            properties: { keytext: KEYTEXT_SCHEMA, endpoint: nullableString, next_hop: nullableString, pow: nullablePow, require: nullableRequire },
          },
          response: { '4xx': errorSchema },
        },
      },
      async (request) => {
        const address = addressInZone(request);
        return publishAsOwner(db, { keyChecks: options.keyChecks, now: options.now() }, address, request.body.keytext, request.body);
      },
    );

    app.patch<{ Params: { domain: string; address: string }; Body: Overrides }>(
      '/v1/domains/:domain/addresses/:address',
      {
        schema: {
          summary: "Change an address's endpoint, next hop, stamp price or required protection (null returns to the zone policy)",
          tags: ['owner'],
          security,
          params: addressParams,
          body: {
            type: 'object',
            additionalProperties: false,
            minProperties: 1,
            properties: { endpoint: nullableString, next_hop: nullableString, pow: nullablePow, require: nullableRequire },
          },
          response: { '4xx': errorSchema },
        },
      },
      async (request) => {
        const address = addressInZone(request);
        const changed = await db.transaction().execute((tx) => setAddressOverrides(tx, address, overridesFrom(request.body)));
        if (!changed) throw new KeypostError('DIR_ADDRESS_NOT_PUBLISHED', `${address} is not published`);
        return { address, status: 'published' };
      },
    );

    app.delete<{ Params: { domain: string; address: string } }>(
      '/v1/domains/:domain/addresses/:address',
      {
        schema: { summary: 'Withdraw an address', tags: ['owner'], security, params: addressParams, response: { '4xx': errorSchema } },
      },
      async (request, reply) => {
        const address = addressInZone(request);
        await withdrawZoneAddress(db, address);
        return reply.status(204).send();
      },
    );
  };
}
