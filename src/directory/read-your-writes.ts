// Read-your-writes (issue 15 item 17): a write that succeeded brings this node's read model up to
// what it committed before the answer leaves, so the client's next request to this node (records,
// VKS, WKD, DNS, the gateway, a web page) already shows it, whatever the change feed's delay.
// An onSend hook, shared by every room that takes writes over HTTP.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PublishedModel } from '../published/model.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function readYourWrites(published: PublishedModel) {
  return async <T>(request: FastifyRequest, reply: FastifyReply, payload: T): Promise<T> => {
    if (WRITES.has(request.method) && reply.statusCode < 400) {
      // The write is committed either way; a failed catch-up only loses the shortcut.
      await published.catchUp().catch((err) => request.log.warn({ err }, 'catching the read model up after a write failed'));
    }
    return payload;
  };
}
