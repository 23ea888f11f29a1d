// The owner API for lists: the zone's owner token (as for /v1/domains/:domain) covers the lists
// of that zone and their members. The same operations as `keypost list ...` (list-admin.ts).
//
//   GET    /v1/domains/:domain/lists                          the zone's lists
//   PUT    /v1/domains/:domain/lists/:list                    make a list (or change it)
//   GET    /v1/domains/:domain/lists/:list
//   PATCH  /v1/domains/:domain/lists/:list                    owner, posting, content
//   DELETE /v1/domains/:domain/lists/:list
//   GET    /v1/domains/:domain/lists/:list/members
//   PUT    /v1/domains/:domain/lists/:list/members/:member    add (key from DNS, or `keytext`)
//   DELETE /v1/domains/:domain/lists/:list/members/:member
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { bearer } from '../directory/owner-routes.js';
import { ownerZone } from '../directory/owner-service.js';
import { KeypostError } from '../errors.js';
import { parseAddress } from '../protocol/address.js';
import type { SealedBox } from '../secrets/sealed-box.js';
import { addMember, changeList, createList, listMembers, removeList, removeMember, showList, viewOf } from './list-admin.js';
import { findList, listsOfDomain, type ListChange } from './list-store.js';
import type { MemberKeyFinder } from './member-keys.js';

export interface ListRouteOptions {
  db: Db;
  now(): Date;
  openBox(): SealedBox;
  findKey: MemberKeyFinder;
}

interface PolicyBody {
  owner?: string | null;
  posting?: 'members' | 'open';
  content?: 'encrypted' | 'any';
}

const errorSchema = { type: 'object', properties: { error: { type: 'string' }, code: { type: 'string' } } } as const;
const security = [{ ownerToken: [] }];
const policyBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    owner: { type: ['string', 'null'], maxLength: 320 },
    posting: { type: 'string', enum: ['members', 'open'], description: 'members: only posts signed by a member\'s key (default); open: anyone' },
    content: { type: 'string', enum: ['encrypted', 'any'], description: 'encrypted: only posts encrypted to the list key (default); any' },
  },
} as const;
const listParams = { type: 'object', required: ['domain', 'list'], properties: { domain: { type: 'string' }, list: { type: 'string' } } } as const;
const memberParams = {
  type: 'object',
  required: ['domain', 'list', 'member'],
  properties: { domain: { type: 'string' }, list: { type: 'string' }, member: { type: 'string' } },
} as const;

function changeOf(body: PolicyBody): ListChange {
  return {
    owner: body.owner === '' ? null : body.owner,
    membersOnly: body.posting === undefined ? undefined : body.posting === 'members',
    encryptedOnly: body.content === undefined ? undefined : body.content === 'encrypted',
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The zone the list routes' bearer token was checked against. */
    listZone?: string;
  }
}

/** The list in the path, canonical, and inside the authorised zone. */
function listInZone(request: FastifyRequest<{ Params: { list: string } }>): string {
  const { address, domain } = parseAddress(request.params.list);
  if (domain !== request.listZone) throw new KeypostError('DIR_ADDRESS_OUTSIDE_DOMAIN', `${address} is not in ${request.listZone}; this token only covers ${request.listZone}`);
  return address;
}

export function listRoutes(options: ListRouteOptions): FastifyPluginAsync {
  const { db } = options;
  return async (app: FastifyInstance) => {
    app.addHook('onRequest', async (request: FastifyRequest<{ Params: { domain?: string } }>) => {
      const zone = await ownerZone(db, request.params.domain ?? '', bearer(request));
      if (!zone) throw new KeypostError('AUTH_FORBIDDEN', 'this token does not cover that domain');
      request.listZone = zone;
    });

    app.get<{ Params: { domain: string } }>(
      '/v1/domains/:domain/lists',
      { schema: { summary: "The zone's mailing lists", tags: ['lists'], security, response: { '4xx': errorSchema } } },
      async (request) => ({ lists: (await listsOfDomain(db, request.listZone!)).map(viewOf) }),
    );

    app.put<{ Params: { domain: string; list: string }; Body: PolicyBody }>(
      '/v1/domains/:domain/lists/:list',
      {
        schema: {
          summary: 'Make a list (keypost generates and publishes its key), or change an existing one',
          tags: ['lists'],
          security,
          params: listParams,
          body: policyBody,
          response: { '4xx': errorSchema },
        },
      },
      async (request, reply) => {
        const address = listInZone(request);
        const body = request.body ?? {};
        if (await findList(db, address)) return changeList(db, address, changeOf(body));
        const change = changeOf(body);
        const made = await createList(db, { box: options.openBox(), now: options.now() }, { address, owner: change.owner, membersOnly: change.membersOnly, encryptedOnly: change.encryptedOnly });
        return reply.status(201).send(made);
      },
    );

    app.get<{ Params: { domain: string; list: string } }>(
      '/v1/domains/:domain/lists/:list',
      { schema: { summary: 'A list: its key fingerprint, owner and posting policy', tags: ['lists'], security, params: listParams, response: { '4xx': errorSchema } } },
      async (request) => showList(db, listInZone(request)),
    );

    app.patch<{ Params: { domain: string; list: string }; Body: PolicyBody }>(
      '/v1/domains/:domain/lists/:list',
      {
        schema: { summary: "Change a list's owner or posting policy", tags: ['lists'], security, params: listParams, body: { ...policyBody, minProperties: 1 }, response: { '4xx': errorSchema } },
      },
      async (request) => changeList(db, listInZone(request), changeOf(request.body)),
    );

    app.delete<{ Params: { domain: string; list: string } }>(
      '/v1/domains/:domain/lists/:list',
      { schema: { summary: "Remove a list: its address is withdrawn, its members and key forgotten", tags: ['lists'], security, params: listParams, response: { '4xx': errorSchema } } },
      async (request, reply) => {
        await removeList(db, listInZone(request));
        return reply.status(204).send();
      },
    );

    app.get<{ Params: { domain: string; list: string } }>(
      '/v1/domains/:domain/lists/:list/members',
      { schema: { summary: "A list's members, their keys and whether they are paused", tags: ['lists'], security, params: listParams, response: { '4xx': errorSchema } } },
      async (request) => ({ members: await listMembers(db, listInZone(request)) }),
    );

    app.put<{ Params: { domain: string; list: string; member: string }; Body: { keytext?: string } | undefined }>(
      '/v1/domains/:domain/lists/:list/members/:member',
      {
        schema: {
          summary: "Add a member (or renew its key): its key is found through DNS with keypost lookup's checks, or given as keytext",
          tags: ['lists'],
          security,
          params: memberParams,
          body: { type: ['object', 'null'], additionalProperties: false, properties: { keytext: { type: 'string', maxLength: 1_000_000 } } },
          response: { '4xx': errorSchema },
        },
      },
      async (request) => addMember(db, { findKey: options.findKey, now: options.now() }, listInZone(request), request.params.member, request.body?.keytext),
    );

    app.delete<{ Params: { domain: string; list: string; member: string } }>(
      '/v1/domains/:domain/lists/:list/members/:member',
      { schema: { summary: 'Remove a member', tags: ['lists'], security, params: memberParams, response: { '4xx': errorSchema } } },
      async (request, reply) => {
        await removeMember(db, listInZone(request), request.params.member);
        return reply.status(204).send();
      },
    );
  };
}
