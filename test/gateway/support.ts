// Gateway test fixtures: directory rows, a real downstream SMTP server whose behaviour a test can
// switch (accept, defer, refuse, down), the Debian hashcash and swaks tools, and an in-process
// gateway started the way `keypost serve --only gateway` starts it.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import dns2 from 'dns2';
import { SMTPServer } from 'smtp-server';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/connect.js';
import { startKeypost, type RunningKeypost } from '../../src/main.js';
import { createScratchPostgres } from '../support/database.js';
import type { Db } from '../../src/db/database.js';

/** Anything holding the database: a test database or a handle of the child's. */
type HasDb = { db: Db };

export async function seedDomain(db: HasDb, name: string, policy: { powBits?: number; nextHop?: string } = {}): Promise<void> {
  await db.db
    .insertInto('domains')
    .values({
      name,
      serial: 1,
      pow_bits: policy.powBits ?? null,
      endpoint: null,
      next_hop: policy.nextHop ?? null,
      api_url: null,
      owner_token_hash: randomBytes(32),
      dns: JSON.stringify({ nameservers: [] }),
    })
    .execute();
}

export async function seedAddress(
  db: HasDb,
  address: string,
  options: { powBits?: number; nextHop?: string; status?: 'published' | 'withdrawn' } = {},
): Promise<void> {
  const fingerprint = randomBytes(20).toString('hex').toUpperCase();
  await db.db
    .insertInto('keys')
    .values({
      fingerprint,
      key_ids: [fingerprint.slice(24)],
      key_data: randomBytes(32),
      algorithm: 'ed25519',
      bits: 256,
      created_at: new Date(),
      expires_at: null,
    })
    .execute();
  const [local, domain] = address.split('@');
  await db.db
    .insertInto('addresses')
    .values({
      address,
      domain,
      local_part: local,
      fingerprint,
      minimal_key: randomBytes(32),
      user_id: `<${address}>`,
      status: options.status ?? 'published',
      source: 'owner',
      endpoint: null,
      next_hop: options.nextHop ?? null,
      pow_bits: options.powBits ?? null,
    })
    .execute();
}

/**
 * Resolves once the gateway's queue is empty. Every delivery has then been made and recorded (the
 * downstream records a mail before its 250; the gateway deletes the row after it), so a test that
 * checks something was delivered only once, or not at all, waits for this instead of sleeping.
 */
export async function queueDrained(db: HasDb, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await db.db.selectFrom('mail_queue').select('id').execute();
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`the queue still holds ${left.length} message(s) after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An authoritative stand-in for remote zones: TXT records by name, NXDOMAIN otherwise. */
export async function startTxtServer(records: Record<string, string>): Promise<{ port: number; close(): void }> {
  const { Packet } = dns2;
  const server = dns2.createUDPServer((request, send) => {
    const response = Packet.createResponseFromRequest(request);
    const [question] = request.questions;
    const text = question && question.type === Packet.TYPE.TXT ? records[question.name.toLowerCase()] : undefined;
    if (text) response.answers.push({ name: question.name, type: Packet.TYPE.TXT, class: Packet.CLASS.IN, ttl: 60, data: text } as (typeof response.answers)[number]);
    else response.header.rcode = 3;
    send(response);
  });
  await server.listen(0, '127.0.0.1');
  return { port: server.address().port, close: () => server.close() };
}

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: Buffer;
  /** When the end of DATA arrived (ms since the epoch). */
  at: number;
  /** Whether the client had upgraded the session with STARTTLS. */
  secure: boolean;
  /** What MAIL FROM declared: BODY= (lowercased) and SMTPUTF8. */
  bodyType?: string;
  smtpUtf8: boolean;
  /** DSN parameters as received (RFC 3461): RET/ENVID, and NOTIFY/ORCPT per recipient. */
  dsn?: { ret?: string | null; envid?: string | null };
  rcptDsn: ({ notify?: string[]; orcpt?: string } | undefined)[];
}

export type DownstreamMode = 'accept' | 'defer' | 'refuse';

export interface Downstream {
  port: number;
  hop: string;
  mails: ReceivedMail[];
  mode: DownstreamMode;
  waitForCount(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  /** Listens again on the same port (after stop()). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real SMTP server (smtp-server) on a loopback port that records what it accepts. `delayMs`
 * holds each 250 back, like a slow next hop.
 */
export async function startDownstream(port = 0, options: { delayMs?: number; without?: ('8BITMIME' | 'SMTPUTF8' | 'DSN')[] } = {}): Promise<Downstream> {
  const mails: ReceivedMail[] = [];
  let waiters: { n: number; resolve(): void }[] = [];
  const state = { mode: 'accept' as DownstreamMode };
  const make = () =>
    new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH'],
      disableReverseLookup: true,
      logger: false,
      hide8BITMIME: options.without?.includes('8BITMIME'),
      hideSMTPUTF8: options.without?.includes('SMTPUTF8'),
      // smtp-server hides DSN unless told otherwise; a next hop here offers it like Postfix does.
      hideDSN: options.without?.includes('DSN') === true,
      onRcptTo(_address, _session, callback) {
        if (state.mode === 'refuse') return callback(Object.assign(new Error('5.1.1 mailbox does not exist'), { responseCode: 550 }));
        if (state.mode === 'defer') return callback(Object.assign(new Error('4.2.0 try again later'), { responseCode: 451 }));
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const finish = () => {
            mails.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              raw: Buffer.concat(chunks),
              at: Date.now(),
              secure: session.secure,
              bodyType: session.envelope.bodyType,
              smtpUtf8: session.envelope.smtpUtf8 === true,
              dsn: session.envelope.dsn,
              rcptDsn: session.envelope.rcptTo.map((r) => r.dsn),
            });
            waiters = waiters.filter((w) => (mails.length >= w.n ? (w.resolve(), false) : true));
            callback();
          };
          if (options.delayMs) setTimeout(finish, options.delayMs);
          else finish();
        });
      },
    });
  let server = make();
  // A client vanishing mid-session (a SIGKILLed gateway) is routine here, not a test failure.
  const listen = (p: number) =>
    new Promise<void>((resolve) => {
      server.on('error', () => undefined);
      server.listen(p, '127.0.0.1', resolve);
    });
  await listen(port);
  const bound = (server.server.address() as AddressInfo).port;
  return {
    port: bound,
    hop: `smtp://127.0.0.1:${bound}`,
    mails,
    get mode() {
      return state.mode;
    },
    set mode(m: DownstreamMode) {
      state.mode = m;
    },
    waitForCount(n, timeoutMs = 20_000) {
      if (mails.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`downstream got ${mails.length} of ${n} messages in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
    async restart() {
      server = make();
      await listen(bound);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], input?: string | Buffer): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** A stamp from the Debian hashcash tool; `date` is its -t argument (YYMMDD[hhmm[ss]]). */
export async function hashcashStamp(resource: string, bits: number, date?: string): Promise<string> {
  const result = await run('hashcash', ['-mq', '-b', String(bits), ...(date ? ['-t', date] : []), resource]);
  if (result.code !== 0) throw new Error(`hashcash failed: ${result.stderr}`);
  return result.stdout.trim();
}

/** The X-Hashcash header as hashcash -X prints it (folded over two lines). */
export async function hashcashHeader(resource: string, bits: number): Promise<string> {
  const result = await run('hashcash', ['-mqX', '-b', String(bits), resource]);
  if (result.code !== 0) throw new Error(`hashcash failed: ${result.stderr}`);
  return result.stdout.replace(/\n$/, '');
}

export interface SwaksOptions {
  server: string;
  from?: string;
  to: string | string[];
  headers?: string[];
  body?: string;
  /** Whole message (headers and body) to send as DATA. */
  data?: string;
  extra?: string[];
}

/** Sends one message with swaks; resolves with its transcript. */
export function swaks(o: SwaksOptions): Promise<ToolResult> {
  const [host, port] = o.server.split(/:(?=\d+$)/);
  const args = [
    '--server', host,
    '--port', port,
    '--from', o.from ?? 'sender@sender.test',
    '--to', Array.isArray(o.to) ? o.to.join(',') : o.to,
    '--helo', 'client.test',
    '--timeout', '30',
    '--hide-informational',
  ];
  if (o.data !== undefined) args.push('--data', '-');
  else {
    for (const h of o.headers ?? []) args.push('--add-header', h);
    if (o.body !== undefined) args.push('--body', o.body);
  }
  args.push(...(o.extra ?? []));
  return run('swaks', args, o.data);
}

/** The last reply of the DATA phase in a swaks transcript, e.g. "250 2.0.0 Ok: queued as ...". */
export function dataReplies(transcript: string): string[] {
  const lines = transcript.split('\n').map((l) => l.replace(/\r$/, ''));
  const dot = lines.findIndex((l) => /^\s*[~*-]*> \.$/.test(l));
  const out: string[] = [];
  for (let i = dot + 1; dot >= 0 && i < lines.length; i++) {
    const m = /^\s*<[~*-]*\s+(\d{3}[ -].*)$/.exec(lines[i]);
    if (!m) break;
    out.push(m[1]);
    if (/^\d{3} /.test(m[1])) break;
  }
  return out;
}

// Python's smtplib as the client where swaks (20201014) has no flag for what is sent: ESMTP
// parameters on MAIL FROM (BODY=, SMTPUTF8, RET=, ENVID=) and on RCPT TO (NOTIFY=, ORCPT=).
// Arguments: host, port, sender, then JSON of [[recipient, [rcpt params]], ...] and [mail params];
// DATA comes from stdin. Prints the last reply as "<code> <text>".
const SMTPLIB_SEND = `
import json, smtplib, sys
host, port, sender = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rcpts, opts = json.loads(sys.argv[4]), json.loads(sys.argv[5])
s = smtplib.SMTP(host, port, local_hostname='client.test')
s.ehlo()
code, text = s.mail(sender, opts)
if code == 250:
    for r, ropts in rcpts:
        s.rcpt(r, ropts)
    code, text = s.data(sys.stdin.buffer.read())
print(code, text.decode('utf-8', 'replace'))
s.quit()
`;

/** Sends one message with smtplib, with the given MAIL FROM and RCPT TO parameters; the last reply. */
export async function smtplibSend(
  address: string,
  o: { from: string; to: (string | [string, string[]])[]; mailParams?: string[]; message: Buffer },
): Promise<string> {
  const [host, port] = address.split(/:(?=\d+$)/);
  const rcpts = o.to.map((r) => (typeof r === 'string' ? [r, []] : r));
  const result = await run('python3', ['-c', SMTPLIB_SEND, host, port, o.from, JSON.stringify(rcpts), JSON.stringify(o.mailParams ?? [])], o.message);
  if (result.code !== 0) throw new Error(`smtplib failed: ${result.stderr}`);
  return result.stdout.trim();
}

export interface GatewayUnderTest {
  running: RunningKeypost;
  address: string;
  close(): Promise<void>;
}

/** The gateway in this process, configured from `env` on top of the test database's. */
export async function startGateway(db: { env: Record<string, string | undefined> }, env: Record<string, string> = {}): Promise<GatewayUnderTest> {
  const config = loadConfig({
    ...db.env,
    KEYPOST_SMTP_LISTEN: '127.0.0.1:0',
    // The node's ops listener (/healthz, /readyz, /metrics) must not collide between tests.
    KEYPOST_HTTP_LISTEN: '127.0.0.1:0',
    KEYPOST_SMTP_HOSTNAME: 'gw.test',
    KEYPOST_RELAY_POLL_INTERVAL: '200ms',
    KEYPOST_RELAY_RETRY_MIN: '300ms',
    KEYPOST_RELAY_RETRY_MAX: '1s',
    KEYPOST_RELAY_LEASE: '3s',
    KEYPOST_RELAY_TIMEOUT: '5s',
    ...env,
  });
  const running = await startKeypost({ config, log: pino({ level: process.env.KEYPOST_TEST_LOG ?? 'silent' }), only: ['gateway'] });
  return { running, address: running.addresses.gateway!, close: () => running.close() };
}

/** A database the child process owns: on the embedded default, nothing else may hold it open. */
export async function durableDatabase(): Promise<{ env: Record<string, string>; open(): Promise<DatabaseHandle>; destroy(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kp-gw-'));
  const scratch = process.env.DATABASE_URL ? await createScratchPostgres(process.env.DATABASE_URL) : undefined;
  const env: Record<string, string> = scratch ? { DATABASE_URL: scratch.url, KEYPOST_DATA_DIR: dataDir } : { KEYPOST_DATA_DIR: dataDir };
  return {
    env,
    open: () => openDatabase({ url: scratch?.url, dataDir }, { log: pino({ level: 'silent' }) }),
    async destroy() {
      await scratch?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface RawSmtp {
  socket: Socket;
  /** Everything the server has sent so far. */
  text(): string;
  /** Resolves with the transcript once it matches; rejects after `ms`. */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  /** Resolves once the server has closed the connection. */
  closed: Promise<void>;
}

/**
 * A hand-driven SMTP connection, for what no real client does on purpose (stalling mid-line,
 * repeating AUTH on one connection). `localAddress` picks the loopback source (127.0.0.0/8), so
 * a test can be several clients.
 */
export async function rawSmtp(address: string, localAddress?: string): Promise<RawSmtp> {
  const [host, port] = address.split(/:(?=\d+$)/);
  const socket = connect({ port: Number(port), host, localAddress });
  let text = '';
  socket.on('data', (d) => (text += d));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((r) => socket.once('connect', r));
  return {
    socket,
    text: () => text,
    closed,
    async waitFor(re, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (!re.test(text)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(text)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return text;
    },
  };
}
