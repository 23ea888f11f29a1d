// The web room: pages for people on the HTTP listener, next to the API. The pages read the same
// read model and call the same directory services as the API (src/directory/directory.ts); what
// this room adds is HTML, and the browser-side defences that HTML needs:
// - a Content-Security-Policy with no inline script or style (templates link every asset);
// - a CSRF token on every form that changes state (double-submit: a secret in an HttpOnly,
//   SameSite=Strict cookie, a token derived from it in the form);
// - the API's per-client rate limit on every write;
// - output escaped by the template engine (eta's `<%= %>`).
// Everything here is encapsulated: the API's routes keep their own headers (CORS, plain text).
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyPluginAsync } from 'fastify';
import { fileURLToPath } from 'node:url';
import type { Directory } from '../directory/directory.js';
import { readYourWrites } from '../directory/read-your-writes.js';
import { UPLOAD_BODY_LIMIT } from '../directory/self-service-routes.js';
import type { Services } from '../lifecycle.js';
import { consolePages } from './console-pages.js';
import { linkPages } from './link-pages.js';
import { renderError } from './page-errors.js';
import { publishPages } from './publish-pages.js';
import { removePages } from './remove-pages.js';
import { searchPage } from './search-page.js';
import { stampPage } from './stamp-page.js';
import type { WebContext } from './web-context.js';

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));
/** Templates and assets sit next to the compiled modules (the build copies them, see package.json). */
export const TEMPLATES_DIR = here('./templates/');
export const ASSETS_DIR = here('./assets/');
/** The browser minter bundle the build writes (src/pow/kernel/build-browser.ts). */
export const MINTER_DIR = here('../../browser/');

export function webRoutes(services: Services, directory: Directory): FastifyPluginAsync {
  return async (app) => {
    await app.register(helmet, {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          // The minter's worker compiles the WebAssembly kernel: 'wasm-unsafe-eval' allows exactly
          // that and no string evaluation.
          scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
          workerSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'"],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          baseUri: ["'none'"],
          frameAncestors: ["'none'"],
          objectSrc: ["'none'"],
        },
      },
      // Links in mail carry a capability; no page hands its URL to another site.
      referrerPolicy: { policy: 'no-referrer' },
      // The listener is often plain HTTP on loopback behind a proxy that sets HSTS itself.
      strictTransportSecurity: false,
    });
    await app.register(cookie);
    await app.register(csrf, {
      sessionPlugin: '@fastify/cookie',
      // Secure when the request came over HTTPS (directly or through a trusted proxy).
      cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, secure: 'auto' },
    });
    await app.register(formbody);
    // A key arrives as a file (multipart) or pasted (either encoding); 'keyValues' puts the file's
    // bytes and the fields on request.body, where the CSRF check reads `_csrf`.
    await app.register(multipart, { attachFieldsToBody: 'keyValues', limits: { fileSize: UPLOAD_BODY_LIMIT, files: 1, fields: 4 } });
    await app.register(rateLimit, { global: false });
    await app.register(view, { engine: { eta: new Eta() }, templates: TEMPLATES_DIR, production: true });
    await app.register(fastifyStatic, { root: ASSETS_DIR, prefix: '/assets/', index: false, maxAge: '1h' });
    await app.register(fastifyStatic, { root: MINTER_DIR, prefix: '/assets/mint/', index: false, decorateReply: false, maxAge: '1h' });

    app.addHook('onSend', readYourWrites(services.published));
    app.setErrorHandler((error, request, reply) => renderError(error, request, reply));

    const context: WebContext = {
      services,
      directory,
      writeLimit: { rateLimit: { max: services.config.directory.rateLimit.max, timeWindow: services.config.directory.rateLimit.windowMs } },
    };
    await app.register(searchPage(context));
    await app.register(publishPages(context));
    await app.register(linkPages(context));
    await app.register(removePages(context));
    await app.register(stampPage(context));
    await app.register(consolePages(context));
  };
}
