// The one table of error codes. Every code a user can see is listed here once, with what each
// protocol edge answers for it: the HTTP status (the directory API), the SMTP reply code and
// enhanced status (RFC 5321 §4.2, RFC 3463; the gateway) and whether the failure is permanent
// (retrying the same request cannot succeed). Services only throw or return codes; the edges
// look the answer up here. A code missing from the table does not compile as a KeypostError code,
// and test/protocol/errors.test.ts fails on any code-shaped string in src/ that is not listed.

export interface SmtpStatus {
  /** RFC 5321 §4.2.3 reply code. */
  code: number;
  /** RFC 3463 enhanced status code. */
  enhanced: string;
}

export interface ErrorSpec {
  http: number;
  smtp: SmtpStatus;
  permanent: boolean;
}

// Codes that never travel over SMTP still carry a reply, derived from their permanence: RFC 3463
// X.0.0 ("other undefined status") says nothing more than the code's class.
const PERMANENT: SmtpStatus = { code: 550, enhanced: '5.0.0' };
const TEMPORARY: SmtpStatus = { code: 451, enhanced: '4.0.0' };

/** A failure the caller must change the request for. */
const refused = (http: number, smtp: SmtpStatus = PERMANENT): ErrorSpec => ({ http, smtp, permanent: true });
/** A failure the same request may get past later. */
const transient = (http: number, smtp: SmtpStatus = TEMPORARY): ErrorSpec => ({ http, smtp, permanent: false });
const reply = (code: number, enhanced: string): SmtpStatus => ({ code, enhanced });

export const ERROR_TABLE = {
  // Shared by every edge.
  CONFIG_INVALID: refused(500),
  REQUEST_INVALID: refused(400, reply(501, '5.5.4')),
  NOT_FOUND: refused(404),
  RATE_LIMITED: transient(429, reply(421, '4.7.0')),
  PAYLOAD_TOO_LARGE: refused(413, reply(552, '5.3.4')),
  AUTH_REQUIRED: refused(401, reply(530, '5.7.0')),
  AUTH_FORBIDDEN: refused(403, reply(550, '5.7.1')),
  DB_UNAVAILABLE: transient(503, reply(451, '4.3.0')),
  DB_DATA_DIR_IN_USE: transient(503),
  DB_MIGRATION_FAILED: refused(500),
  /** `keypost restore` of a file that is no backup, or one made with other migrations. */
  DB_BACKUP_MISMATCH: refused(400),
  INTERNAL: transient(500, reply(451, '4.3.0')),
  CLI_USAGE: refused(400),

  // The directory (src/directory).
  DIR_DOMAIN_INVALID: refused(400),
  DIR_ADDRESS_INVALID: refused(400, reply(553, '5.1.3')),
  DIR_LABEL_INVALID: refused(400),
  DIR_URI_INVALID: refused(400),
  DIR_DNS_SETTINGS_INVALID: refused(400),
  DIR_KEYRING_UNPARSABLE: refused(400),
  DIR_UPLOAD_TOKEN_INVALID: refused(400),
  DIR_ADDRESS_OUTSIDE_DOMAIN: refused(403),
  DIR_ADDRESS_NOT_FOUND: refused(404),
  DIR_ADDRESS_NOT_PUBLISHED: refused(404),
  /** A mailing list's address: its key, next hop and withdrawal are the list's (src/lists/). */
  DIR_ADDRESS_IS_LIST: refused(409),
  DIR_DOMAIN_NOT_FOUND: refused(404),
  DIR_TOKEN_UNKNOWN: refused(404),
  DIR_DOMAIN_EXISTS: refused(409),
  DIR_IMPORT_DUPLICATE_ADDRESS: refused(409),
  DIR_TOKEN_USED: refused(410),
  DIR_TOKEN_EXPIRED: refused(410),
  DIR_ADDRESS_NOT_SERVED: refused(422),
  DIR_ADDRESS_NOT_REQUESTABLE: refused(422),
  DIR_KEY_NO_SERVED_ADDRESS: refused(422),
  DIR_KEY_REVOKED: refused(422),
  DIR_KEY_CANNOT_ENCRYPT: refused(422),
  DIR_MAIL_FAILED: transient(503),
  // Every key-check worker busy and the queue full (src/directory/key-check-pool.ts).
  DIR_KEY_CHECK_BUSY: transient(503, reply(451, '4.3.2')),
  // Verification mail budgets (src/directory/mail-budget.ts): wait for the window to move.
  DIR_VERIFY_MAIL_LIMITED: transient(429, reply(450, '4.7.1')),
  DIR_VERIFY_MAIL_CLIENT_LIMITED: transient(429, reply(450, '4.7.1')),
  // The key policy (src/keys/checked-key.ts KEY_POLICY_CODES): unreadable input is a bad
  // request, a readable key the policy refuses is unprocessable.
  DIR_KEY_UNPARSABLE: refused(400),
  DIR_KEY_SECRET: refused(422),
  DIR_KEY_NO_SELF_SIGNATURE: refused(422),
  DIR_KEY_EXPIRED: refused(422),
  DIR_KEY_WEAK_ALGORITHM: refused(422),
  DIR_KEY_TOO_LARGE: refused(422),
  DIR_KEY_PACKET_TOO_LARGE: refused(422),
  DIR_KEY_TOO_MANY_USER_IDS: refused(422),
  DIR_KEY_TOO_MANY_SUBKEYS: refused(422),
  DIR_KEY_MULTIPLE: refused(422),
  DIR_KEY_ADDRESS_NOT_IN_KEY: refused(422),

  // DNS administration (keypost dns ...).
  DNS_ZONE_UNKNOWN: refused(404),
  DNS_ZONE_UNSIGNED: refused(409),
  // keypost dns rollover: a second roll while one is under way; --ds-published before the new key
  // is the one to trust (or with no roll waiting for the parent).
  DNS_ROLLOVER_IN_PROGRESS: refused(409),
  DNS_ROLLOVER_NOT_WAITING_FOR_DS: refused(409),

  // The zone transparency logs (src/transparency, /v1/log/:zone/...).
  LOG_ZONE_UNKNOWN: refused(404),
  /** A query parameter that is not what the route takes (not a number, not a hash, missing). */
  LOG_PARAMETER_INVALID: refused(400),
  /** Sizes or indexes outside the latest signed tree head, or in the wrong order. */
  LOG_RANGE_INVALID: refused(400),
  LOG_LEAF_NOT_FOUND: refused(404),
  /** No tree head signed yet (a zone that has just been added): retry in a second. */
  LOG_HEAD_PENDING: transient(503),

  // Secrets sealed under KEYPOST_SECRET_KEY_FILE (src/secrets): the wrong file cannot open them.
  SECRET_UNSEALABLE: refused(500),

  // Mailing lists (src/lists). Post refusals travel back in a bounce (RFC 3463 §3.8 X.7.1: not
  // authorised), with the code in the diagnostic.
  LIST_NOT_FOUND: refused(404),
  LIST_EXISTS: refused(409),
  LIST_ADDRESS_PUBLISHED: refused(409),
  LIST_MEMBER_NOT_FOUND: refused(404),
  /** The member's key was not found through DNS, or failed a `keypost lookup` check. */
  LIST_MEMBER_KEY_UNVERIFIED: refused(422),
  /** A key the owner gave is unusable (unreadable, expired, revoked, cannot encrypt). */
  LIST_MEMBER_KEY_INVALID: refused(400),
  LIST_POST_NOT_ENCRYPTED: refused(422, reply(550, '5.7.1')),
  LIST_POST_UNDECRYPTABLE: refused(422, reply(550, '5.7.5')),
  LIST_SENDER_NOT_MEMBER: refused(403, reply(550, '5.7.1')),
  LIST_SIGNATURE_INVALID: refused(422, reply(550, '5.7.1')),

  // The stamp engine (src/pow). A replayed stamp conflicts with the recorded spend of the same one.
  POW_STAMP_MALFORMED: refused(400, reply(550, '5.7.1')),
  POW_RESOURCE_MISMATCH: refused(400, reply(550, '5.7.1')),
  POW_INSUFFICIENT_BITS: refused(400, reply(550, '5.7.1')),
  POW_STAMP_EXPIRED: refused(400, reply(550, '5.7.1')),
  POW_STAMP_FUTURE: refused(400, reply(550, '5.7.1')),
  POW_STAMP_SPENT: refused(409, reply(550, '5.7.1')),
  POW_MINT_INVALID: refused(400),
  POW_MINT_ABORTED: transient(400),
  // The minter's own fault (a stamp that fails the final SHA-1 check, a dead worker): worth a retry.
  POW_MINT_FAILED: transient(500),

  // The gateway (src/gateway): the SMTP replies its sessions send.
  // RFC 3463 §3.2 X.1.3: bad destination mailbox address syntax.
  GW_ADDRESS_INVALID: refused(400, reply(553, '5.1.3')),
  GW_RELAY_DENIED: refused(403, reply(554, '5.7.1')),
  GW_RECIPIENT_UNKNOWN: refused(404, reply(550, '5.1.1')),
  GW_NO_NEXT_HOP: transient(503, reply(451, '4.3.5')),
  GW_STAMP_REQUIRED: refused(400, reply(550, '5.7.1')),
  GW_STAMP_MISSING: refused(400, reply(550, '5.7.1')),
  GW_TOO_MANY_STAMPS: refused(413, reply(552, '5.7.0')),
  // RFC 3463 §3.8 X.7.1: delivery not authorized, message refused (the recipient's req= policy).
  GW_PROTECTION_REQUIRED: refused(422, reply(550, '5.7.1')),
  GW_MESSAGE_TOO_BIG: refused(413, reply(552, '5.3.4')),
  GW_LINE_TOO_LONG: refused(400, reply(550, '5.6.0')),
  GW_STORAGE_BUSY: transient(503, reply(452, '4.3.1')),
  GW_LOOKUP_FAILED: transient(503, reply(451, '4.3.0')),
  GW_DNS_LOOKUP_FAILED: transient(503, reply(451, '4.4.3')),
  GW_QUEUE_FAILED: transient(503, reply(451, '4.3.0')),
  GW_SESSION_TIMEOUT: transient(408, reply(421, '4.4.2')),
  GW_LINE_TIMEOUT: transient(408, reply(421, '4.4.2')),
  GW_TOO_MANY_CONNECTIONS: transient(429, reply(421, '4.7.0')),
  GW_AUTH_FAILED: refused(401, reply(535, '5.7.8')),
  // RFC 4954 section 6: 454 4.7.0 is the temporary authentication failure; 421 closes the session.
  GW_AUTH_CONNECTION_LIMIT: transient(429, reply(421, '4.7.0')),
  GW_AUTH_ADDRESS_LIMIT: transient(429, reply(454, '4.7.0')),
  GW_AUTH_BUSY: transient(503, reply(454, '4.7.0')),
  GW_SHUTTING_DOWN: transient(503, reply(421, '4.3.2')),
  GW_MESSAGE_NOT_FOUND: refused(404, reply(550, '5.0.0')),
  GW_CONFIG_INVALID: transient(500, reply(451, '4.3.5')),
  // A message held in block files (src/gateway/block-store.ts) whose file is gone or does not
  // match its recorded SHA-256: the relay retries, and an operator can tell why from the code.
  GW_BLOCK_MISSING: transient(500, reply(451, '4.3.0')),
  GW_BLOCK_DAMAGED: transient(500, reply(451, '4.3.0')),
  // A message over one block to a recipient that requires protection: the check reads the whole
  // message in memory, which a block-stored message never is (README "Large messages").
  GW_PROTECTED_TOO_LARGE: refused(413, reply(552, '5.3.4')),
  GW_LIST_POST_TOO_LARGE: refused(413, reply(552, '5.3.4')),

  // The sender client (src/client): printed by the CLI, never sent by a server.
  CLIENT_ADDRESS_INVALID: refused(400),
  CLIENT_DNS_FAILED: transient(502),
  CLIENT_NOT_PUBLISHED: refused(404),
  CLIENT_DNSSEC_INSECURE: refused(422),
  CLIENT_KEY_UNVERIFIED: refused(422),
  CLIENT_KEY_CANNOT_ENCRYPT: refused(422),
  CLIENT_NO_ENDPOINT: refused(404),
  CLIENT_ENDPOINT_UNSUPPORTED: refused(422),
  CLIENT_MINT_FAILED: transient(500),
  CLIENT_MESSAGE_INVALID: refused(400),
  CLIENT_SIGNING_KEY_INVALID: refused(400),
  CLIENT_SIGNING_KEY_LOCKED: refused(401),
  CLIENT_SIGNING_KEY_MISMATCH: refused(422),
  CLIENT_PROTECTION_REQUIRED: refused(422),
  CLIENT_SMTP_REFUSED: refused(502),
  CLIENT_SMTP_FAILED: transient(502),
  CLIENT_LOG_UNAVAILABLE: transient(502),
  CLIENT_TRANSPARENCY_FAILED: refused(422),
  CLIENT_LOG_INCONSISTENT: refused(422),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_TABLE;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_TABLE, code);
}

/**
 * The entry of a code. A code outside the table is a bug (the type forbids it; errors.test.ts scans
 * for it), answered as an internal, temporary error rather than guessed to be the user's fault.
 */
export function errorSpec(code: string): ErrorSpec {
  return isErrorCode(code) ? ERROR_TABLE[code] : ERROR_TABLE.INTERNAL;
}

export function httpStatusFor(code: string): number {
  return errorSpec(code).http;
}

export function smtpStatusFor(code: string): SmtpStatus {
  return errorSpec(code).smtp;
}

export function isPermanent(code: string): boolean {
  return errorSpec(code).permanent;
}
