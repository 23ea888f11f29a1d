// The public log API, per zone: the latest signed tree head, leaves, and proofs against the head
// (RFC 9162 §2.1.3 / §2.1.4), hashes in base64 as RFC 9162's own API spells them. Every proof is
// made from the stored subtree hashes, held in memory per zone (log-cache.ts) and extended as the
// change feed reports new heads, so a proof costs no database round trip.
// Proofs and entries are bounded by the latest signed head, never by leaves not yet signed, so
// what this API shows always matches a head anyone can check.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { KeypostError } from '../errors.js';
import type { Services } from '../lifecycle.js';
import { openpgpkeyLabel } from '../protocol/address-hashes.js';
import { parseCanonicalAddress } from '../protocol/address.js';
import { decodeLeaf } from './leaf.js';
import { inclusionAnswer } from './inclusion-answer.js';
import { LogCache, type ZoneLogView } from './log-cache.js';
import { indexOfLeafHash, leavesBetween } from './log-store.js';
import { HASH_SIZE, consistencyRanges, inclusionRanges, type LeafRange } from './merkle.js';
import { formatTreeHeadText, type SignedTreeHead } from './sth.js';

/** Leaves per entries answer; a client asks again from where the answer stopped (as in CT). */
export const MAX_ENTRIES = 1000;

const b64 = (b: Buffer) => b.toString('base64');

// One JSON form per head, and its text: every proof answer carries it.
const headJsonCache = new WeakMap<SignedTreeHead, { json: ReturnType<typeof makeHeadJson>; bytes: Buffer }>();
function heldHead(head: SignedTreeHead) {
  let held = headJsonCache.get(head);
  if (!held) {
    const json = makeHeadJson(head);
    headJsonCache.set(head, (held = { json, bytes: Buffer.from(JSON.stringify(json)) }));
  }
  return held;
}
const headJson = (head: SignedTreeHead) => heldHead(head).json;

function makeHeadJson(head: SignedTreeHead) {
  return {
    zone: head.zone,
    tree_size: head.size,
    root_hash: b64(head.root),
    timestamp: head.time,
    signature: b64(head.signature),
    log_key: b64(head.publicKey),
    txt: formatTreeHeadText(head),
  };
}

function count(name: string, value: string | undefined): number {
  if (value === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new KeypostError('LOG_PARAMETER_INVALID', `${name} must be a whole number ≥ 0`);
  }
  return Number(value);
}

function hashParam(name: string, value: string): Buffer {
  const bytes = /^[A-Za-z0-9+/]{43}=$/.test(value) ? Buffer.from(value, 'base64') : /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : undefined;
  if (!bytes || bytes.length !== HASH_SIZE) throw new KeypostError('LOG_PARAMETER_INVALID', `${name} must be a SHA-256 hash in base64 or hex`);
  return bytes;
}

const querySchema = (properties: Record<string, unknown>) => ({ type: 'object', properties, additionalProperties: false });
const text = { type: 'string', maxLength: 400 };

// Response schemas let fastify serialize answers with a compiled serializer (fast-json-stringify)
// instead of JSON.stringify: proofs are the log's hot route. They list every field the handlers
// return; one the schema omitted would silently vanish, which the API tests would catch.
const headSchema = {
  type: 'object',
  properties: {
    zone: { type: 'string' },
    tree_size: { type: 'integer' },
    root_hash: { type: 'string' },
    timestamp: { type: 'integer' },
    signature: { type: 'string' },
    log_key: { type: 'string' },
    txt: { type: 'string' },
  },
};
const hashList = { type: 'array', items: { type: 'string' } };
const inclusionSchema = {
  type: 'object',
  properties: {
    leaf_index: { type: 'integer' },
    tree_size: { type: 'integer' },
    leaf: { type: 'string' },
    leaf_hash: { type: 'string' },
    inclusion_path: hashList,
    sth: headSchema,
  },
};

export function transparencyRoutes(services: Services): FastifyPluginAsync {
  const db = services.database.db;

  const cache = new LogCache(db, services.changeFeed);

  /** The zone's log as of its latest signed head, from memory (log-cache.ts). */
  async function view(zoneParam: string): Promise<ZoneLogView> {
    const zone = zoneParam.toLowerCase();
    const held = /^[a-z0-9.-]{1,253}$/.test(zone) ? await cache.view(zone) : undefined;
    if (held) return held;
    const served = /^[a-z0-9.-]{1,253}$/.test(zone) && (await db.selectFrom('domains').select('transparency').where('name', '=', zone).executeTakeFirst());
    if (!served) throw new KeypostError('LOG_ZONE_UNKNOWN', `no log for ${zoneParam}: the zone is not served here`);
    if (!served.transparency) throw new KeypostError('LOG_ZONE_UNKNOWN', `no log for ${zone}: its owner turned the zone's transparency log off`);
    throw new KeypostError('LOG_HEAD_PENDING', `the log of ${zone} has no signed tree head yet`, { retry_after: 1 });
  }

  const proof = (log: ZoneLogView, ranges: LeafRange[]) => ranges.map((r) => log.rangeHashBase64(r));

  type InclusionQuery = { address?: string; leaf_hash?: string; tree_size?: string };

  function proveInclusion(log: ZoneLogView, query: InclusionQuery, reply: FastifyReply): Buffer | Promise<object> {
    const sth = log.head;
    const { address, leaf_hash: leafHashParam, tree_size: treeSizeParam } = query;
    if ((address === undefined) === (leafHashParam === undefined)) {
      throw new KeypostError('LOG_PARAMETER_INVALID', 'give either address, or leaf_hash with tree_size');
    }
    if (address !== undefined) {
      if (treeSizeParam !== undefined) throw new KeypostError('LOG_PARAMETER_INVALID', 'tree_size goes with leaf_hash; an address is proved against the latest head');
      const parsed = parseCanonicalAddress(address);
      if (!parsed) throw new KeypostError('LOG_PARAMETER_INVALID', `not a valid mail address: "${address}"`);
      const { address: canonical, domain, localPart } = parsed;
      if (domain !== sth.zone) throw new KeypostError('LOG_PARAMETER_INVALID', `${canonical} is not in ${sth.zone}`);
      const index = log.latestOf(openpgpkeyLabel(localPart));
      if (index === undefined) throw new KeypostError('LOG_LEAF_NOT_FOUND', `${canonical} has no leaf in the log of ${sth.zone}`);
      // The hot route's answer is written as bytes (inclusion-answer.ts); inclusionSchema documents it.
      reply.type('application/json; charset=utf-8');
      return inclusionAnswer(log, index, heldHead(sth).bytes);
    }
    const hash = hashParam('leaf_hash', leafHashParam!);
    const size = count('tree_size', treeSizeParam);
    if (size < 1 || size > sth.size) throw new KeypostError('LOG_RANGE_INVALID', `tree_size must be 1..${sth.size}, the signed tree's size`);
    return indexOfLeafHash(db, sth.zone, hash, size).then((index) => {
      if (index === undefined) throw new KeypostError('LOG_LEAF_NOT_FOUND', `no leaf with that hash in the first ${size} leaves`);
      return { leaf_index: index, tree_size: size, inclusion_path: proof(log, inclusionRanges(index, size)) };
    });
  }

  return async (app) => {
    app.addHook('onClose', async () => cache.close());
    app.get<{ Params: { zone: string } }>(
      '/v1/log/:zone/sth',
      { schema: { summary: 'The latest signed tree head of the zone log', tags: ['transparency'], response: { 200: headSchema } } },
      async (request) => headJson((await view(request.params.zone)).head),
    );

    app.get<{ Params: { zone: string }; Querystring: { start?: string; end?: string } }>(
      '/v1/log/:zone/entries',
      {
        schema: {
          summary: `Leaves start..end (both included), at most ${MAX_ENTRIES} per answer`,
          tags: ['transparency'],
          querystring: querySchema({ start: text, end: text }),
        },
      },
      async (request) => {
        const sth = (await view(request.params.zone)).head;
        const start = count('start', request.query.start);
        const end = count('end', request.query.end);
        if (start > end || end >= sth.size) {
          throw new KeypostError('LOG_RANGE_INVALID', `entries ${start}..${end} are not within the signed tree of ${sth.size} leaves`);
        }
        const leaves = await leavesBetween(db, sth.zone, start, Math.min(end + 1, start + MAX_ENTRIES));
        return {
          entries: leaves.map((l) => {
            const leaf = decodeLeaf(l.leaf);
            return {
              index: l.index,
              leaf: b64(l.leaf),
              action: leaf.action,
              sequence: leaf.sequence,
              time: leaf.time,
              label: leaf.label.toString('hex'),
              fingerprint: leaf.fingerprint,
              key_hash: leaf.keyHash.toString('hex'),
              endpoint: leaf.endpoint,
              pow: leaf.powBits,
            };
          }),
        };
      },
    );

    app.get<{ Params: { zone: string }; Querystring: InclusionQuery }>(
      '/v1/log/:zone/proof/inclusion',
      {
        schema: {
          summary: 'Audit path of the latest leaf of an address (?address=), or of a leaf hash in a tree size (?leaf_hash=&tree_size=)',
          tags: ['transparency'],
          querystring: querySchema({ address: text, leaf_hash: text, tree_size: text }),
          response: { 200: inclusionSchema },
        },
      },
      // Synchronous when the zone's log is held (the usual case): no promise, no microtask turn.
      (request, reply) => {
        const held = cache.peek(request.params.zone.toLowerCase());
        return held ? proveInclusion(held, request.query, reply) : view(request.params.zone).then<Buffer | object>((log) => proveInclusion(log, request.query, reply));
      },
    );

    app.get<{ Params: { zone: string }; Querystring: { first?: string; second?: string } }>(
      '/v1/log/:zone/proof/consistency',
      {
        schema: {
          summary: 'Consistency proof between two tree sizes (RFC 9162 §2.1.4)',
          tags: ['transparency'],
          querystring: querySchema({ first: text, second: text }),
        },
      },
      async (request) => {
        const log = await view(request.params.zone);
        const sth = log.head;
        const first = count('first', request.query.first);
        const second = count('second', request.query.second);
        if (first > second || second > sth.size) {
          throw new KeypostError('LOG_RANGE_INVALID', `no proof from ${first} to ${second}: need first ≤ second ≤ ${sth.size}, the signed tree's size`);
        }
        return { first, second, consistency_path: proof(log, consistencyRanges(first, second)) };
      },
    );
  };
}
