// The DNS prober of bench:upload-dns, on its own thread so that the benchmark's own work (sending
// 30 MB of uploads) cannot delay reading the answers and inflate the measured round trips.
// Sends a `_keypost.<domain>` TXT query (RFC 1035 §4.1) every `intervalMs` over UDP; on each
// 'phase' message it answers with the round trips (ms) and lost count since the previous one.
import dgram from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';

export interface ProberData {
  host: string;
  port: number;
  name: string;
  intervalMs: number;
  timeoutMs: number;
}

export interface PhaseResult {
  rtts: number[];
  lost: number;
}

const { host, port, name, intervalMs, timeoutMs } = workerData as ProberData;
const parent = parentPort;
if (!parent) throw new Error('dns-prober-worker.js runs only as a worker thread');

function query(id: number): Buffer {
  const labels = name.split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'ascii')]));
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(1, 4); // QDCOUNT 1; flags 0: a standard query without recursion
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 16, 0, 1])]);
}

const socket = dgram.createSocket('udp4');
const inFlight = new Map<number, bigint>();
let rtts: number[] = [];
let lost = 0;
let nextId = 1;

socket.on('message', (message) => {
  const id = message.readUInt16BE(0);
  const sentAt = inFlight.get(id);
  if (sentAt === undefined) return;
  inFlight.delete(id);
  rtts.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
});

const timer = setInterval(() => {
  const now = process.hrtime.bigint();
  for (const [id, sentAt] of inFlight) {
    if (Number(now - sentAt) / 1e6 > timeoutMs) {
      inFlight.delete(id);
      lost++;
    }
  }
  const id = nextId;
  nextId = (nextId % 65535) + 1;
  inFlight.set(id, now);
  socket.send(query(id), port, host);
}, intervalMs);

parent.on('message', (message: 'phase' | 'stop') => {
  // Queries still in flight belong to the phase that sent them; count them as lost there only
  // if they time out, which is close enough at 200 queries per second.
  parent.postMessage({ rtts, lost } satisfies PhaseResult);
  rtts = [];
  lost = 0;
  if (message === 'stop') {
    clearInterval(timer);
    socket.close();
  }
});
