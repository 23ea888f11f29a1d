// The one place that reaches into Node's UDP socket internals, for serving one socket from several
// threads (dns-workers.ts). Node 20 has no SO_REUSEPORT option for dgram, so the loading thread binds
// the socket and each worker opens the same descriptor with `bind({ fd })`: threads share the fd
// table, each thread's event loop polls the descriptor, and the kernel hands each datagram to the
// one that reads it first. `socket._handle` would do the same but is deprecated (DEP0112, it
// prints a warning), so the handle is taken from the state Node keeps under its 'state symbol'.
//
// Node has no way to duplicate a descriptor, so every thread's handle holds the same number and
// each closes it when its thread ends: the first close ends the socket for all, and the later ones
// find the number closed (EBADF, ignored by libuv). They are made back to back at shutdown
// (dns-workers.ts close(), then the main thread's socket) to keep the number from being reused
// in between.
import type { Socket } from 'node:dgram';

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
