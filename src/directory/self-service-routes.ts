// HTTP edge of self-service publication: VKS upload / request-verify (JSON), HKP add (form post,
// plain-text answers as gpg expects), confirming a mailed /v/<token> link (JSON; the page a person
// opens from the mail is the web room's), and deletion requests.
// Every write route carries the per-client rate limit registered in routes.ts.
import formbody from '@fastify/formbody';
import type {} from '@fastify/rate-limit';
import type {} from '@fastify/swagger';
import type { FastifyError, FastifyInstance, FastifyPluginAsync } from 'fastify';
import { KeypostError } from '../errors.js';
import { httpStatusFor } from '../protocol/errors.js';
import { setRetryAfter } from '../http/retry-after.js';
import type { SelfService } from './self-service.js';
import { KEYTEXT_SCHEMA } from './keytext-schema.js';

/** VKS: uploads are at most 1 MiB (as Hagrid accepts); HKP form encoding inflates armour by up to ~1/3. */
export const UPLOAD_BODY_LIMIT = 1024 * 1024;
const HKP_BODY_LIMIT = Math.ceil(UPLOAD_BODY_LIMIT * 1.5);

const uploadAnswerSchema = {
  type: 'object',
  properties: {
    key_fpr: { type: 'string' },
    status: { type: 'object', additionalProperties: { type: 'string', enum: ['unpublished', 'pending', 'published', 'revoked'] } },
    token: { type: 'string' },
  },
} as const;

const errorSchema = {
  type: 'object',
  properties: {
    error: { type: 'string' },
    code: { type: 'string' },
    // Verification mail budget refusals (429) name the address and when to ask again.
    address: { type: 'string' },
    retry_after: { type: 'integer' },
  },
} as const;

export interface SelfServiceRouteOptions {
  service: SelfService;
  rateLimit: { max: number; windowMs: number };
}

function statusAndMessage(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof KeypostError) return { status: httpStatusFor(error.code), code: error.code, message: error.message };
  const err = error as FastifyError;
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    const code = err.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : err.statusCode === 429 ? 'RATE_LIMITED' : 'REQUEST_INVALID';
    return { status: err.statusCode, code, message: err.message };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error' };
}

/**
 * Clients the write rate limit remembers per route. Past it the least recently seen is forgotten
 * (the limiter's LRU), so a spray of source addresses costs bounded memory; a forgotten client
 * only starts its window afresh.
 */
export const RATE_LIMIT_CLIENTS = 5000;

export function selfServiceRoutes(options: SelfServiceRouteOptions): FastifyPluginAsync {
  const { service } = options;
  const rateLimit = { max: options.rateLimit.max, timeWindow: options.rateLimit.windowMs, cache: RATE_LIMIT_CLIENTS };

  return async (app: FastifyInstance) => {
    await app.register(formbody);

    // The upload body is up to 1 MiB of JSON around an armoured key. It is not decoded here: the
    // route takes the raw bytes, and a key-check worker parses the JSON, checks it against the
    // schema below and judges the key (upload-body.ts), so a storm of flooded uploads does not
    // parse megabytes of JSON on the event loop that answers DNS. Its own scope, so only this
    // route reads JSON this way.
    await app.register(async (upload) => {
      upload.removeContentTypeParser('application/json');
      upload.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      upload.post<{ Body: Buffer }>(
        '/vks/v1/upload',
        {
          bodyLimit: UPLOAD_BODY_LIMIT,
          config: { rateLimit },
          schema: {
            summary: 'Upload a key (VKS); its addresses are published only after verification',
            tags: ['vks'],
            // Documents the body (OpenAPI); keytextOfUpload applies it, on the worker, so the
            // route's only validated part, the body, is passed through here as bytes.
            body: { type: 'object', required: ['keytext'], properties: { keytext: KEYTEXT_SCHEMA } },
            response: { 200: uploadAnswerSchema, '4xx': errorSchema },
          },
          validatorCompiler: () => () => true,
        },
        async (request) => {
          const { mailed: _mailed, ...answer } = await service.upload({ json: request.body });
          return answer;
        },
      );
    });

    app.post<{ Body: { token: string; addresses: string[] } }>(
      '/vks/v1/request-verify',
      {
        config: { rateLimit },
        schema: {
          summary: 'Mail a verification link for each address (VKS)',
          tags: ['vks'],
          body: {
            type: 'object',
            required: ['token', 'addresses'],
            properties: {
              token: { type: 'string', minLength: 1, maxLength: 200 },
              addresses: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'string', minLength: 3, maxLength: 320 } },
              locale: { type: 'array', items: { type: 'string' } },
            },
          },
          response: { 200: uploadAnswerSchema, '4xx': errorSchema },
        },
      },
      async (request) => {
        const { mailed: _mailed, ...answer } = await service.requestVerify(request.body.token, request.body.addresses, { client: request.ip });
        return answer;
      },
    );

    // HKP add (draft-shaw-openpgp-hkp §4): gpg --send-keys posts `keytext` form-encoded and shows
    // the body of an error; answers are plain text. Every served address gets its mail at once,
    // since gpg has no second step.
    app.post<{ Body: { keytext?: string } }>(
      '/pks/add',
      {
        bodyLimit: HKP_BODY_LIMIT,
        config: { rateLimit },
        schema: {
          summary: 'Submit a key (HKP, gpg --send-keys); mails a verification link to each served address',
          tags: ['hkp'],
          consumes: ['application/x-www-form-urlencoded'],
        },
        errorHandler(error, _request, reply) {
          const { status, message } = statusAndMessage(error);
          if (status >= 500) reply.log.error({ err: error }, 'pks/add failed');
          setRetryAfter(reply, error);
          return reply.status(status).type('text/plain; charset=utf-8').send(`${message}\n`);
        },
      },
      async (request, reply) => {
        const keytext = typeof request.body?.keytext === 'string' ? request.body.keytext : '';
        if (!keytext) throw new KeypostError('REQUEST_INVALID', 'missing form field "keytext"');
        if (Buffer.byteLength(keytext) > HKP_BODY_LIMIT) throw new KeypostError('PAYLOAD_TOO_LARGE', 'key too large');
        const answer = await service.upload(keytext, { requestAll: true, client: request.ip });
        const lines = [`key ${answer.key_fpr} received`];
        for (const [address, status] of Object.entries(answer.status)) {
          const note = answer.mailed.includes(address) ? 'verification mail sent' : status;
          lines.push(`${address}: ${note}`);
        }
        return reply.type('text/plain; charset=utf-8').send(`${lines.join('\n')}\n`);
      },
    );

    app.post<{ Params: { token: string } }>(
      '/v/:token',
      {
        config: { rateLimit },
        schema: { summary: 'Confirm a mailed link: publishes or deletes the address', tags: ['verification'] },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store');
        const done = await service.confirm(request.params.token);
        return { status: done.purpose === 'publish' ? 'published' : 'deleted', address: done.address, fingerprint: done.fingerprint };
      },
    );

    app.post<{ Body: { address: string } }>(
      '/v1/delete-request',
      {
        config: { rateLimit },
        schema: {
          summary: 'Ask for a deletion link, mailed to the address (encrypted to its published key)',
          tags: ['verification'],
          body: { type: 'object', required: ['address'], properties: { address: { type: 'string', minLength: 3, maxLength: 320 } } },
          response: { 202: { type: 'object', properties: { address: { type: 'string' }, status: { type: 'string' } } }, '4xx': errorSchema },
        },
      },
      async (request, reply) => reply.status(202).send(await service.requestDelete(request.body.address, { client: request.ip })),
    );
  };
}
