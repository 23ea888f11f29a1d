// The directory's read side: VKS (keys.openpgp.org API), HKP for gpg, WKD, and keypost's own
// /v1/records. Lookups by address read the read model of what is published (published-lookups.ts);
// lookups by
// fingerprint or key ID query the database (key-lookup.ts). VKS and HKP clients expect plain-text
// errors; /v1/records is JSON like the rest of keypost's API.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { KeypostError } from '../errors.js';
import type { Services } from '../lifecycle.js';
import { registerHkpRoutes } from './hkp-routes.js';
import { keysByFingerprint, keysByKeyId } from './key-lookup.js';
import { PublishedLookups, type PublishedAddress, type PublishedZone } from './published-lookups.js';
import { parseFingerprint, parseKeyId } from './search-terms.js';
import { concatKeys, sendArmoredKey, sendText, type ServingContext } from './serving-context.js';
import { canonicalAddress } from '../protocol/address.js';
import { VKS_BY_FINGERPRINT_PATH } from '../protocol/vks.js';
import { REQUIREMENTS } from '../protocol/requirement.js';
import { registerWkdRoutes } from './wkd-routes.js';
import { addressRecordJson } from './address-record.js';

const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, code: { type: 'string' } },
  required: ['error', 'code'],
} as const;

const recordSchema = {
  type: 'object',
  properties: {
    address: { type: 'string', description: 'Canonical address (local part and domain lowercased)' },
    fingerprint: { type: 'string', description: 'Primary key fingerprint, uppercase hex' },
    key: { type: 'string', description: 'Armoured minimal key: primary key, this address’s user ID, valid subkeys' },
    endpoint: { type: ['string', 'null'], description: 'Where senders deliver (smtp:// URI); null if the zone sets none' },
    pow: { type: 'integer', description: 'Hashcash bits a message to this address must carry' },
    require: {
      type: 'string',
      enum: REQUIREMENTS,
      description: 'What protection a message to this address must carry (req=): the gateway refuses anything else',
    },
    dns: {
      type: 'object',
      description: 'DNS owner names under which the zone publishes this address',
      properties: { openpgpkey: { type: 'string' }, keypost: { type: 'string' }, pka: { type: 'string' } },
      required: ['openpgpkey', 'keypost', 'pka'],
    },
    status: { type: 'string', enum: ['published', 'expired'], description: 'expired: the key expired after it was published' },
    expires: { type: ['string', 'null'], description: 'Key expiry (ISO 8601) or null' },
  },
  required: ['address', 'fingerprint', 'key', 'endpoint', 'pow', 'require', 'dns', 'status', 'expires'],
} as const;

/** Documentation-only schema (no validation: these paths answer plain text or armour). */
function vksDoc(summary: string) {
  return {
    summary,
    tags: ['vks'],
    description: 'Armoured key (application/pgp-keys) carrying only published user IDs; 404 in plain text when absent.',
  };
}

/** `lookups` is the directory's (directory.ts); without one the routes make and close their own. */
export function servingRoutes(services: Services, shared?: PublishedLookups): FastifyPluginAsync {
  return async (app) => {
    const lookups = shared ?? new PublishedLookups(services.published, services.metrics);
    if (!shared) app.addHook('onClose', async () => lookups.close());
    const context: ServingContext = {
      db: services.database.db,
      lookups,
      now: services.now,
    };

    // VKS: https://keys.openpgp.org/about/api. Browsers (Thunderbird's and web clients) fetch
    // these cross-origin, hence the CORS header.
    app.get<{ Params: { fpr: string } }>(`${VKS_BY_FINGERPRINT_PATH}:fpr`, { schema: vksDoc('Key by primary or subkey fingerprint (40 or 64 hex digits)') }, async (request, reply) => {
      const fingerprint = parseFingerprint(request.params.fpr);
      if (!fingerprint) return sendText(reply, 400, 'Invalid fingerprint: expected 40 or 64 hexadecimal digits');
      const keys = await keysByFingerprint(context.db, fingerprint);
      reply.header('access-control-allow-origin', '*');
      return keys.length ? sendArmoredKey(reply, concatKeys(keys)) : sendText(reply, 404, 'No key found for fingerprint ' + fingerprint);
    });

    app.get<{ Params: { id: string } }>('/vks/v1/by-keyid/:id', { schema: vksDoc('Key by primary or subkey key ID (16 hex digits)') }, async (request, reply) => {
      const keyId = parseKeyId(request.params.id);
      if (!keyId) return sendText(reply, 400, 'Invalid key ID: expected 16 hexadecimal digits');
      const keys = await keysByKeyId(context.db, keyId);
      reply.header('access-control-allow-origin', '*');
      return keys.length ? sendArmoredKey(reply, concatKeys(keys)) : sendText(reply, 404, 'No key found for key ID ' + keyId);
    });

    // The two hot routes answer synchronously when the zone snapshot knows the address (see
    // PublishedLookups.peek), and wait for the model's read otherwise.
    app.get<{ Params: { addr: string } }>(
      '/vks/v1/by-email/:addr',
      { schema: vksDoc('Minimal key of a published address: only its user ID') },
      (request, reply) => {
        const address = canonicalAddress(request.params.addr);
        if (!address) return sendText(reply, 400, 'Invalid email address');
        reply.header('access-control-allow-origin', '*');
        const answer = (found: PublishedAddress | null | undefined) =>
          found ? reply.type('application/pgp-keys').send(lookups.armoredKey(found)) : sendText(reply, 404, `No key found for email address ${address}`);
        const known = lookups.peek(address);
        return known === undefined ? lookups.address(address).then(answer) : answer(known);
      },
    );

    app.get<{ Params: { addr: string } }>(
      '/v1/records/:addr',
      {
        schema: {
          summary: 'What a sender needs to write to an address',
          description:
            'The published key (minimal: only this address’s user ID), its fingerprint, the delivery endpoint, the stamp price in bits, and the DNS names carrying the same data.',
          tags: ['records'],
          params: { type: 'object', properties: { addr: { type: 'string', maxLength: 320 } }, required: ['addr'] },
          response: { 200: recordSchema, 400: errorSchema, 404: errorSchema },
        },
      },
      (request, reply) => {
        const address = canonicalAddress(request.params.addr);
        if (!address) throw new KeypostError('DIR_ADDRESS_INVALID', `not a valid mail address: "${request.params.addr}"`);
        const known = lookups.peek(address);
        if (known !== undefined) return sendRecord(reply, address, known, known && lookups.peekZone(known.domain));
        return lookups.address(address).then(async (found) => sendRecord(reply, address, found, found && (await lookups.zone(found.domain))));
      },
    );

    // The same record by the OPENPGPKEY owner label (RFC 7929 §3) instead of the address: the
    // transparency log names addresses only by that label, and its auditor (keypost log verify)
    // checks that the directory serves each label's latest leaf. It tells no more than DNS does at
    // <label>._openpgpkey.<zone>, whose key carries the address.
    app.get<{ Params: { zone: string; label: string } }>(
      '/v1/records/by-label/:zone/:label',
      {
        schema: {
          summary: 'The record of a published address, named by its OPENPGPKEY label (as the transparency log names it)',
          tags: ['records'],
          params: {
            type: 'object',
            properties: { zone: { type: 'string', maxLength: 253 }, label: { type: 'string', maxLength: 64 } },
            required: ['zone', 'label'],
          },
          response: { 200: recordSchema, 400: errorSchema, 404: errorSchema },
        },
      },
      async (request, reply) => {
        const { zone, label } = request.params;
        if (!/^[0-9a-f]{56}$/i.test(label)) throw new KeypostError('DIR_LABEL_INVALID', `not an OPENPGPKEY label (56 hex digits): "${label}"`);
        const domain = zone.toLowerCase().replace(/\.$/, '');
        const found = await lookups.byHashedLabel(domain, 'openpgpkey', label.toLowerCase());
        if (!found) throw new KeypostError('DIR_ADDRESS_NOT_FOUND', `no key is published under ${label.toLowerCase()}._openpgpkey.${domain}`);
        return sendRecord(reply, found.address, found, await lookups.zone(found.domain));
      },
    );

    function sendRecord(
      reply: FastifyReply,
      address: string,
      found: PublishedAddress | null | undefined,
      domain: PublishedZone | null | undefined,
    ): FastifyReply {
      // Withdrawn and never-published addresses look the same: a withdrawal (or an address
      // holder's deletion request) must stop publication, not leave a tombstone.
      if (!found || !domain) throw new KeypostError('DIR_ADDRESS_NOT_FOUND', `no key is published for ${address}`);
      // Serialised with JSON.stringify, once per entry (address-record.ts): the armoured key is most
      // of the body, and V8's native string escaping is several times faster than a schema
      // serializer's.
      return reply.type('application/json; charset=utf-8').send(addressRecordJson(found, domain, lookups, context.now()));
    }

    registerHkpRoutes(app, context);
    registerWkdRoutes(app, context);
  };
}
