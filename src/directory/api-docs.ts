// The OpenAPI document of the directory's HTTP API, generated from the route schemas by
// @fastify/swagger: machine-readable at /docs/json (and /docs/yaml), rendered for people at /docs
// by Swagger UI. Registered before the route plugins: swagger collects routes through an onRoute hook.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * Swagger UI's own CSP, on its routes only (the API's JSON routes carry none, the web pages their
 * stricter one). Its page has no inline script; it draws its logo from a data: URL, fetches the
 * document from this origin, and injects one <style> element at run time, which is why styles alone
 * may be inline here (a style cannot run code). Nothing may frame it or send a form elsewhere.
 */
const DOCS_CSP = {
  'default-src': ["'none'"],
  'script-src': ["'self'"],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'form-action': ["'self'"],
  'base-uri': ["'none'"],
  'frame-ancestors': ["'none'"],
  'object-src': ["'none'"],
};

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
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: DOCS_CSP,
    // The document is small; fetching it from a validator site would leak it and break the CSP.
    uiConfig: { validatorUrl: null, deepLinking: false },
  });
}
