// Errors on the web room's routes become a page, not the API's JSON: the same status from the one
// error table (src/protocol/errors.ts), the refusal in words, and a way back.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { KeypostError } from '../errors.js';
import { setRetryAfter } from '../http/retry-after.js';
import { httpStatusFor } from '../protocol/errors.js';
import { refusalInWords } from './refusal-words.js';

/** The status and the words for `error`; 500 for anything not a client's doing. */
export function describeError(error: unknown): { status: number; code: string; message: string } {
  if (error instanceof KeypostError) return { status: httpStatusFor(error.code), code: error.code, message: refusalInWords(error.code, error.message) };
  const err = error as FastifyError;
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    // @fastify/csrf-protection answers a missing or wrong token with 403 (FST_CSRF_*).
    if (err.code?.startsWith('FST_CSRF')) {
      return { status: 403, code: 'AUTH_FORBIDDEN', message: 'This form has expired or did not come from this site. Reload the page and send it again.' };
    }
    const code = err.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : err.statusCode === 429 ? 'RATE_LIMITED' : 'REQUEST_INVALID';
    return { status: err.statusCode, code, message: refusalInWords(code, err.message) };
  }
  return { status: 500, code: 'INTERNAL', message: 'Something went wrong on our side. Try again later.' };
}

export function renderError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, code, message } = describeError(error);
  if (status >= 500) request.log.error({ err: error }, 'web page failed');
  setRetryAfter(reply, error);
  return reply.status(status).header('cache-control', 'no-store').view('error.eta', { title: 'Not done', nav: '', code, message });
}
