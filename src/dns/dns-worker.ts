// One DNS worker thread (dns-workers.ts starts them): reads the UDP socket and accepts on the TCP
// listener the loading thread bound, through the same descriptors (socket-fd.ts), and answers from
// the snapshots the loading thread posts (zone-mirror.ts). DO answers of signed zones carry the
// signatures the loading thread made and shares (dnssec/shared-signatures.ts); what is not shared
// (apex names, change layers, denials) this thread signs with its own signer, presigning all but
// denials. Queries that need what only the loading thread keeps are handed back to it
// (AnswerContext.handOff): a datagram to answer from its own socket, a TCP query (a zone transfer
// among them) to stream back through this thread's connection (tcp-handoff.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { CookieSecret } from './cookies.js';
import { rowCounters } from './counters.js';
import { DenialLimiter, type DenialLimits } from './denial-limiter.js';
import { SharedRateLimiter, type SharedRrlData } from './shared-rrl.js';
import { answeringSocket, serveUdp } from './udp-listener.js';
import { HandOffClient, isHandOffReply, type HandOffReply, type HandOffRequest } from './tcp-handoff.js';
import { listenTcp, type TcpOptions } from './tcp-listener.js';
import { MirroredZones, type SignaturesMessage, type ZoneMessage } from './zone-mirror.js';
import { Presigner } from './dnssec/presigner.js';

export interface DnsWorkerData {
  fd: number;
  family: 'udp4' | 'udp6';
  /** The TCP listener's descriptor, and this thread's limits (tcp-listener.ts tcpCapsAmong). */
  tcpFd: number;
  tcp: Omit<TcpOptions, 'cookies' | 'handOff'>;
  counterRows: SharedArrayBuffer;
  row: number;
  cookieSecret: Uint8Array;
  rrl?: SharedRrlData;
  /** This thread's share of the denial budgets (denial-limiter.ts dividedAmong). */
  denials: DenialLimits;
  logLevel: string;
}

/**
 * Loading thread → worker. `sync` is answered once every earlier message is applied, and with
 * `signing` once background signing has caught up with them too.
 */
export type ToWorker = ZoneMessage | SignaturesMessage | { kind: 'sync'; id: number; signing: boolean } | HandOffReply;
/** Worker → loading thread. */
export type FromWorker = { kind: 'ready' } | { kind: 'synced'; id: number } | { kind: 'handoff'; msg: Uint8Array; address: string; port: number } | HandOffRequest;

const data = workerData as DnsWorkerData;
const port = parentPort!;
const counters = rowCounters(data.counterRows, data.row);
const zones = new MirroredZones(counters);
// JSON lines on stderr, as the main thread logs (src/log.ts); written directly to the shared fd 2.
const log = pino({ level: data.logLevel, base: { component: 'dns', worker: data.row } }, pino.destination({ fd: 2, sync: true }));
const presigner = new Presigner(log);
// Every thread holds the one UDP descriptor: a thread that ended on an unexpected error would close
// it for all of them (socket-fd.ts). Answering a query keeps no state across queries, so the
// thread logs the error and goes on answering instead.
process.on('uncaughtException', (err) => log.error({ err }, 'unexpected error in a DNS worker; it goes on answering'));
// Names of the base (shared nodes) are signed by the loading thread, which shares the signatures
// (dnssec/shared-signatures.ts); this thread presigns only the apex names and the change layers,
// on each message and hourly, which makes again the signatures that are due.
setInterval(() => {
  for (const zone of zones.current().zones.values()) presigner.schedule(zone, false);
}, 3_600_000).unref();
const socket = answeringSocket(data.family);
const post = (message: FromWorker) => port.postMessage(message);
const cookies = new CookieSecret(Buffer.from(data.cookieSecret));
const handOffs = new HandOffClient(post);

serveUdp(
  socket,
  () => zones.current(),
  counters,
  log,
  {
    rrl: data.rrl ? new SharedRateLimiter(data.rrl) : undefined,
    denials: new DenialLimiter(data.denials, counters),
    cookies,
    handOff: (msg, rinfo) => post({ kind: 'handoff', msg, address: rinfo.address, port: rinfo.port }),
  },
  true,
);
socket.on('error', (err) => log.warn({ err }, 'UDP socket error'));

port.on('message', (message: ToWorker) => {
  if (isHandOffReply(message)) {
    handOffs.receive(message);
    return;
  }
  if (message.kind === 'sync') {
    if (!message.signing) post({ kind: 'synced', id: message.id });
    else void presigner.idle().then(() => post({ kind: 'synced', id: message.id }));
    return;
  }
  if (message.kind === 'signatures') {
    zones.signatures(message);
    return;
  }
  const applied = zones.apply(message);
  if (applied) presigner.schedule(applied.zone, false);
});

const udpBound = new Promise<void>((resolve) => socket.bind({ fd: data.fd }, resolve));
const tcpListening = listenTcp({ fd: data.tcpFd }, () => zones.current(), counters, log, { ...data.tcp, cookies, handOff: (msg, remote) => handOffs.stream(msg, remote) });
void Promise.all([udpBound, tcpListening]).then(() => post({ kind: 'ready' }));
