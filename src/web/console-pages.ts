// The domain owner's console (/console): sign in with the zone's owner token, see the zone's
// addresses (paged, searchable by prefix), set the zone's price, endpoint, next hop and API URL,
// withdraw an address, see the DS record for the registrar and the mail waiting for the zone's
// recipients, send deferred mail now, sign out. It calls the same owner service as the owner API
// (src/directory/owner-service.ts) and the same queue functions as `keypost queue`
// (src/gateway/queue-admin.ts). Every form carries a CSRF token and the write rate limit.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { KeypostError } from '../errors.js';
import { listZone, ownerZone, publishAsOwner, setZonePolicy, withdrawZoneAddress } from '../directory/owner-service.js';
import { retryNow } from '../gateway/queue-admin.js';
import { parseAddress } from '../protocol/address.js';
import { KP1_MAX_POW_BITS } from '../protocol/kp1.js';
import { describeError } from './page-errors.js';
import { endSession, sessionZone, startSession } from './owner-session.js';
import { zoneStatus } from './console-zone-status.js';
import { submittedKey, type PublishBody } from './publish-pages.js';
import type { WebContext } from './web-context.js';

const PAGE_SIZE = 50;

interface ConsoleQuery {
  q?: string;
  after?: string;
}

interface PolicyForm {
  pow?: string;
  endpoint?: string;
  next_hop?: string;
  api?: string;
  require?: string;
}

/** A typed price: '' returns to the server default; anything else must be whole bits in range. */
function powFrom(text: string | undefined): number | null | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const bits = Number(trimmed);
  if (!Number.isInteger(bits) || bits < 0 || bits > KP1_MAX_POW_BITS) {
    throw new KeypostError('REQUEST_INVALID', `the stamp price must be a whole number of bits from 0 to ${KP1_MAX_POW_BITS}`);
  }
  return bits;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value.trim() : undefined);

export function consolePages({ services, directory, writeLimit }: WebContext): FastifyPluginAsync {
  const db = services.database.db;
  return async (app) => {
    app.addHook('onSend', async (_request, reply, payload) => {
      reply.header('cache-control', 'no-store');
      return payload;
    });

    async function dashboard(request: FastifyRequest<{ Querystring: ConsoleQuery }>, reply: FastifyReply, zone: string, notice?: { error?: string; saved?: string }, status = 200) {
      const q = text(request.query?.q)?.toLowerCase().slice(0, 320) ?? '';
      const after = text(request.query?.after)?.slice(0, 320);
      const listing = await listZone(db, zone, { limit: PAGE_SIZE, after, prefix: q || undefined });
      const health = await zoneStatus(db, zone, services.now());
      return reply.status(status).view('console.eta', {
        title: `Console for ${zone}`,
        nav: 'console',
        csrf: reply.generateCsrf(),
        zone,
        domain: listing.domain,
        defaultPow: services.config.pow.defaultBits,
        publishedAddresses: listing.publishedAddresses,
        addresses: listing.addresses,
        next: listing.next,
        q,
        ...health,
        ...notice,
      });
    }

    async function requireSession(request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> {
      const zone = await sessionZone(db, request, services.now());
      if (!zone) {
        endSession(reply);
        reply.status(401).view('console-sign-in.eta', { title: 'Domain console', nav: 'console', csrf: reply.generateCsrf(), error: 'Your session has ended. Sign in again.' });
      }
      return zone;
    }

    app.get<{ Querystring: ConsoleQuery }>('/console', async (request, reply) => {
      const zone = await sessionZone(db, request, services.now());
      if (!zone) return reply.view('console-sign-in.eta', { title: 'Domain console', nav: 'console', csrf: reply.generateCsrf() });
      return dashboard(request, reply, zone);
    });

    app.post<{ Body: { zone?: string; token?: string } }>('/console/sign-in', { config: writeLimit, preHandler: app.csrfProtection }, async (request, reply) => {
      const typedZone = text(request.body?.zone) ?? '';
      const token = text(request.body?.token) ?? '';
      const zone = typedZone && token ? await ownerZone(db, typedZone, token) : undefined;
      if (!zone) {
        return reply.status(403).view('console-sign-in.eta', {
          title: 'Domain console',
          nav: 'console',
          csrf: reply.generateCsrf(),
          zone: typedZone,
          error: 'That token does not open that domain.',
        });
      }
      startSession(reply, zone, token, services.now());
      // Post/redirect/get: a reload does not send the token again.
      return reply.redirect('/console', 303);
    });

    app.post<{ Body: PolicyForm; Querystring: ConsoleQuery }>('/console/policy', { config: writeLimit, preHandler: app.csrfProtection }, async (request, reply) => {
      const zone = await requireSession(request, reply);
      if (!zone) return reply;
      try {
        await setZonePolicy(db, zone, {
          pow: powFrom(request.body?.pow),
          endpoint: text(request.body?.endpoint),
          next_hop: text(request.body?.next_hop),
          api: text(request.body?.api),
          require: text(request.body?.require),
        });
      } catch (err) {
        if (!(err instanceof KeypostError)) throw err;
        const { status, message } = describeError(err);
        return dashboard(request, reply, zone, { error: message }, status);
      }
      return dashboard(request, reply, zone, { saved: 'The zone policy is saved and published.' });
    });

    app.post<{ Body: PublishBody & { address?: string }; Querystring: ConsoleQuery }>('/console/publish', { config: writeLimit, preHandler: app.csrfProtection }, async (request, reply) => {
      const zone = await requireSession(request, reply);
      if (!zone) return reply;
      try {
        const { address, domain } = parseAddress(text(request.body?.address) ?? '');
        if (domain !== zone) throw new KeypostError('DIR_ADDRESS_OUTSIDE_DOMAIN', `${address} is not in ${zone}`);
        const key = submittedKey(request.body);
        if (key === undefined) throw new KeypostError('REQUEST_INVALID', 'Choose a key file or paste an armoured public key.');
        const done = await publishAsOwner(db, { keyChecks: directory.keyChecks, now: services.now() }, address, key);
        const saved = done.status === 'published' ? `${address} is published with key ${done.fingerprint}.` : `The key is revoked; its addresses are withdrawn.`;
        return dashboard(request, reply, zone, { saved });
      } catch (err) {
        if (!(err instanceof KeypostError)) throw err;
        const { status, message } = describeError(err);
        return dashboard(request, reply, zone, { error: message }, status);
      }
    });

    app.post<{ Body: { address?: string }; Querystring: ConsoleQuery }>('/console/withdraw', { config: writeLimit, preHandler: app.csrfProtection }, async (request, reply) => {
      const zone = await requireSession(request, reply);
      if (!zone) return reply;
      try {
        const { address, domain } = parseAddress(text(request.body?.address) ?? '');
        if (domain !== zone) throw new KeypostError('DIR_ADDRESS_OUTSIDE_DOMAIN', `${address} is not in ${zone}`);
        await withdrawZoneAddress(db, address);
        return dashboard(request, reply, zone, { saved: `${address} is withdrawn.` });
      } catch (err) {
        if (!(err instanceof KeypostError)) throw err;
        const { status, message } = describeError(err);
        return dashboard(request, reply, zone, { error: message }, status);
      }
    });

    // Deferred recipients of this zone become due now (those being delivered are left alone); a
    // relay worker claims them at its next poll. Other zones' mail is not touched.
    app.post<{ Querystring: ConsoleQuery }>('/console/queue/retry', { config: writeLimit, preHandler: app.csrfProtection }, async (request, reply) => {
      const zone = await requireSession(request, reply);
      if (!zone) return reply;
      const due = await retryNow(db, 'all', { zone });
      const saved = due === 0 ? `No mail for ${zone} is waiting for a retry.` : `${due} ${due === 1 ? 'recipient is' : 'recipients are'} due now: the gateway tries again on its next pass over the queue.`;
      return dashboard(request, reply, zone, { saved });
    });

    app.post('/console/sign-out', { config: writeLimit, preHandler: app.csrfProtection }, async (_request, reply) => {
      endSession(reply);
      return reply.redirect('/console', 303);
    });
  };
}
