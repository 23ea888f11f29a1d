// UDP: one datagram in, at most one datagram out. The socket only moves bytes; answer() decides.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import { answer, type AnswerContext } from './answer.js';
import type { SnapshotSet } from './zone-snapshot.js';
import type { DnsCounters } from './counters.js';
import { stopReading } from './socket-fd.js';

export interface UdpListener {
  socket: Socket;
  /** Answers a query that arrived elsewhere (a worker handed it on) from this socket. */
  respond(msg: Buffer, rinfo: Pick<RemoteInfo, 'address' | 'port'>): void;
  close(): Promise<void>;
}

/** Rate limiter, cookie secret and, on a worker, where queries it cannot answer go. */
/** Rate limiter, cookie secret and denial admission, shared with every UDP answer of a thread. */
export type UdpPolicy = Pick<AnswerContext, 'rrl' | 'cookies' | 'denials'> & {
  handOff?: (msg: Buffer, rinfo: RemoteInfo) => void;
};

// Large kernel buffers absorb bursts from many concurrent clients instead of dropping them.
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * A socket for answering: every datagram it sends goes back to the address a query came from,
 * which the kernel reports as an IP literal. dgram's default lookup (dns.lookup) answers even a
 * literal on the next tick, so each answer would wait a turn of the tick queue to be sent; this
 * lookup hands the literal straight back.
 */
export function answeringSocket(type: 'udp4' | 'udp6'): Socket {
  const family = type === 'udp6' ? 6 : 4;
  return createSocket({ type, reuseAddr: false, lookup: (address, _options, callback) => callback(null, address, family) });
}

/** Answers datagrams on `socket`; `read` false leaves reading to others (dns-workers.ts). */
export function serveUdp(
  socket: Socket,
  snapshots: () => SnapshotSet,
  counters: DnsCounters,
  log: Logger,
  policy: UdpPolicy,
  read: boolean,
): UdpListener['respond'] {
  // answer() runs synchronously, so one slot is enough to learn what work it deferred.
  let deferred: Promise<unknown> | undefined;
  const defer = (work: Promise<unknown>) => {
    deferred = work;
  };
  let handedOff = false;
  const handOff = policy.handOff
    ? () => {
        handedOff = true;
      }
    : undefined;
  const respond = (msg: Buffer, rinfo: Pick<RemoteInfo, 'address' | 'port'>, mayDefer: boolean) => {
    let reply: Uint8Array | null;
    try {
      reply = answer(snapshots(), msg, { transport: 'udp', remote: rinfo.address, rrl: policy.rrl, cookies: policy.cookies, denials: policy.denials, defer: mayDefer ? defer : undefined, handOff });
    } catch (err) {
      // A bug must cost one answer, never the listener.
      counters.internalErrors++;
      log.error({ err, remote: rinfo.address }, 'failed to answer a UDP query');
      return;
    }
    if (handedOff) {
      handedOff = false;
      policy.handOff!(msg, rinfo as RemoteInfo);
      return;
    }
    if (!reply && deferred) {
      const work = deferred;
      deferred = undefined;
      // Asked again once the work has settled; the second time nothing is deferred.
      work.then(
        () => respond(msg, rinfo, false),
        (err) => {
          counters.internalErrors++;
          log.error({ err }, 'deferred DNS work failed');
        },
      );
      return;
    }
    if (!reply) {
      counters.dropped++;
      return;
    }
    try {
      socket.send(reply, rinfo.port, rinfo.address);
    } catch {
      // Source port 0 and similar spoofed sources cannot be answered.
      counters.dropped++;
    }
  };
  if (read) {
    socket.on('message', (msg, rinfo) => {
      counters.udpQueries++;
      respond(msg, rinfo, true);
    });
  }
  return (msg, rinfo) => respond(msg, rinfo, true);
}

export function listenUdp(
  host: string,
  port: number,
  snapshots: () => SnapshotSet,
  counters: DnsCounters,
  log: Logger,
  policy: UdpPolicy = {},
  /** False when worker threads read the socket (dns-workers.ts); this thread still sends. */
  read = true,
): Promise<UdpListener> {
  const socket = answeringSocket(host.includes(':') ? 'udp6' : 'udp4');
  const respond = serveUdp(socket, snapshots, counters, log, policy, read);
  socket.on('error', (err) => log.warn({ err }, 'UDP socket error'));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', reject);
      if (!read) stopReading(socket);
      try {
        socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
        socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
      } catch {
        // The kernel caps these (net.core.rmem_max); the default buffers still work.
      }
      resolve({
        socket,
        respond,
        close: () => new Promise<void>((done) => socket.close(() => done())),
      });
    });
  });
}
