// Telling "the database is unreachable right now" apart from every other failure, so each protocol
// edge can answer it as temporary (HTTP 503 DB_UNAVAILABLE, SMTP 451 4.3.0) instead of as a bug.
//
// A lost connection reaches us in three shapes:
//   - a PostgreSQL error with an SQLSTATE: class 08 (connection exception), 57P01-57P03 (the server
//     terminated the session, is shutting down or is still starting), 53300 (too many connections);
//   - a socket error with a Node errno code (refused, reset, broken pipe, timed out, host unknown);
//   - node-postgres' own errors for a connection that ended, which carry no code at all. These are
//     recognised by their message (pg's client.js and pg-pool), the one place in keypost that does
//     so, because pg gives them nothing else to go by.
import { KeypostError } from '../errors.js';

/** The code, with its HTTP status and SMTP reply in src/protocol/errors.ts (503, 451 4.3.0). */
export const DB_UNAVAILABLE = 'DB_UNAVAILABLE';

const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOENT']);
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'timeout exceeded when trying to connect',
  'Connection terminated due to connection timeout',
];

export class DatabaseUnavailableError extends KeypostError {
  constructor(cause?: unknown) {
    super(DB_UNAVAILABLE, 'database unreachable; try again later');
    this.name = 'DatabaseUnavailableError';
    if (cause !== undefined) (this as { cause?: unknown }).cause = cause;
  }
}

export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') && code.length === 5) return true;
    if (SQLSTATES.has(code) || ERRNO.has(code)) return true;
  }
  // AggregateError from a connect to several resolved addresses (localhost: ::1 and 127.0.0.1).
  if (err instanceof AggregateError) return err.errors.some(isDatabaseUnavailable);
  return PG_CONNECTION_MESSAGES.some((m) => err.message.startsWith(m));
}
