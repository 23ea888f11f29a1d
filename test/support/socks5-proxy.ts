// A SOCKS5 proxy (RFC 1928, no authentication) for tests of .onion next hops: every CONNECT goes
// to one local port, and the requested targets are recorded (the gateway must ask for the .onion
// name, never resolve it itself).
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface SocksProxy {
  port: number;
  targets: string[];
  close(): Promise<void>;
}

export async function startSocksProxy(targetPort: number): Promise<SocksProxy> {
  const targets: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client: Socket) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    client.once('data', () => {
      client.write(Buffer.from([5, 0]));
      client.once('data', (req: Buffer) => {
        const length = req[4];
        targets.push(`${req.subarray(5, 5 + length).toString('ascii')}:${req.readUInt16BE(5 + length)}`);
        const upstream = connect(targetPort, '127.0.0.1', () => {
          sockets.add(upstream);
          client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
          client.pipe(upstream).pipe(client);
        });
        upstream.on('error', () => client.destroy());
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    targets,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
