// Stable codes of the sender side (lookup and send). The CLI prints them; scripts and the JSON
// output match on them, never on message text.
export const CLIENT_CODES = {
  /** An argument is not a mail address. */
  addressInvalid: 'CLIENT_ADDRESS_INVALID',
  /** No DNS server gave a usable answer (timeout, SERVFAIL, REFUSED). */
  dnsFailed: 'CLIENT_DNS_FAILED',
  /** `--require-dnssec`: the resolver did not authenticate (AD) every answer of the lookup. */
  dnssecInsecure: 'CLIENT_DNSSEC_INSECURE',
  /** Neither a `_keypost` TXT record nor an OPENPGPKEY record exists for the address. */
  notPublished: 'CLIENT_NOT_PUBLISHED',
  /** A check of the published key failed; the key is not used for encryption. */
  keyUnverified: 'CLIENT_KEY_UNVERIFIED',
  /** The verified key has no key usable for encryption now. */
  keyCannotEncrypt: 'CLIENT_KEY_CANNOT_ENCRYPT',
  /** Neither the address nor its zone publishes an `ep=` endpoint. */
  noEndpoint: 'CLIENT_NO_ENDPOINT',
  /** The endpoint is not an `smtp://host:port` URI this client can reach. */
  endpointUnsupported: 'CLIENT_ENDPOINT_UNSUPPORTED',
  /** Minting the stamp failed or was aborted. */
  mintFailed: 'CLIENT_MINT_FAILED',
  /** The input is not a mail message. */
  messageInvalid: 'CLIENT_MESSAGE_INVALID',
  /** `--sign` was given something that is not an armoured OpenPGP secret key. */
  signingKeyInvalid: 'CLIENT_SIGNING_KEY_INVALID',
  /** The signing key is protected and no passphrase, or a wrong one, was given. */
  signingKeyLocked: 'CLIENT_SIGNING_KEY_LOCKED',
  /** The signing key has no user ID for the sender's address, so no recipient could tie the two. */
  signingKeyMismatch: 'CLIENT_SIGNING_KEY_MISMATCH',
  /** The recipient publishes req= (encrypted, signed) and the send was not asked to provide it. */
  protectionRequired: 'CLIENT_PROTECTION_REQUIRED',
  /** The endpoint refused the recipient or the message (its SMTP reply is reported). */
  smtpRefused: 'CLIENT_SMTP_REFUSED',
  /** The endpoint could not be reached or the SMTP session broke. */
  smtpFailed: 'CLIENT_SMTP_FAILED',
  /** The zone's log API could not be reached or did not answer as RFC 9162's API does. */
  logUnavailable: 'CLIENT_LOG_UNAVAILABLE',
  /**
   * The `transparency` check failed: the key DNS serves is not shown by the zone's log (not its
   * latest leaf, no valid inclusion proof, a head not signed by the log key in DNS), or the zone
   * publishes no log and `--require-transparency` was given.
   */
  transparencyFailed: 'CLIENT_TRANSPARENCY_FAILED',
  /** The zone's log does not extend the head this client saw before: rolled back or forked. */
  logInconsistent: 'CLIENT_LOG_INCONSISTENT',
} as const;

export type ClientCode = (typeof CLIENT_CODES)[keyof typeof CLIENT_CODES];
