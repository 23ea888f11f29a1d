// The directory's HTTP surface: one plugin that registers every directory route plugin.
// Order matters: the OpenAPI collector and the rate limiter hook route registration, so they come
// first; the limiter is opt-in per route (`config.rateLimit`), used by the write endpoints.
//
// Read-your-writes (issue 15 item 17): a write that succeeded brings this node's read model up to
// what it committed before the answer leaves, so the client's next request to this node (records,
// VKS, WKD, DNS, the gateway) already shows it, whatever the change feed's delay.
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../lifecycle.js';
import { registerApiDocs } from './api-docs.js';
import { createKeyCheckPool } from './key-check-pool.js';
import { ownerRoutes } from './owner-routes.js';
import { selfServicePlugin } from './self-service-routes.js';
import { servingRoutes } from './serving-routes.js';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function directoryRoutes(services: Services): FastifyPluginAsync {
  return async (app) => {
    // One pool of key-check threads for every route that judges an uploaded key; its threads
    // start with the first check and stop when the listener closes.
    const keyChecks = createKeyCheckPool({
      ...services.config.directory.keyChecks,
      log: services.log.child({ component: 'key-checks' }),
      metrics: services.metrics,
    });
    app.addHook('onClose', () => keyChecks.close());
    await registerApiDocs(app);
    await app.register(rateLimit, { global: false });
    app.addHook('onSend', async (request, reply, payload) => {
      if (WRITES.has(request.method) && reply.statusCode < 400) {
        // The write is committed either way; a failed catch-up only loses the shortcut.
        await services.published.catchUp().catch((err) => request.log.warn({ err }, 'catching the read model up after a write failed'));
      }
      return payload;
    });
    await app.register(ownerRoutes({ db: services.database.db, now: services.now, keyChecks }));
    await app.register(selfServicePlugin(services, keyChecks));
    await app.register(servingRoutes(services));
  };
}
