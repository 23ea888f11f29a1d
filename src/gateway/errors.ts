// Stable codes of the gateway. Policy checks return verdicts carrying one of these codes; the SMTP
// edge (replies.ts) is the only place that turns a code into a reply, with the status and
// permanence of src/protocol/errors.ts; the CLI prints the code.
import { KeypostError } from '../errors.js';

export const GATEWAY_CODES = {
  /** RCPT TO names something the address parser (src/protocol/address.ts) refuses. */
  addressInvalid: 'GW_ADDRESS_INVALID',
  /** The recipient's domain is neither served nor a configured relay domain. */
  relayDenied: 'GW_RELAY_DENIED',
  /** A served domain, but no published address of that name. */
  recipientUnknown: 'GW_RECIPIENT_UNKNOWN',
  /** A served address with no next hop and no smarthost to relay to. */
  noNextHop: 'GW_NO_NEXT_HOP',
  /** One or more recipients lack a valid, unspent stamp of their price. */
  stampRequired: 'GW_STAMP_REQUIRED',
  /** A recipient requires encrypted or signed mail (req=) and the message is not (protection.ts). */
  protectionRequired: 'GW_PROTECTION_REQUIRED',
  /** More X-Hashcash fields than the recipients justify (stamp-check.ts maxStampFields). */
  tooManyStamps: 'GW_TOO_MANY_STAMPS',
  /** DATA went over the advertised SIZE. */
  messageTooBig: 'GW_MESSAGE_TOO_BIG',
  /** A DATA line is longer than the configured limit. */
  lineTooLong: 'GW_LINE_TOO_LONG',
  /** All sessions together hold as much message data as the gateway allows in memory. */
  storageBusy: 'GW_STORAGE_BUSY',
  /** A directory lookup failed (database unreachable, timeout). */
  lookupFailed: 'GW_LOOKUP_FAILED',
  /** A remote keypost recipient could not be looked up in DNS. */
  dnsLookupFailed: 'GW_DNS_LOOKUP_FAILED',
  /** Writing the message to the queue failed; nothing was stored. */
  queueFailed: 'GW_QUEUE_FAILED',
  /** The session ran longer than the total session timeout. */
  sessionTimeout: 'GW_SESSION_TIMEOUT',
  /** A command or message line stayed incomplete past KEYPOST_SMTP_LINE_TIMEOUT. */
  lineTimeout: 'GW_LINE_TIMEOUT',
  /** The client's address holds KEYPOST_SMTP_MAX_CONNECTIONS_PER_IP connections already. */
  tooManyConnections: 'GW_TOO_MANY_CONNECTIONS',
  /** AUTH with an unknown user or wrong password. */
  authFailed: 'GW_AUTH_FAILED',
  /** This connection used up its AUTH failures (KEYPOST_SMTP_AUTH_MAX_FAILURES); it is closed. */
  authConnectionLimit: 'GW_AUTH_CONNECTION_LIMIT',
  /** The client's address used up its AUTH failures for the window (KEYPOST_SMTP_AUTH_MAX_FAILURES_PER_IP). */
  authAddressLimit: 'GW_AUTH_ADDRESS_LIMIT',
  /** As many password hashes as allowed are running (KEYPOST_SMTP_AUTH_CONCURRENCY). */
  authBusy: 'GW_AUTH_BUSY',
  /** The gateway is shutting down. */
  shuttingDown: 'GW_SHUTTING_DOWN',
  /** Queue operations on a message that is not (or no longer) queued. */
  messageNotFound: 'GW_MESSAGE_NOT_FOUND',
  /** A message over one block (8 MB) for a recipient whose req= asks for a protection check. */
  protectedTooLarge: 'GW_PROTECTED_TOO_LARGE',
  listPostTooLarge: 'GW_LIST_POST_TOO_LARGE',
  /** The relay configuration (relay domain, smarthost, next hop) cannot be parsed. */
  configInvalid: 'GW_CONFIG_INVALID',
} as const;

export type GatewayCode = (typeof GATEWAY_CODES)[keyof typeof GATEWAY_CODES];

export class GatewayError extends KeypostError {
  constructor(
    override readonly code: GatewayCode,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
    this.name = 'GatewayError';
  }
}
