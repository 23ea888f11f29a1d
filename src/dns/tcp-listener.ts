// TCP (RFC 7766): two-octet length framing, pipelined queries answered in order, an idle timeout,
// a cap on connections, and backpressure (a client that does not read its answers stops being
// read). Zone transfers stream message by message from one snapshot.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { answerTcp, type MessageStream } from './transfer.js';
import type { SnapshotSet } from './zone-snapshot.js';
import type { DnsCounters } from './counters.js';

export interface TcpOptions {
  /** RFC 7766 §6.2.3: close idle connections; seconds rather than minutes. */
  idleTimeoutMs: number;
  maxConnections: number;
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

function serveConnection(socket: Socket, snapshots: () => SnapshotSet, counters: DnsCounters, log: Logger, options: TcpOptions): void {
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
  const remote = socket.remoteAddress;
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

  const stream = async (messages: MessageStream) => {
    streaming = true;
    counters.transfers++;
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
      log.error({ err, remote }, 'zone transfer failed');
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
          frameTimer = setTimeout(() => socket.destroy(), options.idleTimeoutMs);
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
      let reply: ReturnType<typeof answerTcp>;
      try {
        reply = answerTcp(snapshots(), message, { transport: 'tcp', remote });
      } catch (err) {
        counters.internalErrors++;
        log.error({ err, remote }, 'failed to answer a TCP query');
        socket.destroy();
        return;
      }
      if (!reply) {
        counters.dropped++;
        continue;
      }
      if (reply instanceof Uint8Array) {
        if (!write(frame(reply))) return;
      } else {
        void stream(reply);
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
  host: string,
  port: number,
  snapshots: () => SnapshotSet,
  counters: DnsCounters,
  log: Logger,
  options: TcpOptions,
): Promise<TcpListener> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, snapshots, counters, log, options);
  });
  server.maxConnections = options.maxConnections;
  server.on('error', (err) => log.warn({ err }, 'TCP server error'));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject);
      resolve({
        server,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}
