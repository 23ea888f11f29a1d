// A SOCKS5 CONNECT (RFC 1928, no authentication) for next hops on Tor onion services. The target
// is sent as a domain name (ATYP 3) so that the proxy, not this host, resolves the .onion name.
import { connect, type Socket } from 'node:net';
import type { ListenAddress } from '../protocol/listen-address.js';

const REPLY_TEXT: Record<number, string> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

export class SocksError extends Error {
  readonly code = 'ESOCKS';
}

/** Resolves with a socket connected to host:port through the proxy, ready for SMTP. */
export function socksConnect(proxy: ListenAddress, host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const name = Buffer.from(host, 'ascii');
    if (name.length > 255) {
      reject(new SocksError(`host name too long for SOCKS5: ${host}`));
      return;
    }
    const socket = connect(proxy.port, proxy.host);
    let buffered = Buffer.alloc(0);
    let stage: 'greeting' | 'connect' = 'greeting';
    const fail = (message: string) => {
      socket.destroy();
      reject(new SocksError(`SOCKS5 proxy ${proxy.host}:${proxy.port}: ${message}`));
    };
    socket.setTimeout(timeoutMs, () => fail('timed out'));
    socket.once('error', (err) => fail(err.message));
    socket.once('connect', () => socket.write(Buffer.from([5, 1, 0])));
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (stage === 'greeting') {
        if (buffered.length < 2) return;
        if (buffered[0] !== 5 || buffered[1] !== 0) return fail('proxy requires an authentication method we do not offer');
        buffered = buffered.subarray(2);
        stage = 'connect';
        const request = Buffer.alloc(7 + name.length);
        request.set([5, 1, 0, 3, name.length], 0);
        name.copy(request, 5);
        request.writeUInt16BE(port, 5 + name.length);
        socket.write(request);
      }
      if (stage === 'connect') {
        if (buffered.length < 5) return;
        if (buffered[0] !== 5) return fail('not a SOCKS5 reply');
        if (buffered[1] !== 0) return fail(REPLY_TEXT[buffered[1]] ?? `error ${buffered[1]}`);
        // Reply: VER REP RSV ATYP BND.ADDR BND.PORT; the address length depends on ATYP.
        const atyp = buffered[3];
        const addrLength = atyp === 1 ? 4 : atyp === 4 ? 16 : atyp === 3 ? 1 + buffered[4] : -1;
        if (addrLength < 0) return fail(`unknown address type ${atyp}`);
        const total = 4 + addrLength + 2;
        if (buffered.length < total) return;
        socket.off('data', onData);
        // Paused until the SMTP client attaches its own 'data' listener, so nothing is lost.
        socket.pause();
        socket.removeAllListeners('error');
        socket.removeAllListeners('timeout');
        socket.setTimeout(0);
        const rest = buffered.subarray(total);
        // Bytes after the reply already belong to the SMTP session (the greeting): hand them back.
        if (rest.length) socket.unshift(rest);
        resolve(socket);
      }
    };
    socket.on('data', onData);
  });
}
