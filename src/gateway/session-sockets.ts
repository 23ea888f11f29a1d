// The socket under each SMTP session. smtp-server hands its handlers a session object but not the
// socket (except after STARTTLS), and the gateway needs it for two things the library does not do:
// a deadline per line (line-deadline.ts) and closing a session on its own with a reply (the total
// session timeout, the line deadline). The listening net.Server's 'connection' event gives each
// socket as it is accepted; onConnect claims it by the client's address and port.
import type { Server, Socket } from 'node:net';
import { watchLineDeadline } from './line-deadline.js';
import { clientKey } from './networks.js';

interface Tracked {
  socket: Socket;
  stopDeadline?: () => void;
  closing: boolean;
}

export interface SessionSocketOptions {
  lineTimeoutMs: number;
  /** A line stayed incomplete past the deadline; the caller closes the session with a reply. */
  onLineExpired(sessionId: string): void;
}

// Address and port identify an accepted socket; the address goes through clientKey so that
// smtp-server's spelling of it (IPv6 written out, ::ffff: removed) and the socket's agree.
const keyOf = (address: string, port: number) => `${clientKey(address)}|${port}`;

export class SessionSockets {
  private readonly accepted = new Map<string, Socket>();
  private readonly sessions = new Map<string, Tracked>();

  constructor(
    server: Server,
    private readonly options: SessionSocketOptions,
  ) {
    server.on('connection', (socket: Socket) => {
      if (!socket.remoteAddress || socket.remotePort === undefined) return;
      const key = keyOf(socket.remoteAddress, socket.remotePort);
      this.accepted.set(key, socket);
      socket.once('close', () => {
        if (this.accepted.get(key) === socket) this.accepted.delete(key);
      });
    });
  }

  /** At onConnect: the session takes its socket, and its lines get their deadline. */
  claim(sessionId: string, remoteAddress: string, remotePort: number): void {
    const key = keyOf(remoteAddress, remotePort);
    const socket = this.accepted.get(key);
    if (!socket) return;
    this.accepted.delete(key);
    const tracked: Tracked = { socket, closing: false };
    this.sessions.set(sessionId, tracked);
    this.watch(sessionId, tracked);
  }

  /**
   * After STARTTLS the session reads from the TLS socket (smtp-server dropped its listeners on
   * the raw one, the deadline's among them). Call after smtp-server has piped it to its parser.
   */
  upgraded(sessionId: string, socket: Socket): void {
    const tracked = this.sessions.get(sessionId);
    if (!tracked) return;
    tracked.stopDeadline?.();
    tracked.socket = socket;
    this.watch(sessionId, tracked);
  }

  /**
   * Ends the session from our side: the reply (a 421, RFC 5321 section 3.8), then the connection.
   * The socket is destroyed once the reply is flushed, so a client that never closes its side
   * cannot keep it half-open.
   */
  closeWith(sessionId: string, reply: string): void {
    const tracked = this.sessions.get(sessionId);
    if (!tracked || tracked.closing) return;
    tracked.closing = true;
    tracked.stopDeadline?.();
    const { socket } = tracked;
    if (socket.destroyed) return;
    socket.end(`${reply}\r\n`, () => socket.destroy());
    // A client that reads nothing would leave the write (and the socket) pending for ever.
    setTimeout(() => socket.destroy(), 5000).unref();
  }

  /** At onClose. */
  release(sessionId: string): void {
    this.sessions.get(sessionId)?.stopDeadline?.();
    this.sessions.delete(sessionId);
  }

  private watch(sessionId: string, tracked: Tracked): void {
    if (this.options.lineTimeoutMs <= 0) return;
    tracked.stopDeadline = watchLineDeadline(tracked.socket, this.options.lineTimeoutMs, () => this.options.onLineExpired(sessionId));
  }
}
