// TCP (RFC 7766): two-octet length framing, pipelined queries answered in order, an idle timeout,
// a short deadline for a query once begun, a cap on connections overall and per client address,
// and backpressure (a client that does not read its answers stops being read). Zone transfers
// stream message by message from one snapshot.
//
// When a cap is reached, the connection that has been idle longest (of that address, or of all)
// is closed to make room, rather than refusing the new one (RFC 7766 §6.2.2): a client holding
// many idle connections loses its own oldest first, and cannot lock others out.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AnswerContext } from './answer.js';
import type { MessageStream } from './transfer.js';
import { tcpReply, type TcpReply } from './tcp-reply.js';
import type { SnapshotSet } from './zone-snapshot.js';
import type { DnsCounters } from './counters.js';

export interface TcpOptions {
  /** RFC 7766 §6.2.3: close idle connections; seconds rather than minutes. */
  idleTimeoutMs: number;
  /** A query whose first octet has arrived must be complete within this, or the connection ends. */
  queryTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Cookie secret for replies (RFC 7873 §5.2); rate limiting does not apply to TCP. */
  cookies?: AnswerContext['cookies'];
  /**
   * On a worker thread: streams from the loading thread the transfers and what answer() hands
   * off (tcp-handoff.ts), which the worker's mirrored snapshots cannot answer.
   */
  handOff?: (msg: Uint8Array, remote: string) => MessageStream;
}

/** Where the listener accepts: an address to bind, or the descriptor another thread bound (socket-fd.ts). */
export type TcpBinding = { host: string; port: number } | { fd: number };

/**
 * One thread's limits when `threads` accept on one listening socket (dns-workers.ts). Each thread
 * counts only its own connections, and the kernel hands new ones to whichever thread accepts
 * first, so the spread is uneven. The overall cap bounds the server's descriptors and memory:
 * each thread holds an equal share of it, rounded up. The per-address cap keeps one client from
 * taking the listener: each thread holds it whole, because a share of it would refuse a client's
 * busy connections that happen to land on one thread well before the client reached its cap.
 */
export function tcpCapsAmong<T extends Pick<TcpOptions, 'maxConnections'>>(options: T, threads: number): T {
  return { ...options, maxConnections: Math.ceil(options.maxConnections / threads) };
}

/** What the listener knows of each open connection, to pick one to shed. */
interface Connection {
  socket: Socket;
  remote: string;
  /** Last time a query completed or the connection opened (ms). */
  lastActiveMs: number;
  /** True while nothing is buffered, being answered or streamed. */
  idle(): boolean;
}

export interface TcpListener {
  server: Server;
  close(): Promise<void>;
}

const HIGH_WATER = 256 * 1024;

function frame(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(message.length + 2);
  out.writeUInt16BE(message.length, 0);
  out.set(message, 2);
  return out;
}

function serveConnection(socket: Socket, snapshots: () => SnapshotSet, counters: DnsCounters, log: Logger, options: TcpOptions, conn: Connection): void {
  // Received bytes not yet answered: `pending` plus `parts` still to be joined. Joining only once a
  // whole frame is there keeps a client that sends one octet at a time from costing O(n²) copies.
  let pending: Buffer = Buffer.alloc(0);
  let parts: Buffer[] = [];
  let partsLength = 0;
  // A frame must complete within the idle timeout, or a trickling client could hold a connection
  // open indefinitely by resetting the idle timer with every octet.
  let frameTimer: NodeJS.Timeout | undefined;
  const available = () => pending.length + partsLength;
  const frameLength = (): number => {
    if (available() < 2) return -1;
    if (pending.length < 2) join();
    return pending.readUInt16BE(0);
  };
  const join = () => {
    if (parts.length) {
      pending = Buffer.concat([pending, ...parts]);
      parts = [];
      partsLength = 0;
    }
  };
  let streaming = false;
  let ended = false;
  conn.idle = () => !streaming && available() === 0 && socket.writableLength === 0;
  const remote = socket.remoteAddress;
  const handOff = options.handOff && ((msg: Uint8Array) => options.handOff!(msg, remote ?? ''));
  socket.setNoDelay(true);
  socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clearTimeout(frameTimer));

  const write = (data: Buffer): boolean => {
    if (socket.destroyed) return false;
    const ok = socket.write(data);
    if (!ok || socket.writableLength > HIGH_WATER) {
      socket.pause();
      socket.once('drain', () => {
        if (!streaming) {
          socket.resume();
          pump();
        }
      });
      return false;
    }
    return true;
  };

  const stream = async (messages: MessageStream, transfer = true) => {
    streaming = true;
    if (transfer) counters.transfers++;
    socket.pause();
    try {
      for await (const message of messages) {
        if (socket.destroyed) return;
        if (!socket.write(frame(message))) {
          await new Promise<void>((resolve) => {
            socket.once('drain', resolve);
            socket.once('close', resolve);
          });
        }
      }
    } catch (err) {
      counters.internalErrors++;
      log.error({ err, remote }, transfer ? 'zone transfer failed' : 'failed to answer a TCP query');
      socket.destroy();
      return;
    } finally {
      streaming = false;
    }
    socket.resume();
    pump();
  };

  const pump = (): void => {
    for (;;) {
      if (streaming || socket.destroyed) return;
      const length = frameLength();
      if (length < 0 || available() < 2 + length) {
        if (available() > 0 && !frameTimer) {
          frameTimer = setTimeout(() => socket.destroy(), options.queryTimeoutMs);
          frameTimer.unref();
        }
        // A client may half-close after its last query (RFC 7766 §6.2.3): answer it, then end.
        if (ended && socket.writable) socket.end();
        return;
      }
      if (frameTimer) {
        clearTimeout(frameTimer);
        frameTimer = undefined;
      }
      if (pending.length < 2 + length) join();
      const message = pending.subarray(2, 2 + length);
      pending = pending.subarray(2 + length);
      counters.tcpQueries++;
      conn.lastActiveMs = Date.now();
      let reply: TcpReply;
      try {
        reply = tcpReply(snapshots, message, { transport: 'tcp', remote, cookies: options.cookies }, handOff);
      } catch (err) {
        counters.internalErrors++;
        log.error({ err, remote }, 'failed to answer a TCP query');
        socket.destroy();
        return;
      }
      if (reply.kind === 'none') {
        counters.dropped++;
        continue;
      }
      if (reply.kind === 'answer') {
        if (!write(frame(reply.message))) return;
      } else {
        // Answered in order: nothing more is read until the stream has been written.
        void stream(reply.messages, reply.transfer);
        return;
      }
    }
  };

  socket.on('data', (chunk: Buffer) => {
    if (pending.length === 0 && parts.length === 0) pending = chunk;
    else {
      parts.push(chunk);
      partsLength += chunk.length;
    }
    pump();
  });
  socket.on('end', () => {
    ended = true;
    pump();
  });
}

export function listenTcp(
  binding: TcpBinding,
  snapshots: () => SnapshotSet,
  counters: DnsCounters,
  log: Logger,
  options: TcpOptions,
): Promise<TcpListener> {
  const connections = new Map<Socket, Connection>();
  const perIp = new Map<string, number>();
  /** Closes the longest-idle connection among those `eligible`; false when none is idle. */
  const shed = (eligible: (c: Connection) => boolean): boolean => {
    let oldest: Connection | undefined;
    for (const c of connections.values()) {
      if (eligible(c) && c.idle() && (!oldest || c.lastActiveMs < oldest.lastActiveMs)) oldest = c;
    }
    if (!oldest) return false;
    counters.tcpShed++;
    connections.delete(oldest.socket);
    release(oldest.remote);
    oldest.socket.destroy();
    return true;
  };
  const release = (remote: string) => {
    const n = (perIp.get(remote) ?? 1) - 1;
    if (n > 0) perIp.set(remote, n);
    else perIp.delete(remote);
  };
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const remote = socket.remoteAddress ?? '';
    // Room is made first within the client's own share, then overall; with nothing idle to shed,
    // the new connection is the one refused.
    if ((perIp.get(remote) ?? 0) >= options.maxConnectionsPerIp && !shed((c) => c.remote === remote)) {
      counters.tcpRefused++;
      socket.destroy();
      return;
    }
    if (connections.size >= options.maxConnections && !shed(() => true)) {
      counters.tcpRefused++;
      socket.destroy();
      return;
    }
    const conn: Connection = { socket, remote, lastActiveMs: Date.now(), idle: () => true };
    connections.set(socket, conn);
    perIp.set(remote, (perIp.get(remote) ?? 0) + 1);
    socket.on('close', () => {
      if (connections.get(socket) === conn) {
        connections.delete(socket);
        release(remote);
      }
    });
    serveConnection(socket, snapshots, counters, log, options, conn);
  });
  server.on('error', (err) => log.warn({ err }, 'TCP server error'));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen('fd' in binding ? { fd: binding.fd } : { host: binding.host, port: binding.port, exclusive: true }, () => {
      server.off('error', reject);
      resolve({
        server,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of connections.keys()) s.destroy();
          }),
      });
    });
  });
}
