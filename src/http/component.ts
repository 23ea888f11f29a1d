// Starts and stops the HTTP app as a component.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Component, Services } from '../lifecycle.js';
import { formatAddress } from '../lifecycle.js';
import { buildHttpApp } from './app.js';

export function createHttpComponent(services: Services, routes: FastifyPluginAsync[] = []): Component & { app(): FastifyInstance } {
  let app: FastifyInstance | undefined;
  let closing: Promise<void> | undefined;
  return {
    name: 'api',
    app() {
      if (!app) throw new Error('http component not started');
      return app;
    },
    async start() {
      app = await buildHttpApp({ db: services.database.db, log: services.log, metrics: services.metrics, routes, trustedProxies: services.config.http.trustedProxies });
      const { host, port } = services.config.listen.http;
      await app.listen({ host, port });
      const bound = app.server.address();
      return typeof bound === 'object' && bound ? formatAddress(bound.address, bound.port) : String(bound);
    },
    close() {
      closing ??= app ? app.close() : Promise.resolve();
      return closing;
    },
  };
}
