// Outbound SMTP connections (nodemailer's SMTP client), pooled per next hop so that a busy hop gets
// many messages over one connection, the way MTAs talk to each other. STARTTLS is used whenever the
// hop offers it (opportunistic: certificates are not checked and a failed upgrade continues in
// plaintext, RFC 3207 section 4 / RFC 7435); .onion hops are reached through the SOCKS5 proxy.
import { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { Logger } from 'pino';
import type { ListenAddress } from '../protocol/listen-address.js';
import { headerSectionEnd } from './header-section.js';
import { socksConnect } from './socks5.js';

export interface Target {
  host: string;
  port: number;
  onion: boolean;
}

export interface Envelope {
  from: string;
  to: string[];
  /** What the sender declared in MAIL FROM, to pass on (RFC 6152, RFC 6531). */
  eightBitMime?: boolean;
  smtpUtf8?: boolean;
  /**
   * DSN parameters to pass on (RFC 3461 §6.2.1): RET/ENVID for MAIL FROM, NOTIFY/ORCPT for every
   * RCPT TO of this transaction. Sent only to a hop that offers DSN.
   */
  dsn?: { ret?: string; envid?: string; notify?: string; orcpt?: string };
}

/**
 * A message too large to hold: `head` (at least the whole header section) is in memory and `rest`
 * is read as it is sent, so the relay never holds the body (README "Large messages").
 */
export interface StreamedMessage {
  head: Buffer;
  rest: () => AsyncIterable<Buffer>;
  /** head plus rest, in octets: the SIZE= of MAIL FROM (RFC 1870). */
  size: number;
}

export interface RecipientRefusal {
  recipient: string;
  response: string;
  code: number;
}

export type DeliveryResult =
  /** `hopOffersDsn`: the hop announced DSN, so it took the DSN parameters over (RFC 3461 §6.2.3). */
  | { ok: true; accepted: string[]; refused: RecipientRefusal[]; response: string; hopOffersDsn: boolean }
  /**
   * The whole transaction failed; `code` is the SMTP reply code when the server gave one.
   * `unsupported`: not sent at all, the hop lacks an extension the message needs (RFC 3463 status).
   */
  | { ok: false; code?: number; response: string; connectFailed: boolean; unsupported?: { status: string; diagnostic: string } };

export interface PoolOptions {
  hostname: string;
  timeoutMs: number;
  socksProxy?: ListenAddress;
  /** Connections per hop. */
  maxPerTarget: number;
  /** Idle connections are closed after this long. */
  idleMs?: number;
  log: Logger;
}

interface Pooled {
  connection: SMTPConnection;
  broken: boolean;
  idleTimer?: NodeJS.Timeout;
}

interface TargetPool {
  key: string;
  idle: Pooled[];
  open: number;
  waiters: ((conn: Pooled | undefined) => void)[];
}

type SmtpError = Error & { code?: string; responseCode?: number; response?: string; rejectedErrors?: SmtpError[]; recipient?: string };

export class SmtpPool {
  private readonly pools = new Map<string, TargetPool>();
  private closed = false;

  constructor(private readonly options: PoolOptions) {}

  async deliver(target: Target, envelope: Envelope, message: Buffer | StreamedMessage): Promise<DeliveryResult> {
    let conn: Pooled;
    try {
      conn = await this.acquire(target);
    } catch (err) {
      return { ok: false, response: describe(err as SmtpError), code: (err as SmtpError).responseCode, connectFailed: true };
    }
    try {
      const extensions = hopExtensions(conn.connection);
      const streamed = Buffer.isBuffer(message) ? undefined : message;
      const unsupported = missingExtension(envelope, streamed ? streamed.head : message as Buffer, extensions, streamed !== undefined);
      if (unsupported) return { ok: false, response: unsupported.diagnostic, connectFailed: false, unsupported };
      const hopOffersDsn = extensions.has('DSN');
      const smtpEnvelope = {
        from: envelope.from,
        to: envelope.to,
        size: streamed ? streamed.size : (message as Buffer).length,
        use8BitMime: envelope.eightBitMime,
        // nodemailer adds these to MAIL FROM and RCPT TO only when the hop announced DSN.
        ...(envelope.dsn && hopOffersDsn ? { dsn: envelope.dsn } : {}),
      } as SMTPConnection.Envelope;
      const info = await new Promise<SMTPConnection.SentMessageInfo>((resolve, reject) =>
        conn.connection.send(smtpEnvelope, streamed ? messageStream(streamed) : (message as Buffer), (err, result) => (err ? reject(err) : resolve(result!))),
      );
      const refused = (info.rejectedErrors ?? []).map((e) => refusal(e as SmtpError));
      return { ok: true, accepted: info.accepted, refused, response: info.response, hopOffersDsn };
    } catch (raw) {
      const err = raw as SmtpError;
      // Every recipient refused: nodemailer reports the transaction as failed, but the per-recipient
      // replies are what decide (some may be temporary, some permanent).
      if (err.rejectedErrors?.length && err.code === 'EENVELOPE' && !err.rejectedErrors.some((e) => e.responseCode === undefined)) {
        conn.broken = conn.broken || !(await this.reset(conn));
        return { ok: true, accepted: [], refused: err.rejectedErrors.map(refusal), response: err.response ?? err.message, hopOffersDsn: false };
      }
      conn.broken = true;
      // The message's own stream failed mid-DATA (a block file missing or damaged): the hop is
      // still reading the message, so the connection is cut without the terminating dot, which
      // makes the hop drop the transaction (RFC 5321 section 4.1.1.4) instead of reading QUIT
      // as message text.
      if (err.code === 'ESTREAM') conn.connection.close();
      return { ok: false, code: err.responseCode, response: describe(err), connectFailed: false };
    } finally {
      this.release(target, conn);
    }
  }

  private key(target: Target): string {
    return `${target.host}:${target.port}`;
  }

  private pool(target: Target): TargetPool {
    const key = this.key(target);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = { key, idle: [], open: 0, waiters: [] };
      this.pools.set(key, pool);
    }
    return pool;
  }

  /**
   * A hop with no connection and nobody waiting is forgotten: the relay meets a new hop for every
   * remote domain it delivers to, and an entry per hop ever seen would grow without end.
   */
  private forgetIfUnused(pool: TargetPool): void {
    if (pool.open === 0 && pool.idle.length === 0 && pool.waiters.length === 0 && this.pools.get(pool.key) === pool) this.pools.delete(pool.key);
  }

  /** Hops with a connection open or a delivery waiting for one (for tests and health output). */
  hops(): number {
    return this.pools.size;
  }

  private async acquire(target: Target): Promise<Pooled> {
    const pool = this.pool(target);
    for (;;) {
      const idle = pool.idle.pop();
      if (!idle) break;
      clearTimeout(idle.idleTimer);
      if (!idle.broken && !idle.connection.destroyed) return idle;
      this.discard(pool, idle);
    }
    if (pool.open >= this.options.maxPerTarget) {
      const handed = await new Promise<Pooled | undefined>((resolve) => pool.waiters.push(resolve));
      if (handed) return handed;
    }
    pool.open++;
    try {
      return await this.connect(target);
    } catch (err) {
      pool.open--;
      this.handOver(pool);
      this.forgetIfUnused(pool);
      throw err;
    }
  }

  private release(target: Target, conn: Pooled): void {
    const pool = this.pool(target);
    if (conn.broken || this.closed) {
      this.discard(pool, conn);
      this.handOver(pool);
      this.forgetIfUnused(pool);
      return;
    }
    const waiter = pool.waiters.shift();
    if (waiter) {
      waiter(conn);
      return;
    }
    conn.idleTimer = setTimeout(() => {
      const at = pool.idle.indexOf(conn);
      if (at >= 0) pool.idle.splice(at, 1);
      this.discard(pool, conn);
      this.forgetIfUnused(pool);
    }, this.options.idleMs ?? 5000);
    conn.idleTimer.unref();
    pool.idle.push(conn);
  }

  /** A slot freed up: let one waiter open its own connection. */
  private handOver(pool: TargetPool): void {
    pool.waiters.shift()?.(undefined);
  }

  private discard(pool: TargetPool, conn: Pooled): void {
    pool.open = Math.max(0, pool.open - 1);
    clearTimeout(conn.idleTimer);
    try {
      conn.connection.quit();
    } catch {
      conn.connection.close();
    }
  }

  private reset(conn: Pooled): Promise<boolean> {
    return new Promise((resolve) => conn.connection.reset((err) => resolve(!err)));
  }

  private async connect(target: Target): Promise<Pooled> {
    const { timeoutMs, socksProxy, hostname } = this.options;
    let socket;
    if (target.onion) {
      if (!socksProxy) throw Object.assign(new Error(`${target.host} is an onion service and KEYPOST_SOCKS_PROXY is not set`), { code: 'ESOCKS' });
      socket = await socksConnect(socksProxy, target.host, target.port, timeoutMs);
    }
    const connection = new SMTPConnection({
      host: target.host,
      port: target.port,
      name: hostname,
      connection: socket,
      opportunisticTLS: true,
      tls: { rejectUnauthorized: false },
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      logger: false,
    });
    const pooled: Pooled = { connection, broken: false };
    // Errors after connecting surface through send(); a late socket error must not go unhandled.
    connection.on('error', () => (pooled.broken = true));
    connection.on('end', () => (pooled.broken = true));
    // nodemailer reports a failed connect through the 'error' event, not the connect callback.
    await new Promise<void>((resolve, reject) => {
      connection.once('error', reject);
      connection.connect((err) => {
        connection.off('error', reject);
        if (err) reject(err);
        else resolve();
      });
    });
    return pooled;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pool of this.pools.values()) {
      for (const conn of pool.idle.splice(0)) this.discard(pool, conn);
      for (const waiter of pool.waiters.splice(0)) waiter(undefined);
    }
  }
}

function refusal(err: SmtpError): RecipientRefusal {
  const response = err.response ?? err.message;
  return { recipient: err.recipient ?? '', response, code: err.responseCode ?? Number(/^\d{3}/.exec(response)?.[0] ?? 450) };
}

function describe(err: SmtpError): string {
  return err.response ?? `${err.code ?? 'ERROR'}: ${err.message}`;
}

/**
 * The extensions the hop announced in its EHLO reply. nodemailer keeps them in a field it does not
 * document; reading it is pinned by the tests that relay to hops without 8BITMIME or SMTPUTF8
 * (test/gateway/mime-flags.test.ts), and a nodemailer without it fails loudly here rather than
 * sending mail a hop cannot take.
 */
export function hopExtensions(connection: SMTPConnection): Set<string> {
  const announced = (connection as unknown as { _supportedExtensions?: unknown })._supportedExtensions;
  if (!Array.isArray(announced)) throw new Error('nodemailer no longer reports the EHLO extensions of a connection');
  return new Set(announced.map((e) => String(e).toUpperCase()));
}

const hasEightBit = (bytes: Buffer) => bytes.some((b) => b >= 0x80);

/**
 * The head, then the rest as it is read. highWaterMark 1: at most one chunk (one block) is read
 * ahead of what the connection has taken, so memory does not grow with the message.
 */
function messageStream(message: StreamedMessage): Readable {
  async function* all(): AsyncGenerator<Buffer> {
    yield message.head;
    yield* message.rest();
  }
  return Readable.from(all(), { objectMode: false, highWaterMark: 1 });
}
const nonAscii = (text: string) => /[^\x00-\x7f]/.test(text);

/**
 * Whether the message can go to a hop with these extensions; if not, why, with its RFC 3463
 * status. keypost relays without changing the message (a conversion would break PGP/MIME and
 * DKIM signatures), so what cannot go as it is is returned to the sender:
 *   - RFC 6531 section 3.4: a message that needs SMTPUTF8 (a non-ASCII envelope address, or
 *     8-bit octets in its header section, sent with SMTPUTF8) is not sent to a hop without it:
 *     5.6.7 for an address, 5.6.9 for header fields (RFC 6531 section 3.7.4 / RFC 5248);
 *   - RFC 6152 section 3: 8-bit content declared BODY=8BITMIME is not sent to a hop without
 *     8BITMIME; the relay must convert or return it, and keypost returns it (5.6.3, conversion
 *     required but not supported). A body declared 8BITMIME that is 7-bit goes as it is
 *     (`bodyNotHere`: only `message`, the head, is in memory; the rest counts as 8-bit).
 */
export function missingExtension(envelope: Envelope, message: Buffer, extensions: Set<string>, bodyNotHere = false): { status: string; diagnostic: string } | undefined {
  if (envelope.smtpUtf8 && !extensions.has('SMTPUTF8')) {
    if (nonAscii(envelope.from) || envelope.to.some(nonAscii)) {
      return { status: '5.6.7', diagnostic: 'the message has a non-ASCII envelope address and the next hop does not offer SMTPUTF8 (RFC 6531 section 3.4)' };
    }
    if (hasEightBit(message.subarray(0, headerSectionEnd(message)))) {
      return { status: '5.6.9', diagnostic: 'the message has UTF-8 header fields and the next hop does not offer SMTPUTF8 (RFC 6531 section 3.4)' };
    }
  }
  // A body that is not in memory (block files) is not read twice to look for 8-bit octets: declared
  // 8BITMIME, it is taken to have them.
  if (envelope.eightBitMime && !extensions.has('8BITMIME') && (bodyNotHere || hasEightBit(message))) {
    return { status: '5.6.3', diagnostic: 'the message has 8-bit content (BODY=8BITMIME) and the next hop does not offer 8BITMIME; keypost does not convert messages (RFC 6152 section 3)' };
  }
  return undefined;
}
