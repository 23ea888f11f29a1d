// Errors a user can see carry a stable `code`. Callers match on the code, never on message text.
// Each protocol edge (HTTP, SMTP, DNS) maps codes to its own status from the tables below, so no
// service decides an HTTP status or an SMTP reply itself.

export class KeypostError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'KeypostError';
  }
}

/** HTTP status per error code; codes not listed map by prefix rule below. */
const HTTP_STATUS: Record<string, number> = {
  CONFIG_INVALID: 500,
  REQUEST_INVALID: 400,
  NOT_FOUND: 404,
  RATE_LIMITED: 429,
  PAYLOAD_TOO_LARGE: 413,
  AUTH_REQUIRED: 401,
  AUTH_FORBIDDEN: 403,
  DB_UNAVAILABLE: 503,
};

/** Register the HTTP status of an area's codes (called once at module load by each area). */
export function registerHttpStatuses(table: Record<string, number>): void {
  Object.assign(HTTP_STATUS, table);
}

export function httpStatusFor(code: string): number {
  // Unknown codes of a user error are still the user's fault: 400, never a 500.
  return HTTP_STATUS[code] ?? 400;
}
