// The peer of the directory lookup and log proof benchmarks: a bare fastify route on this machine,
// run as its own process so it gets a core the same way keypost does. Prints {"port": N} once
// listening.
//
// `/hello` answers a fixed object. The same trivial handler also sits behind the path shape of the
// inclusion proof route, so bench:log-proofs can drive both servers with one request script: wrk's
// per-request Lua costs the client CPU, and on a two-core machine the client shares the cores with
// the server, so the peer must get the same requests for the ratio to measure the servers alone.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
const hello = async () => ({ hello: 'world' });
app.get('/hello', hello);
app.get('/v1/log/:zone/proof/inclusion', hello);
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }) + '\n');
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
