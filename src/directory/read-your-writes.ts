// Read-your-writes (issue 15 item 17): a write that succeeded brings this node's read model up to
// what it committed before the answer leaves, so the client's next request to this node (records,
// VKS, WKD, DNS, the gateway, a web page) already shows it, whatever the change feed's delay.
// An onSend hook, shared by every room that takes writes over HTTP. It is callback-style so that a
// read (nearly every request) passes straight through: an async hook costs every GET a promise and
// a microtask turn, which bench:directory measured on the lookup routes.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PublishedModel } from '../published/model.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function readYourWrites(published: PublishedModel) {
  return <T>(request: FastifyRequest, reply: FastifyReply, payload: T, done: (err: Error | null, payload: T) => void): void => {
    if (!WRITES.has(request.method) || reply.statusCode >= 400) return done(null, payload);
    // The write is committed either way; a failed catch-up only loses the shortcut.
    published.catchUp().then(
      () => done(null, payload),
      (err: unknown) => {
        request.log.warn({ err }, 'catching the read model up after a write failed');
        done(null, payload);
      },
    );
  };
}
