// The HTTP listener: health, readiness, metrics, and the directory's routes (plugged in by main).
// Errors leave as JSON `{"error", "code"}` with the status from the one table in src/protocol/errors.ts.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Db } from '../db/database.js';
import { KeypostError } from '../errors.js';
import { httpStatusFor } from '../protocol/errors.js';
import { DB_UNAVAILABLE, DatabaseUnavailableError, isDatabaseUnavailable } from '../db/unavailable.js';
import { requestLoggerFactory } from './request-logger.js';
import { setRetryAfter } from './retry-after.js';

export interface HttpAppOptions {
  db: Db;
  log: Logger;
  metrics: Registry;
  /** Route plugins of the areas that serve HTTP (directory, ...). */
  routes?: FastifyPluginAsync[];
  /** Largest request body accepted, in bytes (VKS uploads are ≤ 1 MiB). */
  bodyLimit?: number;
  /** Peers whose X-Forwarded-For names the client (addresses or CIDR ranges); empty = none. */
  trustedProxies?: readonly string[];
}

const CONTROL = /[\u0000-\u001f\u007f]/;

/** The name of the first parameter whose value holds a control character, if any. */
function controlCharacterParameter(values: unknown): string | undefined {
  if (!values || typeof values !== 'object') return undefined;
  // for-in, not Object.entries(): every request passes here, and most have one or two parameters.
  for (const name in values) {
    const value = (values as Record<string, unknown>)[name];
    if (CONTROL.test(name)) return name;
    if (typeof value === 'string') {
      if (CONTROL.test(value)) return name;
    } else if (Array.isArray(value) && value.some((v) => typeof v === 'string' && CONTROL.test(v))) return name;
  }
  return undefined;
}

/** The property an `additionalProperties: false` schema refused (ajv's error params), if that failed. */
function unknownProperty(validation: unknown): string | undefined {
  if (!Array.isArray(validation)) return undefined;
  for (const issue of validation as { keyword?: string; params?: { additionalProperty?: string } }[]) {
    if (issue.keyword === 'additionalProperties' && issue.params?.additionalProperty !== undefined) return issue.params.additionalProperty;
  }
  return undefined;
}

export async function buildHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Per-request lines would swamp the log at directory scale; warnings and errors still show.
    loggerInstance: options.log.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger,
    childLoggerFactory: requestLoggerFactory,
    bodyLimit: options.bodyLimit ?? 1024 * 1024 + 64 * 1024,
    // request.ip (the rate-limit key) comes from X-Forwarded-For only through trusted peers:
    // proxy-addr walks the header from the right and stops at the first untrusted hop.
    trustProxy: options.trustedProxies?.length ? [...options.trustedProxies] : false,
    // Fastify's default strips properties a schema does not declare, so a typo ("endpont") was
    // dropped and the request answered 200 with nothing changed. Refuse them instead.
    ajv: { customOptions: { removeAdditional: false } },
  });

  // Before any route hook (owner auth) or handler sees them: no parameter may carry a control
  // character. A NUL reached PostgreSQL, which refuses it in text, and the client got a 500.
  // Callback-style: every request passes here, and an async hook costs each a promise and a
  // microtask turn (measured by bench:directory on the lookup routes).
  app.addHook('onRequest', (request, _reply, done) => {
    const bad = controlCharacterParameter(request.params) ?? controlCharacterParameter(request.query);
    done(bad === undefined ? undefined : new KeypostError('REQUEST_INVALID', `parameter "${bad}" contains a control character`, { parameter: bad }));
  });

  app.setErrorHandler((thrown: unknown, request, reply) => {
    let error = thrown;
    // A lost or refused database connection is temporary: 503 DB_UNAVAILABLE, so clients retry.
    if (!(error instanceof KeypostError) && isDatabaseUnavailable(error)) {
      request.log.warn({ err: error }, 'database unavailable');
      error = new DatabaseUnavailableError(error);
    }
    if (error instanceof KeypostError) {
      setRetryAfter(reply, error);
      return reply.status(httpStatusFor(error.code)).send({ error: error.message, code: error.code, ...error.details });
    }
    const err = error as { statusCode?: number; code?: string; message?: string; validation?: unknown; validationContext?: string };
    const unknown = unknownProperty(err.validation);
    if (unknown !== undefined) {
      return reply
        .status(400)
        .send({ error: `${err.validationContext ?? 'body'} has an unknown property "${unknown}"`, code: 'REQUEST_INVALID', property: unknown });
    }
    // Fastify's own client errors (bad JSON, body too large, schema validation) keep their 4xx.
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      const code =
        err.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : err.statusCode === 429 ? 'RATE_LIMITED' : 'REQUEST_INVALID';
      return reply.status(err.statusCode).send({ error: err.message ?? 'bad request', code });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({ error: 'internal error', code: 'INTERNAL' });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ error: `no route for ${request.method} ${request.url.split('?')[0]}`, code: 'NOT_FOUND' }),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));

  // Ready only when the database answers: a load balancer stops sending traffic otherwise.
  app.get('/readyz', async (_request, reply) => {
    try {
      await sql`select 1`.execute(options.db);
      return { status: 'ready' };
    } catch {
      return reply.status(503).send({ status: 'unavailable', code: DB_UNAVAILABLE, error: 'database unreachable' });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.contentType);
    return options.metrics.metrics();
  });

  for (const routes of options.routes ?? []) await app.register(routes);
  return app;
}
