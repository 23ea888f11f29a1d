// The outbound pool keeps an entry per next hop only while it has a connection or a delivery
// waiting: the relay meets a new hop for each remote domain, and entries for every hop ever seen
// would grow without end (issue 15 item 5, bound every cache).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { pino } from 'pino';
import { SmtpPool } from '../../src/smtp/smtp-pool.js';
import { startDownstream } from '../gateway/support.js';

const log = pino({ level: 'silent' });
const message = Buffer.from('Subject: hop\r\n\r\nbody\r\n');

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

test('hops that could not be reached leave no entry behind', async () => {
  const pool = new SmtpPool({ hostname: 'relay.test', timeoutMs: 2000, maxPerTarget: 2, log });
  try {
    for (let i = 0; i < 20; i++) {
      const result = await pool.deliver({ host: '127.0.0.1', port: await closedPort(), onion: false }, { from: 'a@relay.test', to: ['b@remote.test'] }, message);
      assert.equal(result.ok, false);
    }
    assert.equal(pool.hops(), 0);
  } finally {
    await pool.close();
  }
});

test('a hop is forgotten once its idle connection is closed, and reached again afterwards', async () => {
  const downstream = await startDownstream();
  const pool = new SmtpPool({ hostname: 'relay.test', timeoutMs: 2000, maxPerTarget: 2, idleMs: 50, log });
  const hop = { host: '127.0.0.1', port: downstream.port, onion: false };
  try {
    assert.equal((await pool.deliver(hop, { from: 'a@relay.test', to: ['b@remote.test'] }, message)).ok, true);
    assert.equal(pool.hops(), 1, 'held while its connection idles');
    for (const deadline = Date.now() + 5000; pool.hops() > 0; await new Promise((r) => setTimeout(r, 10))) {
      assert.ok(Date.now() < deadline, 'the idle connection was closed and its hop forgotten');
    }
    assert.equal((await pool.deliver(hop, { from: 'a@relay.test', to: ['c@remote.test'] }, message)).ok, true);
    await downstream.waitForCount(2);
  } finally {
    await pool.close();
    await downstream.close();
  }
});
