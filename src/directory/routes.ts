// The directory's HTTP surface: one plugin that registers every directory route plugin.
import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../lifecycle.js';

export function directoryRoutes(services: Services): FastifyPluginAsync {
  return async (app) => {
    void services;
    void app;
  };
}
