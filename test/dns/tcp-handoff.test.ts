// A TCP query a worker hands to the loading thread (src/dns/tcp-handoff.ts), across a real
// MessageChannel as between threads: the messages arrive in order, one at a time as the worker
// pulls them; a connection that closes mid-stream ends the loading thread's stream; and a stream
// that fails there fails the worker's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { pino } from 'pino';
import { HandOffClient, HandOffServer, type HandOffReply, type HandOffRequest } from '../../src/dns/tcp-handoff.js';
import type { MessageStream } from '../../src/dns/transfer.js';

const log = pino({ level: 'silent' });

/** A client and a server joined by a MessageChannel; `respond` is the loading thread's answer. */
function pair(respond: (msg: Uint8Array, remote: string) => MessageStream) {
  const { port1: workerSide, port2: loaderSide } = new MessageChannel();
  const client = new HandOffClient((request) => workerSide.postMessage(request));
  const server = new HandOffServer(respond, (reply) => loaderSide.postMessage(reply), log);
  workerSide.on('message', (reply: HandOffReply) => client.receive(reply));
  loaderSide.on('message', (request: HandOffRequest) => server.receive(request));
  return {
    client,
    close() {
      workerSide.close();
      loaderSide.close();
    },
  };
}

test('every message of a handed-off stream arrives, in order, with the query and remote it was asked for', async () => {
  let asked: { msg: number[]; remote: string } | undefined;
  const { client, close } = pair((msg, remote) => {
    asked = { msg: [...msg], remote };
    return (async function* () {
      for (let i = 0; i < 20; i++) yield new Uint8Array([i, i + 1]);
    })();
  });
  try {
    // A view into a larger buffer, as a query is cut from the bytes a connection read.
    const read = Buffer.from([9, 9, 1, 2, 3, 9]);
    const got: number[][] = [];
    for await (const message of client.stream(read.subarray(2, 5), '192.0.2.7')) got.push([...message]);
    assert.deepEqual(asked, { msg: [1, 2, 3], remote: '192.0.2.7' });
    assert.deepEqual(
      got,
      Array.from({ length: 20 }, (_, i) => [i, i + 1]),
    );
  } finally {
    close();
  }
});

test('the loading thread makes a message only when the worker pulls it, and stops when the connection goes', { timeout: 10_000 }, async () => {
  let made = 0;
  let ended!: () => void;
  const stopped = new Promise<void>((resolve) => (ended = resolve));
  const { client, close } = pair(() =>
    (function* () {
      try {
        for (;;) {
          made++;
          yield new Uint8Array(16_384);
        }
      } finally {
        ended();
      }
    })(),
  );
  try {
    let read = 0;
    for await (const _ of client.stream(new Uint8Array([1]), '127.0.0.1')) {
      if (++read === 3) break; // the client closed its connection after three messages
    }
    await stopped;
    // Three written and one made ahead while the third was written: never the whole endless zone.
    assert.ok(made <= 4, `made ${made}`);
  } finally {
    close();
  }
});

test('a stream that fails on the loading thread fails on the worker', async () => {
  const { client, close } = pair(() =>
    (async function* () {
      yield new Uint8Array([1]);
      throw new Error('digest failed');
    })(),
  );
  try {
    const got: Uint8Array[] = [];
    await assert.rejects(async () => {
      for await (const message of client.stream(new Uint8Array([1]), '127.0.0.1')) got.push(message);
    }, /failed to answer a query handed to it/);
    assert.equal(got.length, 1);
  } finally {
    close();
  }
});
