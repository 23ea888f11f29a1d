// Large messages for tests, generated as they are sent (nothing of the size is stored in the
// repository or held in memory), and a downstream SMTP listener that hashes what it receives
// instead of keeping it. Both sides hash the body (what follows the header section), which the
// gateway relays byte for byte; the header section gains the gateway's trace fields on the way.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A body of `bytes` octets (rounded up to whole lines) in 78-octet base64 lines: never a leading dot. */
export function* bodyChunks(bytes: number): Generator<Buffer> {
  const line = 76 + 2;
  const linesPerChunk = 8192;
  const template = Buffer.alloc(line * linesPerChunk);
  const random = randomBytes(57 * linesPerChunk);
  for (let i = 0; i < linesPerChunk; i++) {
    template.write(random.subarray(i * 57, (i + 1) * 57).toString('base64'), i * line, 'latin1');
    template.write('\r\n', i * line + 76, 'latin1');
  }
  for (let sent = 0, n = 0; sent < bytes; sent += template.length, n++) {
    // Each chunk differs from the others in its first line, so a block sent twice or out of order
    // changes the digest.
    const chunk = Buffer.from(template);
    chunk.write(`chunk ${String(n).padStart(70, '0')}`, 0, 'latin1');
    yield chunk;
  }
}

export interface SmtpClient {
  socket: Socket;
  /** Sends a command line and waits for its final reply line; returns the reply. */
  command(line: string): Promise<string>;
  /** Writes raw octets with back-pressure. */
  write(data: Buffer): Promise<void>;
  /** Waits for the next final reply (after DATA's terminating dot, after BDAT). */
  reply(): Promise<string>;
  /** Whether the connection is gone. */
  closed(): boolean;
}

export async function smtpClient(address: string): Promise<SmtpClient> {
  const [host, port] = address.split(':');
  const socket = connect(Number(port), host);
  let text = '';
  let consumed = 0;
  let closed = false;
  socket.on('data', (d) => (text += d));
  socket.on('close', () => (closed = true));
  socket.on('error', () => (closed = true));
  const reply = async (): Promise<string> => {
    for (;;) {
      const m = /^\d{3} [^\r\n]*\r\n/m.exec(text.slice(consumed));
      if (m) {
        const end = consumed + m.index + m[0].length;
        const out = text.slice(consumed, end).trim();
        consumed = end;
        return out;
      }
      if (closed) throw new Error(`connection closed; got: ${text.slice(consumed)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await reply();
  return {
    socket,
    reply,
    closed: () => closed,
    async command(line) {
      socket.write(`${line}\r\n`);
      return reply();
    },
    async write(data) {
      if (closed) throw new Error('connection closed');
      if (socket.write(data)) return;
      await new Promise<void>((resolve, reject) => {
        const onClose = () => reject(new Error('connection closed'));
        socket.once('close', onClose);
        socket.once('drain', () => {
          socket.off('close', onClose);
          resolve();
        });
      });
    },
  };
}

/**
 * Sends one message by DATA: `headers` (CRLF-terminated fields), an empty line, then `bodyBytes`
 * of generated body. `onProgress` sees the body octets sent so far after each chunk. Returns the
 * body's SHA-256 and the reply to the terminating dot.
 */
export async function sendLargeByData(
  client: SmtpClient,
  /** `mailParameters`: what follows MAIL FROM's address (RET=, ENVID=, BODY=). */
  envelope: { from: string; to: string; mailParameters?: string },
  headers: string,
  bodyBytes: number,
  onProgress?: (sent: number) => Promise<void> | void,
): Promise<{ sha256: string; reply: string; bytes: number }> {
  const mail = `MAIL FROM:<${envelope.from}>${envelope.mailParameters ? ` ${envelope.mailParameters}` : ''}`;
  for (const line of [mail, `RCPT TO:<${envelope.to}>`]) {
    const r = await client.command(line);
    if (!r.startsWith('250')) throw new Error(`${line}: ${r}`);
  }
  const go = await client.command('DATA');
  if (!go.startsWith('354')) throw new Error(`DATA: ${go}`);
  await client.write(Buffer.from(`${headers}\r\n`, 'latin1'));
  const hash = createHash('sha256');
  let sent = 0;
  for (const chunk of bodyChunks(bodyBytes)) {
    hash.update(chunk);
    await client.write(chunk);
    sent += chunk.length;
    await onProgress?.(sent);
  }
  await client.write(Buffer.from('.\r\n'));
  return { sha256: hash.digest('hex'), reply: await client.reply(), bytes: sent };
}

export interface HashedMail {
  from: string;
  to: string[];
  /** The header section as received (with the gateway's trace fields). */
  headers: string;
  bodySha256: string;
  bodyBytes: number;
}

export interface HashingDownstream {
  hop: string;
  mails: HashedMail[];
  /** Body octets of the transaction in progress (resets for each one). */
  receiving(): number;
  waitFor(n: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** A next hop that keeps only the header section and a digest of the body of each message. */
export async function startHashingDownstream(): Promise<HashingDownstream> {
  const mails: HashedMail[] = [];
  let inProgress = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    size: 64 * 1024 ** 3,
    onData(stream, session, callback) {
      let head: Buffer | undefined = Buffer.alloc(0);
      let headers = '';
      const hash = createHash('sha256');
      let bodyBytes = 0;
      inProgress = 0;
      stream.on('data', (chunk: Buffer) => {
        inProgress += chunk.length;
        if (head) {
          head = Buffer.concat([head, chunk]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          headers = head.subarray(0, end + 2).toString('latin1');
          chunk = head.subarray(end + 4);
          head = undefined;
        }
        hash.update(chunk);
        bodyBytes += chunk.length;
      });
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          headers,
          bodySha256: hash.digest('hex'),
          bodyBytes,
        });
        callback();
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    hop: `smtp://127.0.0.1:${port}`,
    mails,
    receiving: () => inProgress,
    async waitFor(n, timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (mails.length < n) {
        if (Date.now() > until) throw new Error(`downstream got ${mails.length} of ${n} messages in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
