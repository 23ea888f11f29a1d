// Web Key Directory (draft-koch-openpgp-webkey-service §3.1):
//   advanced: https://openpgpkey.<domain>/.well-known/openpgpkey/<domain>/hu/<z>?l=<local>
//   direct:   https://<domain>/.well-known/openpgpkey/hu/<z>?l=<local>
// <z> is z-base-32(SHA-1(lowercased local part)); the lookup matches on it, not on `l=` (a
// client may omit or mangle that). The answer is the binary minimal key with only that address's
// user ID. HEAD works (fastify answers HEAD from the GET route), and the `policy` file exists
// (empty: no policy flags) for every served domain, since clients probe it to detect WKD.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendText, type ServingContext } from './serving-context.js';

const ZBASE32_HASH = /^[ybndrfg8ejkmcpqxot1uwisza345h769]{32}$/;

/** The domain of the direct method: the Host the client asked (behind a proxy, X-Forwarded-Host). */
function hostDomain(request: FastifyRequest): string {
  return request.hostname.toLowerCase().replace(/\.$/, '');
}

export function registerWkdRoutes(app: FastifyInstance, context: ServingContext): void {
  async function key(domain: string, hash: string, reply: FastifyReply): Promise<FastifyReply> {
    // Web clients (Mailvelope, FlowCrypt) fetch keys cross-origin; the draft asks for this header.
    reply.header('access-control-allow-origin', '*');
    const found = ZBASE32_HASH.test(hash) ? await context.lookups.byHashedLabel(domain.toLowerCase(), 'wkd', hash) : undefined;
    if (!found) return sendText(reply, 404, 'No key for this address');
    return reply.type('application/octet-stream').send(found.minimalKey);
  }

  async function policy(domain: string, reply: FastifyReply): Promise<FastifyReply> {
    reply.header('access-control-allow-origin', '*');
    if (!(await context.lookups.zone(domain.toLowerCase()))) return sendText(reply, 404, 'Not a domain served here');
    return reply.type('text/plain; charset=utf-8').send('');
  }

  app.get<{ Params: { z: string } }>('/.well-known/openpgpkey/hu/:z', (request, reply) =>
    key(hostDomain(request), request.params.z, reply),
  );
  app.get<{ Params: { domain: string; z: string } }>('/.well-known/openpgpkey/:domain/hu/:z', (request, reply) =>
    key(request.params.domain, request.params.z, reply),
  );
  app.get('/.well-known/openpgpkey/policy', (request, reply) => policy(hostDomain(request), reply));
  app.get<{ Params: { domain: string } }>('/.well-known/openpgpkey/:domain/policy', (request, reply) =>
    policy(request.params.domain, reply),
  );
}
