// Errors a user can see carry a stable `code`. Callers match on the code, never on message text.
// Each protocol edge (HTTP, SMTP, DNS) answers a code from the one table in src/protocol/errors.ts,
// so no service decides an HTTP status or an SMTP reply itself.
import type { ErrorCode } from './protocol/errors.js';

export class KeypostError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'KeypostError';
  }
}
