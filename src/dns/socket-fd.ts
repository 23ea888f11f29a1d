// The one place that reaches into Node's socket internals, for serving one socket from several
// threads (dns-workers.ts). Node 20 has no SO_REUSEPORT option for dgram or net, so the loading
// thread binds the sockets and each worker opens the same descriptors, UDP with `bind({ fd })` and
// the TCP listener with `listen({ fd })`: threads share the fd table, each thread's event loop polls
// the descriptor, and the kernel hands each datagram, and each new connection, to the thread that
// reads or accepts it first. For UDP, `socket._handle` would do the same but is deprecated (DEP0112,
// it prints a warning), so the handle is taken from the state Node keeps under its 'state symbol'.
// A listening TCP handle cannot stop accepting without closing, so the loading thread accepts
// beside the workers; it answers what it accepts exactly as they do.
//
// Node has no way to duplicate a descriptor, so every thread's handle holds the same number and
// each closes it when its thread ends: the first close ends the socket for all, and the later ones
// find the number closed (EBADF, ignored by libuv). They are made back to back at shutdown
// (dns-workers.ts close(), then the main thread's socket) to keep the number from being reused
// in between.
import type { Socket } from 'node:dgram';
import type { Server } from 'node:net';

interface UdpHandle {
  fd: number;
  recvStop(): number;
}

function handleOf(socket: Socket): UdpHandle {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const handle = key ? (socket as unknown as Record<symbol, { handle?: UdpHandle }>)[key]?.handle : undefined;
  if (!handle || typeof handle.fd !== 'number' || handle.fd < 0 || typeof handle.recvStop !== 'function') {
    throw new Error('cannot find the descriptor of a bound UDP socket in this Node version');
  }
  return handle;
}

/** The descriptor of a bound UDP socket, for `bind({ fd })` in a worker thread. */
export function udpDescriptor(socket: Socket): number {
  return handleOf(socket).fd;
}

/**
 * Stops this thread reading datagrams from `socket` while keeping it open, so that the workers
 * get every query; the socket can still send (the answers workers hand back to this thread).
 */
export function stopReading(socket: Socket): void {
  handleOf(socket).recvStop();
}

/** The descriptor of a listening TCP server, for `listen({ fd })` in a worker thread. */
export function tcpDescriptor(server: Server): number {
  // A listening net.Server keeps its libuv handle as `_handle` (not deprecated, unlike dgram's).
  const fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('cannot find the descriptor of a listening TCP server in this Node version');
  return fd;
}
