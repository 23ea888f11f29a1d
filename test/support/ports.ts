// A loopback port free for both TCP and UDP, for servers that take a fixed port in their config
// (nsd, smtp-sink) rather than port 0. DNS needs both protocols on the same number.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}
