// CHUNKING (RFC 3030): the BDAT command, which smtp-server does not implement. A message sent in
// BDAT chunks is handed to the same onData handler as one sent by DATA, as one stream: each chunk's
// octets are written to it as they arrive (no dot-stuffing, no terminator to look for, RFC 3030
// section 2), so stamps, size and line limits, block files and the group commit apply unchanged.
//
// smtp-server dispatches a command to its connection's `handler_<NAME>` method and, when that
// handler puts the input parser in data mode, feeds it the octets after the command line; BDAT
// takes both hooks: the handler below, and a per-chunk replacement of the parser's data feed that
// counts octets instead of looking for "<CRLF>.<CRLF>". EHLO announces CHUNKING. BINARYMIME is not
// announced: the relay's SMTP client sends by DATA only, so a binary message could not go on.
import { PassThrough } from 'node:stream';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

type Callback = () => void;

/** The parts of smtp-server's connection and parser that BDAT drives. */
interface Parser {
  _dataMode: boolean;
  _feedDataStream?: (chunk: Buffer, done: (err?: Error) => void) => void;
  _write(chunk: Buffer, encoding: string, done: (err?: Error) => void): void;
}

interface Connection {
  session: { envelope: { rcptTo: unknown[] } };
  _parser: Parser | false;
  _server: {
    options: { size?: number; [CHUNKING_OPTION]?: boolean };
    onData(stream: PassThrough, session: unknown, callback: (err: (Error & { responseCode?: number }) | null, message?: string) => void): void;
  };
  _transactionCounter: number;
  _unrecognizedCommands: number;
  _resetSession(): void;
  send(code: number, data?: string | string[], context?: string): void;
  /** This transaction's BDAT state, from its first chunk to its LAST one. */
  _bdat?: Transfer;
}

interface Transfer {
  stream: PassThrough;
  octets: number;
  /** The transaction failed (over SIZE): later chunks are read and answered 503. */
  failed: boolean;
  /** The failure was answered (552 to the chunk that went over). */
  reported: boolean;
  /** The onData verdict: the reply to BDAT ... LAST. */
  decision: Promise<{ code: number; message: string | string[] }>;
}

/**
 * The SMTPServer option that turns CHUNKING on: the methods are installed on smtp-server's shared
 * connection class, and other servers in the process (test listeners) keep its behaviour.
 */
export const CHUNKING_OPTION = 'keypostChunking';

const BDAT_SYNTAX = /^BDAT\s+(\d{1,20})(\s+LAST)?\s*$/i;

export function installChunking(): void {
  const proto = SMTPConnection.prototype as unknown as Record<string, unknown>;
  if (proto.handler_BDAT) return;

  const ehlo = proto.handler_EHLO as (this: Connection, command: Buffer, callback: Callback) => void;
  proto.handler_EHLO = function (this: Connection, command: Buffer, callback: Callback) {
    if (!this._server.options[CHUNKING_OPTION]) return ehlo.call(this, command, callback);
    const send = this.send;
    // The EHLO reply is one send() of the greeting and the extension lines; CHUNKING joins them.
    this.send = (code, data, context) => {
      this.send = send;
      // After the greeting line: the extensions keep smtp-server's order, SIZE last.
      send.call(this, code, code === 250 && Array.isArray(data) ? [data[0], 'CHUNKING', ...data.slice(1)] : data, context);
    };
    try {
      ehlo.call(this, command, callback);
    } finally {
      this.send = send;
    }
  };

  // RSET, EHLO and MAIL end a transaction: a BDAT transfer in progress is dropped with it.
  const reset = proto._resetSession as (this: Connection) => void;
  proto._resetSession = function (this: Connection) {
    const transfer = this._bdat;
    this._bdat = undefined;
    if (transfer && !transfer.stream.writableEnded) transfer.stream.destroy();
    reset.call(this);
  };

  // A client gone before BDAT ... LAST: the handler's stream ends as DATA's does in that case
  // (destroyed), so the handler lets go of the message and its block files.
  const onClose = proto._onClose as (this: Connection) => void;
  proto._onClose = function (this: Connection) {
    const transfer = this._bdat;
    this._bdat = undefined;
    if (transfer && !transfer.stream.writableEnded) transfer.stream.destroy();
    onClose.call(this);
  };

  proto.handler_BDAT = function (this: Connection & { _handlerPending: boolean }, command: Buffer, callback: Callback) {
    if (!this._server.options[CHUNKING_OPTION]) {
      this.send(500, 'Error: command not recognized');
      return callback();
    }
    const m = BDAT_SYNTAX.exec(command.toString('latin1').trim());
    if (!m) {
      this.send(501, 'Error: syntax: BDAT chunk-size [LAST]');
      return callback();
    }
    const size = Number(m[1]);
    const last = m[2] !== undefined;
    const parser = this._parser;
    if (!parser) return callback();
    const limit = this._server.options.size ?? Infinity;
    const noRecipients = !this.session.envelope.rcptTo.length && !this._bdat;
    const transfer = noRecipients ? undefined : (this._bdat ??= start(this));

    /** The reply to this chunk, once its octets are all read; `resume` reads on. */
    const reply = (resume: () => void) => {
      if (!transfer) {
        // RFC 3030 section 2: the octets of a refused chunk are read all the same, then refused.
        this.send(503, '5.5.1 Error: need RCPT command');
        return resume();
      }
      if (transfer.failed) {
        const first = !transfer.reported;
        transfer.reported = true;
        if (first) this.send(552, `5.3.4 Message size exceeds fixed maximum message size (${transfer.octets} > ${limit} octets)`);
        else this.send(503, '5.5.1 Error: this BDAT transaction failed; RSET and start again');
        if (last) this._resetSession();
        return resume();
      }
      if (!last) {
        this.send(250, `2.0.0 ${size} octets received`);
        return resume();
      }
      transfer.stream.end();
      // Waiting for the verdict: the client waits for us, so the idle timeout does not count.
      this._handlerPending = true;
      void transfer.decision.then(({ code, message }) => {
        this._handlerPending = false;
        this._bdat = undefined;
        this.send(code, message);
        this._transactionCounter++;
        this._unrecognizedCommands = 0;
        this._resetSession();
        resume();
      });
    };

    if (size === 0) return reply(callback);
    consume(
      parser,
      size,
      (octets) => {
        if (!transfer || transfer.failed) return true;
        transfer.octets += octets.length;
        if (transfer.octets > limit) {
          // SIZE (RFC 1870) holds for chunks too: the transaction fails at the chunk that went
          // over, and the handler sees an aborted stream, so nothing is stored.
          transfer.failed = true;
          transfer.stream.destroy();
          return true;
        }
        return transfer.stream.write(octets);
      },
      () => transfer?.stream,
      reply,
    );
    // The parser now feeds the chunk's octets to consume(); the reply comes when they are in.
    callback();
  };
}

/** A transfer's stream, handed to onData at its first chunk as DATA's would be at its end. */
function start(conn: Connection): Transfer {
  const stream = new PassThrough();
  const decision = new Promise<{ code: number; message: string | string[] }>((resolve) => {
    conn._server.onData(stream, conn.session, (err, message) => {
      // The handler may decide before the last chunk (a refusal while reading); the reply waits
      // for LAST all the same, and the rest of the message is drained.
      if (stream.readableFlowing === null) stream.resume();
      resolve(err ? { code: err.responseCode ?? 450, message: err.message } : { code: 250, message: message ?? 'OK: message queued' });
    });
  });
  return { stream, octets: 0, failed: false, reported: false, decision };
}

/**
 * Reads exactly `size` octets from the parser's input into `sink` (which returns false to ask for
 * a pause until the stream `drainOf()` drains), then hands `after` the way back to the command
 * parser: what follows the chunk is parsed only once `after` has replied and calls it.
 */
function consume(
  parser: Parser,
  size: number,
  sink: (octets: Buffer) => boolean,
  drainOf: () => PassThrough | undefined,
  after: (resume: () => void) => void,
): void {
  let remaining = size;
  parser._dataMode = true;
  parser._feedDataStream = (chunk, done) => {
    const take = chunk.subarray(0, Math.min(remaining, chunk.length));
    const rest = chunk.subarray(take.length);
    remaining -= take.length;
    const flowing = take.length === 0 || sink(take);
    const next = () => {
      if (remaining > 0) return done();
      // The chunk is complete: back to commands, after this BDAT's reply.
      delete parser._feedDataStream;
      parser._dataMode = false;
      after(() => (rest.length ? parser._write(rest, 'buffer', done) : done()));
    };
    const stream = drainOf();
    if (flowing || !stream || stream.destroyed) next();
    else {
      const once = () => {
        stream.off('drain', once);
        stream.off('close', once);
        next();
      };
      stream.on('drain', once);
      stream.on('close', once);
    }
  };
}
