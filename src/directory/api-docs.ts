// The OpenAPI document of the directory's HTTP API, generated from the route schemas by
// @fastify/swagger and served as JSON at /docs (and /docs/json, the path swagger tools try).
// Registered before the route plugins: swagger collects routes through an onRoute hook.
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

export async function registerApiDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'keypost directory API',
        description:
          'Verified OpenPGP key records: VKS and HKP for key clients, WKD, per-address records, ' +
          'self-service publication with mailed verification links, and the domain owner API. ' +
          'Errors are JSON {"error", "code"} with a stable code (HKP answers plain text).',
        version: '1',
      },
      components: {
        securitySchemes: {
          ownerToken: { type: 'http', scheme: 'bearer', description: 'The domain owner token printed by `keypost domain add`' },
        },
      },
    },
  });
  const document = () => app.swagger();
  app.get('/docs', { schema: { hide: true } }, async () => document());
  app.get('/docs/json', { schema: { hide: true } }, async () => document());
}
