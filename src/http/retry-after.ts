// A refusal that passes with time (a spent budget, a full queue) tells the client when to come back:
// the error's `retry_after` detail (seconds) becomes the Retry-After header (RFC 9110 §10.2.3).
import type { FastifyReply } from 'fastify';
import { KeypostError } from '../errors.js';

export function setRetryAfter(reply: FastifyReply, error: unknown): void {
  const seconds = error instanceof KeypostError ? error.details?.retry_after : undefined;
  if (typeof seconds === 'number' && seconds > 0) reply.header('retry-after', String(Math.ceil(seconds)));
}
