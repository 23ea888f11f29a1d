// One DNS worker thread (dns-workers.ts starts them): reads the UDP socket the loading thread
// bound, through the same descriptor (socket-fd.ts), and answers from the snapshots the loading
// thread posts (zone-mirror.ts). Queries that need what only the loading thread holds are handed
// back to it (AnswerContext.handOff).
import { createSocket } from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { CookieSecret } from './cookies.js';
import { rowCounters } from './counters.js';
import { SharedRateLimiter, type SharedRrlData } from './shared-rrl.js';
import { serveUdp } from './udp-listener.js';
import { MirroredZones, type ZoneMessage } from './zone-mirror.js';

export interface DnsWorkerData {
  fd: number;
  family: 'udp4' | 'udp6';
  counterRows: SharedArrayBuffer;
  row: number;
  cookieSecret: Uint8Array;
  rrl?: SharedRrlData;
  logLevel: string;
}

/** Loading thread → worker. `sync` is answered once every earlier message is applied. */
export type ToWorker = ZoneMessage | { kind: 'sync'; id: number };
/** Worker → loading thread. */
export type FromWorker = { kind: 'ready' } | { kind: 'synced'; id: number } | { kind: 'handoff'; msg: Uint8Array; address: string; port: number };

const data = workerData as DnsWorkerData;
const port = parentPort!;
const zones = new MirroredZones();
const counters = rowCounters(data.counterRows, data.row);
const log = pino({ level: data.logLevel, base: { component: 'dns', worker: data.row } });
const socket = createSocket(data.family);
const post = (message: FromWorker) => port.postMessage(message);

serveUdp(
  socket,
  () => zones.current(),
  counters,
  log,
  {
    rrl: data.rrl ? new SharedRateLimiter(data.rrl) : undefined,
    cookies: new CookieSecret(Buffer.from(data.cookieSecret)),
    handOff: (msg, rinfo) => post({ kind: 'handoff', msg, address: rinfo.address, port: rinfo.port }),
  },
  true,
);
socket.on('error', (err) => log.warn({ err }, 'UDP socket error'));

port.on('message', (message: ToWorker) => {
  if (message.kind === 'sync') post({ kind: 'synced', id: message.id });
  else zones.apply(message);
});

socket.bind({ fd: data.fd }, () => post({ kind: 'ready' }));
