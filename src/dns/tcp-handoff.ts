// TCP queries a worker thread cannot answer from its mirrored snapshots (zone transfers, TSIG,
// ZONEMD: what the loading thread keeps, see AnswerContext.handOff) are answered by the loading
// thread, and the worker writes its messages to the connection it accepted: Node cannot move a
// socket between threads. A transfer is large (every record of the zone, RFC 5936), so the worker
// pulls it one message at a time, asking for the next as it starts writing one; a connection that
// closes cancels the rest.
import type { Logger } from 'pino';
import type { MessageStream } from './transfer.js';

/** Worker → loading thread. */
export type HandOffRequest =
  | { kind: 'tcp-handoff'; id: number; msg: Uint8Array; remote: string }
  | { kind: 'tcp-pull'; id: number }
  | { kind: 'tcp-cancel'; id: number };
/** Loading thread → worker: the next message of stream `id`, or its end. */
export type HandOffReply = { kind: 'tcp-message'; id: number; msg: Uint8Array } | { kind: 'tcp-end'; id: number; failed: boolean };

const REQUEST_KINDS: ReadonlySet<string> = new Set<HandOffRequest['kind']>(['tcp-handoff', 'tcp-pull', 'tcp-cancel']);
const REPLY_KINDS: ReadonlySet<string> = new Set<HandOffReply['kind']>(['tcp-message', 'tcp-end']);
export const isHandOffRequest = (message: { kind: string }): message is HandOffRequest => REQUEST_KINDS.has(message.kind);
export const isHandOffReply = (message: { kind: string }): message is HandOffReply => REPLY_KINDS.has(message.kind);

/** Posting a view clones the whole buffer it lies in (a pooled Buffer's 8 KiB): post a copy of just the view. */
const ownBuffer = (bytes: Uint8Array): Uint8Array => (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes));

/** The worker's side: hands queries over and streams back what the loading thread answers. */
export class HandOffClient {
  private nextId = 0;
  /** The one reply each open stream waits for. */
  private readonly waiting = new Map<number, (reply: HandOffReply) => void>();

  constructor(private readonly post: (request: HandOffRequest) => void) {}

  receive(reply: HandOffReply): void {
    const resolve = this.waiting.get(reply.id);
    if (!resolve) return;
    this.waiting.delete(reply.id);
    resolve(reply);
  }

  stream(msg: Uint8Array, remote: string): AsyncIterable<Uint8Array> {
    const id = this.nextId++;
    const next = () => new Promise<HandOffReply>((resolve) => this.waiting.set(id, resolve));
    const query = ownBuffer(msg);
    const client = this;
    return (async function* () {
      let reply = next();
      client.post({ kind: 'tcp-handoff', id, msg: query, remote });
      let ended = false;
      try {
        for (;;) {
          const got = await reply;
          if (got.kind === 'tcp-end') {
            ended = true;
            if (got.failed) throw new Error('the loading thread failed to answer a query handed to it');
            return;
          }
          // Ask for the next message now: it is made while this one is written.
          reply = next();
          client.post({ kind: 'tcp-pull', id });
          yield got.msg;
        }
      } finally {
        if (!ended) {
          client.waiting.delete(id);
          client.post({ kind: 'tcp-cancel', id });
        }
      }
    })();
  }
}

/** The loading thread's side, one per worker: answers handed queries message by message. */
export class HandOffServer {
  private readonly streams = new Map<number, Iterator<Uint8Array> | AsyncIterator<Uint8Array>>();

  constructor(
    private readonly respond: (msg: Uint8Array, remote: string) => MessageStream,
    private readonly post: (reply: HandOffReply) => void,
    private readonly log: Logger,
  ) {}

  receive(request: HandOffRequest): void {
    if (request.kind === 'tcp-handoff') {
      let messages: MessageStream;
      try {
        messages = this.respond(request.msg, request.remote);
      } catch (err) {
        this.fail(request.id, err);
        return;
      }
      const iterator = Symbol.asyncIterator in messages ? messages[Symbol.asyncIterator]() : messages[Symbol.iterator]();
      this.streams.set(request.id, iterator);
      this.advance(request.id, iterator);
    } else if (request.kind === 'tcp-pull') {
      const iterator = this.streams.get(request.id);
      if (iterator) this.advance(request.id, iterator);
    } else {
      const iterator = this.streams.get(request.id);
      this.streams.delete(request.id);
      void Promise.resolve(iterator?.return?.()).catch(() => {});
    }
  }

  /** Ends every open stream (the worker is gone). */
  close(): void {
    for (const iterator of this.streams.values()) void Promise.resolve(iterator.return?.()).catch(() => {});
    this.streams.clear();
  }

  private advance(id: number, iterator: Iterator<Uint8Array> | AsyncIterator<Uint8Array>): void {
    Promise.resolve()
      .then(() => iterator.next())
      .then(
        (step) => {
          if (this.streams.get(id) !== iterator) return;
          if (step.done) {
            this.streams.delete(id);
            this.post({ kind: 'tcp-end', id, failed: false });
          } else {
            this.post({ kind: 'tcp-message', id, msg: ownBuffer(step.value) });
          }
        },
        (err) => this.fail(id, err),
      );
  }

  private fail(id: number, err: unknown): void {
    this.streams.delete(id);
    this.log.error({ err }, 'failed to answer a TCP query handed over by a worker');
    this.post({ kind: 'tcp-end', id, failed: true });
  }
}
