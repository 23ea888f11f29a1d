// HKP lookups as GnuPG 2.2's dirmngr sends them (draft-shaw-openpgp-hkp §3):
//   --recv-keys    GET /pks/lookup?op=get&options=mr&search=0x<FPR or 16-hex key ID>
//   --search-keys  GET /pks/lookup?op=index&options=mr&fingerprint=on&search=<address>
// Answers are plain text (gpg shows them), 404 when nothing matches, 501 for operations we do not
// implement. The index is always machine-readable: keypost has no HTML key listing.
import type { FastifyInstance } from 'fastify';
import { formatIndex, type IndexEntry } from './hkp-index.js';
import { keysByFingerprint, keysByKeyId, type ServedKey } from './key-lookup.js';
import type { PublishedAddress } from './published-lookups.js';
import { parseSearchTerm } from './search-terms.js';
import { concatKeys, sendArmoredKey, sendText, type ServingContext } from './serving-context.js';

interface LookupQuery {
  op?: string;
  search?: string;
  options?: string;
  exact?: string;
  fingerprint?: string;
}

function addressEntry(found: PublishedAddress): IndexEntry {
  return {
    fingerprint: found.fingerprint,
    algorithm: found.algorithm,
    bits: found.bits,
    createdAt: new Date(found.createdAt),
    expiresAt: found.expiresAt === null ? null : new Date(found.expiresAt),
    revoked: found.revoked,
    userIds: [found.userId],
  };
}

function keyEntry(key: ServedKey): IndexEntry {
  return {
    fingerprint: key.fingerprint,
    algorithm: key.algorithm,
    bits: key.bits,
    createdAt: key.createdAt,
    expiresAt: key.expiresAt,
    revoked: key.revoked,
    userIds: key.userIds,
  };
}

export function registerHkpRoutes(app: FastifyInstance, context: ServingContext): void {
  app.get<{ Querystring: LookupQuery }>('/pks/lookup', async (request, reply) => {
    const { op, search } = request.query;
    if (typeof op !== 'string' || !op) return sendText(reply, 400, 'Missing op parameter');
    if (op !== 'get' && op !== 'index' && op !== 'vindex') return sendText(reply, 501, `Operation "${op}" is not implemented`);
    if (typeof search !== 'string' || !search) return sendText(reply, 400, 'Missing search parameter');
    const term = parseSearchTerm(search);
    if (term.kind === 'unsupported') return sendText(reply, 400, term.reason);

    if (term.kind === 'address') {
      const found = await context.lookups.address(term.value);
      if (!found) return sendText(reply, 404, 'No keys found');
      // The minimal key: gpg imports it with exactly the user ID it searched for.
      if (op === 'get') return reply.type('application/pgp-keys').send(context.lookups.armoredKey(found));
      return sendText(reply, 200, formatIndex([addressEntry(found)], context.now()));
    }

    const keys = term.kind === 'fingerprint' ? await keysByFingerprint(context.db, term.value) : await keysByKeyId(context.db, term.value);
    if (keys.length === 0) return sendText(reply, 404, 'No keys found');
    if (op === 'get') return sendArmoredKey(reply, concatKeys(keys));
    return sendText(reply, 200, formatIndex(keys.map(keyEntry), context.now()));
  });
}
