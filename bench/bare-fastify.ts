// The peer of the directory lookup benchmark: a bare fastify route on this machine, run as its own
// process so it gets a core the same way keypost does. Prints {"port": N} once listening.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n');
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
