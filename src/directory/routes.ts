// The directory's HTTP surface: one plugin that registers every directory route plugin.
// Order matters: the OpenAPI collector and the rate limiter hook route registration, so they come
// first; the limiter is opt-in per route (`config.rateLimit`), used by the write endpoints.
// A write that succeeded catches this node's read model up before it answers (read-your-writes.ts).
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../lifecycle.js';
import { registerApiDocs } from './api-docs.js';
import type { Directory } from './directory.js';
import { ownerRoutes } from './owner-routes.js';
import { readYourWrites } from './read-your-writes.js';
import { selfServiceRoutes } from './self-service-routes.js';
import { servingRoutes } from './serving-routes.js';

/**
 * The API routes over `directory`, which they close with the listener. `more` are route plugins of
 * other rooms (the mailing lists' owner routes) that the composition root hands in, so they are
 * documented and read their own writes like the directory's.
 */
export function directoryRoutes(services: Services, directory: Directory, more: FastifyPluginAsync[] = []): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onClose', () => directory.close());
    await registerApiDocs(app);
    await app.register(rateLimit, { global: false });
    app.addHook('onSend', readYourWrites(services.published));
    await app.register(ownerRoutes({ db: services.database.db, now: services.now, keyChecks: directory.keyChecks }));
    await app.register(
      selfServiceRoutes({ service: directory.selfService, rateLimit: services.config.directory.rateLimit }),
    );
    await app.register(servingRoutes(services, directory.lookups));
    for (const routes of more) await app.register(routes);
  };
}
