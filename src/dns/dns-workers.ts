// DNS served from several threads (README "KEYPOST_DNS_WORKERS"). The loading thread binds the UDP
// socket and the TCP listener, follows the change feed and builds the snapshots as before; each
// worker thread opens the same descriptors (socket-fd.ts) and answers from snapshots posted to it
// (zone-mirror.ts), whose node bytes live in SharedArrayBuffers, so the zone is held once whatever
// the number of workers. The loading thread stops reading the UDP socket but accepts TCP beside
// the workers (a listener cannot stop accepting without closing); it answers what workers hand
// back (ZONEMD, TSIG, zone transfers: tcp-handoff.ts) and sends NOTIFY.
import type { RemoteInfo } from 'node:dgram';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { DnsWorkerData, FromWorker, ToWorker } from './dns-worker.js';
import type { SignaturesMessage, ZoneMessage } from './zone-mirror.js';
import { HandOffServer, isHandOffRequest } from './tcp-handoff.js';
import type { MessageStream } from './transfer.js';

export interface DnsWorkerPool {
  readonly size: number;
  post(message: ZoneMessage | SignaturesMessage): void;
  /**
   * Resolves once every worker has applied every message posted before the call, and with
   * `signing` once each has signed in the background what those messages brought.
   */
  sync(signing?: boolean): Promise<void>;
  close(): Promise<void>;
}

export interface DnsWorkerOptions extends Omit<DnsWorkerData, 'row'> {
  count: number;
  /** Messages that bring a new worker to the snapshots served now. */
  initial: ZoneMessage[];
  handOff(msg: Buffer, rinfo: Pick<RemoteInfo, 'address' | 'port'>): void;
  /** Answers a TCP query a worker hands back, as the loading thread's own listener would. */
  respondTcp(msg: Uint8Array, remote: string): MessageStream;
  log: Logger;
}

export async function startDnsWorkers(options: DnsWorkerOptions): Promise<DnsWorkerPool> {
  const { count, initial, handOff, respondTcp, log, ...shared } = options;
  const workers: Worker[] = [];
  const waiting = new Map<number, { left: number; done: () => void }>();
  let nextSync = 0;
  let closing: Promise<void> | undefined;
  const started: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    // Row 0 of the counters is the loading thread's.
    const worker = new Worker(new URL('./dns-worker.js', import.meta.url), { workerData: { ...shared, row: i + 1 } satisfies DnsWorkerData });
    workers.push(worker);
    const tcpHandOffs = new HandOffServer(respondTcp, (reply) => worker.postMessage(reply satisfies ToWorker), log);
    started.push(
      new Promise<void>((resolve, reject) => {
        worker.once('error', reject);
        worker.on('message', (message: FromWorker) => {
          if (message.kind === 'ready') {
            worker.off('error', reject);
            resolve();
          } else if (isHandOffRequest(message)) {
            tcpHandOffs.receive(message);
          } else if (message.kind === 'handoff') {
            handOff(Buffer.from(message.msg.buffer, message.msg.byteOffset, message.msg.byteLength), message);
          } else {
            const w = waiting.get(message.id);
            if (w && --w.left === 0) {
              waiting.delete(message.id);
              w.done();
            }
          }
        });
      }),
    );
    worker.on('error', (err) => log.error({ err, worker: i + 1 }, 'DNS worker failed'));
    // A worker's exit closes its handles, and with them the descriptors every thread shares
    // (socket-fd.ts): outside close(), DNS service has then ended and the operator must know.
    worker.on('exit', (code) => {
      tcpHandOffs.close();
      if (!closing) log.error({ worker: i + 1, code }, 'DNS worker exited; queries are no longer answered until restart');
    });
    for (const message of initial) worker.postMessage(message satisfies ToWorker);
  }
  const pool: DnsWorkerPool = {
    size: count,
    post(message) {
      for (const worker of workers) worker.postMessage(message satisfies ToWorker);
    },
    sync(signing = false) {
      const id = nextSync++;
      return new Promise<void>((done) => {
        waiting.set(id, { left: workers.length, done });
        for (const worker of workers) worker.postMessage({ kind: 'sync', id, signing } satisfies ToWorker);
      });
    },
    close() {
      closing ??= (async () => {
        await Promise.all(workers.map((worker) => worker.terminate()));
        for (const w of waiting.values()) w.done();
        waiting.clear();
      })();
      return closing;
    },
  };
  try {
    await Promise.all(started);
  } catch (err) {
    await pool.close();
    throw err;
  }
  return pool;
}
