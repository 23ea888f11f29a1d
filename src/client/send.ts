// Sending as keypost's model sender does: knowing only addresses, look each recipient up in DNS,
// pay its price in proof of work, optionally encrypt to its verified key, and deliver to its
// published endpoint. Every recipient gets its own outcome; one failing never stops the others.
//
// Each recipient gets its own SMTP transaction carrying only its own X-Hashcash stamp: the gateway
// answers DATA once per transaction, so per-recipient transactions give per-recipient results, and
// no recipient receives stamps it could spend at another recipient's gateway.
import { readKey, type PrivateKey } from 'openpgp';
import { pino, type Logger } from 'pino';
import type { ListenAddress } from '../protocol/listen-address.js';
import { parseAddress } from '../protocol/address.js';
import { describeRequirement, requires } from '../protocol/requirement.js';
import { PARSE_CONFIG } from '../keys/key-signatures.js';
import { KeypostError } from '../errors.js';
import { parseHop } from '../smtp/hop.js';
import { SmtpPool } from '../smtp/smtp-pool.js';
import { mintStamp } from '../pow/mint.js';
import { REQUIRED_CHECKS } from './checks.js';
import { insecureReason, type DnssecStatus } from './dnssec.js';
import { CLIENT_CODES, type ClientCode } from './errors.js';
import { lookupAddress, type LookupResult } from './lookup.js';
import type { TransparencyOptions } from './transparency-check.js';
import { completeHeaders, formatMessage, parseMessage, prependFields, type MailMessage } from './message.js';
import { encryptPgpMime } from './pgp-mime.js';
import { signingAddresses, signPgpMime } from './pgp-sign.js';
import { createStubResolver, type DnsServer } from './stub-resolver.js';

export type SendStage = 'lookup' | 'require' | 'verify' | 'encrypt' | 'mint' | 'smtp';

export interface RecipientOutcome {
  address: string;
  delivered: boolean;
  endpoint: string | null;
  /** Bits the stamp was minted at. */
  price: number | null;
  fingerprint: string | null;
  verified: boolean;
  /** The DNSSEC status of the recipient's lookup (null when the lookup itself failed). */
  dnssec: DnssecStatus | null;
  encrypted: boolean;
  /** The copy sent was signed with the sender's key. */
  signed: boolean;
  /** The endpoint's queue id from its 250 reply, when it named one. */
  queueId?: string | null;
  stamp: string | null;
  /** Where it failed, with a stable code; absent when delivered. */
  stage?: SendStage;
  code?: ClientCode;
  /** The endpoint's SMTP reply, or why the recipient was not sent to. */
  detail: string;
}

export interface SendOptions {
  from: string;
  to: string[];
  /** The message as the user wrote it (headers and body, or just a body). */
  message: Buffer;
  encrypt?: boolean;
  /** Refuse a recipient whose DNS answers the resolver did not authenticate (AD). */
  requireDnssec?: boolean;
  /**
   * Check each recipient's key against its zone's transparency log (lookup.ts) and refuse it when
   * the check fails; `require` refuses recipients in zones that publish no log too.
   */
  transparency?: TransparencyOptions;
  /** NOTIFY for each recipient (RFC 3461 §4.1): "SUCCESS,FAILURE" by default, or "NEVER". */
  notify?: string;
  /** Sign as the sender (PGP/MIME); with `encrypt`, signed and encrypted in one message. */
  sign?: { key: PrivateKey; hideSubject?: boolean };
  dns?: DnsServer;
  /** Price for a keypost domain that publishes none (the local default). */
  defaultBits: number;
  /** EHLO name. */
  hostname: string;
  /** For endpoints on Tor onion services. */
  socksProxy?: ListenAddress;
  timeoutMs?: number;
  /** Mint worker threads (default: one per core). */
  workers?: number;
  now?: () => Date;
  onMintProgress?: (address: string, bits: number, hashes: number) => void;
  onMinted?: (address: string, bits: number, seconds: number) => void;
  log?: Logger;
}

/** What `keypost send` asks to be told about by default: delivered, or failed for good. */
export const DEFAULT_NOTIFY = 'SUCCESS,FAILURE';

export interface SendReport {
  recipients: RecipientOutcome[];
  /** True when every recipient was delivered. */
  delivered: boolean;
}

interface Planned {
  outcome: RecipientOutcome;
  lookup: LookupResult;
  /**
   * The recipient requires signed mail and gets it encrypted: its gateway cannot see a signature
   * inside the encryption, so its copy is signed outside too (RFC 1847 §2.1 multipart/signed
   * around the multipart/encrypted).
   */
  signOutside?: boolean;
}

function canonical(address: string, role: string): string {
  try {
    return parseAddress(address).address;
  } catch {
    throw new KeypostError(CLIENT_CODES.addressInvalid, `${role} is not a mail address: "${address}"`);
  }
}

function refuse(outcome: RecipientOutcome, stage: SendStage, code: ClientCode, detail: string): RecipientOutcome {
  return Object.assign(outcome, { delivered: false, stage, code, detail });
}

/** Looks a recipient up and decides whether it can be sent to; sets a failure on the outcome if not. */
async function plan(address: string, options: SendOptions, resolver: ReturnType<typeof createStubResolver>): Promise<Planned | RecipientOutcome> {
  const outcome: RecipientOutcome = {
    address,
    delivered: false,
    endpoint: null,
    price: null,
    fingerprint: null,
    verified: false,
    dnssec: null,
    encrypted: false,
    signed: false,
    stamp: null,
    detail: '',
  };
  let lookup: LookupResult;
  try {
    lookup = await lookupAddress(address, { resolver, now: options.now?.(), timeoutMs: options.timeoutMs, transparency: options.transparency });
  } catch (err) {
    if (!(err instanceof KeypostError) || err.code !== CLIENT_CODES.dnsFailed) throw err;
    return refuse(outcome, 'lookup', CLIENT_CODES.dnsFailed, err.message);
  }
  Object.assign(outcome, {
    endpoint: lookup.endpoint,
    // The published price (address, else zone: lookup.ts); with none, the sender's default.
    price: lookup.price ?? options.defaultBits,
    fingerprint: lookup.fingerprint,
    verified: lookup.verified,
    dnssec: lookup.dnssec,
  });
  // Checked first: an unauthenticated "nothing published" or endpoint is no more trustworthy than
  // an unauthenticated key.
  if (options.requireDnssec && lookup.dnssec !== 'secure') {
    return refuse(outcome, 'lookup', CLIENT_CODES.dnssecInsecure, insecureReason(address, lookup));
  }
  if (!lookup.published) return refuse(outcome, 'lookup', CLIENT_CODES.notPublished, lookup.problem ?? 'nothing is published');
  // A key the zone's log does not show may be one served to this sender alone: nothing is minted
  // or delivered for it, encrypted or not.
  const logged = lookup.checks.find((c) => c.name === 'transparency');
  if (logged?.status === 'fail') {
    const code = lookup.transparency?.status === 'inconsistent' ? CLIENT_CODES.logInconsistent : CLIENT_CODES.transparencyFailed;
    return refuse(outcome, 'verify', code, logged.detail);
  }
  // The recipient's req= (address, else zone): its gateway refuses anything else at DATA, so say
  // so now, before any work is minted. Nothing is encrypted or signed that the user did not ask
  // for: the user decides what a message is, and can send again with the option named.
  const accepts = `${address} accepts only ${describeRequirement(lookup.requirement)} mail (req=${lookup.requirement})`;
  if (requires(lookup.requirement, 'encrypted') && !options.encrypt) {
    return refuse(outcome, 'require', CLIENT_CODES.protectionRequired, `${accepts}: send again with --encrypt${requires(lookup.requirement, 'signed') && !options.sign ? ' and --sign KEYFILE' : ''}`);
  }
  if (requires(lookup.requirement, 'signed') && !options.sign) {
    return refuse(outcome, 'require', CLIENT_CODES.protectionRequired, `${accepts}: send again with --sign KEYFILE`);
  }
  if (options.encrypt && !lookup.verified) {
    const failed = lookup.checks.filter((c) => c.status === 'fail' || (REQUIRED_CHECKS.includes(c.name) && c.status !== 'pass'));
    const why = failed.map((c) => `${c.name}: ${c.detail}`).join('; ');
    return refuse(outcome, 'verify', CLIENT_CODES.keyUnverified, `refusing to encrypt to a key that failed verification (${why})`);
  }
  if (!lookup.endpoint) return refuse(outcome, 'lookup', CLIENT_CODES.noEndpoint, `no ep= endpoint is published for ${address} or its zone`);
  try {
    if (/^smtps?:\/\//i.test(lookup.endpoint) && !/^smtp:\/\//i.test(lookup.endpoint)) throw new Error('implicit TLS');
    parseHop(lookup.endpoint);
  } catch {
    return refuse(outcome, 'lookup', CLIENT_CODES.endpointUnsupported, `endpoint ${lookup.endpoint} is not an smtp://host:port URI`);
  }
  return { outcome, lookup, signOutside: options.encrypt === true && requires(lookup.requirement, 'signed') };
}

/** Keeps only recipients whose key can encrypt now; the others fail at the encrypt stage. */
async function encryptionKeys(planned: Planned[], now: Date): Promise<Planned[]> {
  const usable: Planned[] = [];
  for (const p of planned) {
    try {
      const key = await readKey({ binaryKey: p.lookup.keyBytes!, config: PARSE_CONFIG });
      await key.getEncryptionKey(undefined, now);
      usable.push(p);
    } catch {
      refuse(p.outcome, 'encrypt', CLIENT_CODES.keyCannotEncrypt, `key ${p.lookup.fingerprint} has no subkey usable for encryption`);
    }
  }
  return usable;
}

export async function sendMessage(options: SendOptions): Promise<SendReport> {
  const now = options.now ?? (() => new Date());
  const from = canonical(options.from, '--from');
  const recipients = [...new Set(options.to.map((a) => canonical(a, '--to')))];
  if (recipients.length === 0) throw new KeypostError(CLIENT_CODES.addressInvalid, 'no recipients');
  if (options.sign) {
    // A recipient ties a signature to its sender through the key's user ID (keypost verify looks
    // the From address up); a key without one for this sender would never verify as this sender.
    if (!signingAddresses(options.sign.key).includes(from)) {
      throw new KeypostError(CLIENT_CODES.signingKeyMismatch, `the signing key ${options.sign.key.getFingerprint().toUpperCase()} has no user ID for ${from}`);
    }
    if (options.sign.hideSubject && !options.encrypt) {
      throw new KeypostError(CLIENT_CODES.messageInvalid, 'the Subject can only be hidden in an encrypted message (--encrypt)');
    }
  }
  const parsed = parseMessage(options.message);
  // RFC 5322 §3.6.3: Bcc must not reach the recipients it does not name.
  let message: MailMessage = completeHeaders(
    { fields: parsed.fields.filter((f) => f.name.toLowerCase() !== 'bcc'), body: parsed.body },
    { from, to: recipients },
    now(),
  );

  const resolver = createStubResolver({ servers: options.dns ? [options.dns] : undefined, timeoutMs: options.timeoutMs });
  const looked = await Promise.all(recipients.map((address) => plan(address, options, resolver)));
  const outcomes = looked.map((p) => ('outcome' in p ? p.outcome : p));
  let sendable = looked.filter((p): p is Planned => 'outcome' in p);

  if (options.encrypt && sendable.length) {
    sendable = await encryptionKeys(sendable, now());
    if (sendable.length) {
      const signing = options.sign ? { key: options.sign.key, hideSubject: options.sign.hideSubject, now: now() } : undefined;
      message = await encryptPgpMime(message, sendable.map((p) => p.lookup.keyBytes!), signing);
      for (const p of sendable) p.outcome.encrypted = true;
    }
  } else if (options.sign && sendable.length) {
    message = await signPgpMime(message, options.sign.key, now());
  }
  for (const p of sendable) p.outcome.signed = options.sign !== undefined;
  // Signed again outside the encryption for recipients whose gateway checks the signature.
  const signedOutside = options.sign && options.encrypt && sendable.some((p) => p.signOutside) ? await signPgpMime(message, options.sign.key, now()) : undefined;

  // One recipient at a time: each mint already uses every core.
  for (const p of [...sendable]) {
    const bits = p.outcome.price!;
    try {
      const minted = await mintStamp(p.outcome.address, bits, {
        workers: options.workers,
        now: now(),
        onProgress: (hashes) => options.onMintProgress?.(p.outcome.address, bits, hashes),
      });
      p.outcome.stamp = minted.stamp;
      options.onMinted?.(p.outcome.address, bits, minted.seconds);
    } catch (err) {
      refuse(p.outcome, 'mint', CLIENT_CODES.mintFailed, `minting ${bits} bits failed: ${(err as Error).message}`);
      sendable = sendable.filter((s) => s !== p);
    }
  }

  const pool = new SmtpPool({
    hostname: options.hostname,
    timeoutMs: options.timeoutMs ?? 60_000,
    socksProxy: options.socksProxy,
    // Transactions to one endpoint follow each other on one connection.
    maxPerTarget: 1,
    log: options.log ?? pino({ level: 'silent' }),
  });
  try {
    await Promise.all(
      sendable.map(async ({ outcome, signOutside }) => {
        const own = signOutside && signedOutside ? signedOutside : message;
        const copy = formatMessage(prependFields(own, [{ name: 'X-Hashcash', value: ` ${outcome.stamp}` }]));
        // RFC 3461: ask the endpoint for delivery reports (SUCCESS,FAILURE unless told otherwise).
        const dsn = { notify: options.notify ?? DEFAULT_NOTIFY };
        const result = await pool.deliver(parseHop(outcome.endpoint!), { from, to: [outcome.address], dsn }, copy);
        if (!result.ok) {
          const code = result.connectFailed || result.code === undefined ? CLIENT_CODES.smtpFailed : CLIENT_CODES.smtpRefused;
          refuse(outcome, 'smtp', code, result.response);
        } else if (!result.accepted.length) {
          refuse(outcome, 'smtp', CLIENT_CODES.smtpRefused, result.refused.map((r) => r.response).join('; ') || result.response);
        } else {
          // "250 2.0.0 Ok: queued as 0123456789ABCDEF": the id to quote to the endpoint's operator.
          const queueId = /queued as ([0-9A-Za-z]+)/.exec(result.response)?.[1] ?? null;
          Object.assign(outcome, { delivered: true, detail: result.response, queueId });
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return { recipients: outcomes, delivered: outcomes.every((o) => o.delivered) };
}
