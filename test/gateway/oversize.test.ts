// Oversized mail is refused during DATA with 552 and the gateway's memory stays bounded: clients
// pushing far more than SIZE at once do not make `keypost serve --only gateway` hold it in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { migrateToLatest } from '../../src/db/migrate.js';
import { startServe, type ServingKeypost } from '../support/keypost-process.js';
import { durableDatabase, seedAddress, seedDomain, startDownstream } from './support.js';

const MAX_SIZE = 1024 * 1024;
const SENT = 128 * 1024 * 1024;
const CLIENTS = 3;

function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** One SMTP transaction streaming `bytes` of message text with back-pressure; resolves with the final reply. */
async function sendHuge(address: string, bytes: number): Promise<string> {
  const [host, port] = address.split(':');
  const socket: Socket = connect(Number(port), host);
  let text = '';
  socket.on('data', (d) => (text += d));
  const waitFor = async (re: RegExp) => {
    while (!re.test(text)) {
      if (socket.destroyed) throw new Error(`connection closed: ${text}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await waitFor(/^220 /m);
  for (const [command, reply] of [
    ['EHLO client.test', /^250 /m],
    ['MAIL FROM:<big@sender.test>', /250 Accepted\r\n$/],
    ['RCPT TO:<alice@example.org>', /250 Accepted\r\n$/],
    ['DATA', /^354 /m],
  ] as const) {
    const before = text.length;
    socket.write(`${command}\r\n`);
    await waitFor(new RegExp(`[\\s\\S]{${before}}[\\s\\S]*${reply.source}`, 'm'));
  }
  const line = Buffer.from(`${'m'.repeat(998)}\r\n`);
  const chunk = Buffer.concat(Array.from({ length: 64 }, () => line));
  const mark = text.length;
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  }
  socket.write('.\r\n');
  await waitFor(new RegExp(`[\\s\\S]{${mark}}[\\s\\S]*\\d{3} [^\\r\\n]*\\r\\n`));
  const reply = text.slice(mark).trim();
  socket.end('QUIT\r\n');
  return reply;
}

test('mail over SIZE is refused with 552 while it streams, nothing is stored and memory stays bounded', { timeout: 120_000 }, async (t) => {
  const database = await durableDatabase();
  const downstream = await startDownstream();
  let child: ServingKeypost | undefined;
  try {
    const seed = await database.open();
    await migrateToLatest(seed.db);
    await seedDomain(seed, 'example.org', { powBits: 8, nextHop: downstream.hop });
    await seedAddress(seed, 'alice@example.org');
    await seed.close();
    child = await startServe(['--only', 'gateway'], { ...database.env, KEYPOST_SMTP_MAX_SIZE: String(MAX_SIZE) });
    const pid = child.child.pid!;
    // A first oversized message warms the process up; the peak is measured from here on.
    assert.match(await sendHuge(child.addresses.gateway, 2 * MAX_SIZE), /^552 /);
    const before = memoryOf(pid);
    const replies = await Promise.all(Array.from({ length: CLIENTS }, () => sendHuge(child!.addresses.gateway, SENT)));
    const after = memoryOf(pid);
    for (const reply of replies) assert.match(reply, /^552 5\.3\.4 Message size exceeds fixed maximum message size \(\d+ > 1048576 octets\)$/);
    const growth = after.peak - before.rss;
    t.diagnostic(`sent ${(CLIENTS * SENT) / 2 ** 20} MiB; RSS ${(before.rss / 2 ** 20).toFixed(0)} MiB before, peak ${(after.peak / 2 ** 20).toFixed(0)} MiB`);
    assert.ok(growth < 64 * 1024 * 1024, `peak RSS grew by ${(growth / 2 ** 20).toFixed(0)} MiB for ${(CLIENTS * SENT) / 2 ** 20} MiB sent`);
    const handle = await database.open();
    try {
      assert.deepEqual(await handle.db.selectFrom('mail_queue').select('id').execute(), [], 'nothing was stored');
    } finally {
      await handle.close();
    }
  } finally {
    await child?.stop('SIGTERM');
    await downstream.close();
    await database.destroy();
  }
});
