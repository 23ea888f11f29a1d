// Durability: 500 messages through `keypost serve --only gateway` as a child process, which is
// SIGKILLed twice, once while messages are being received and once while they are being relayed.
// Every message that got a 250 must reach the downstream; a message may arrive twice only if it
// was in flight at a kill (acknowledged by the downstream but not yet recorded, or committed but
// not yet acknowledged to the sender and therefore sent again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { migrateToLatest } from '../../src/db/migrate.js';
import { mintStamp } from '../../src/pow/mint.js';
import { startServe, type ServingKeypost } from '../support/keypost-process.js';
import { durableDatabase, seedAddress, seedDomain, startDownstream } from './support.js';

const TOTAL = 500;
const SENDERS = 8;
const RELAY_CONCURRENCY = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const trace = (text: string) => process.env.KEYPOST_TEST_DEBUG && console.error(`${new Date().toISOString()} ${text}`);

test('acknowledged mail survives SIGKILL mid-receive and mid-relay, duplicates only from the kills', { timeout: 180_000 }, async (t) => {
  const database = await durableDatabase();
  const downstream = await startDownstream(0, { delayMs: 40 });
  let child: ServingKeypost | undefined;
  try {
    const seed = await database.open();
    await migrateToLatest(seed.db);
    await seedDomain(seed, 'example.org', { powBits: 8, nextHop: downstream.hop });
    await seedAddress(seed, 'alice@example.org');
    await seed.close();

    const env = {
      ...database.env,
      KEYPOST_RELAY_CONCURRENCY: String(RELAY_CONCURRENCY),
      KEYPOST_RELAY_LEASE: '2s',
      KEYPOST_RELAY_POLL_INTERVAL: '200ms',
      KEYPOST_RELAY_RETRY_MIN: '200ms',
      KEYPOST_RELAY_RETRY_MAX: '1s',
      KEYPOST_LOG_LEVEL: 'warn',
    };
    const serve = async () => {
      child = await startServe(['--only', 'gateway'], { ...env, KEYPOST_LOG_LEVEL: 'info' });
      return child.addresses.gateway!;
    };
    let address = await serve();
    const kills: number[] = [];

    // Senders: each session sends messages on one connection and reconnects when it drops. A
    // message without a 250 goes back to the pile and is sent again with a fresh stamp.
    const pending = Array.from({ length: TOTAL }, (_, i) => i);
    const acked = new Map<number, string>();
    let stopSenders = false;
    const session = async () => {
      while (!stopSenders && (pending.length || acked.size < TOTAL)) {
        const n = pending.shift();
        if (n === undefined) {
          await sleep(50);
          continue;
        }
        const [host, port] = address.split(':');
        const conn = new SMTPConnection({ host, port: Number(port), name: 'sender.test', ignoreTLS: true, logger: false, connectionTimeout: 2000, greetingTimeout: 2000, socketTimeout: 5000 });
        let current: number | undefined = n;
        try {
          await new Promise<void>((resolve, reject) => {
            conn.once('error', reject);
            conn.connect(() => resolve());
          });
          conn.on('error', () => undefined);
          while (current !== undefined && !stopSenders) {
            const { stamp } = await mintStamp('alice@example.org', 8);
            const message = `Message-ID: <m${current}@sender.test>\r\nSubject: m${current}\r\nX-Hashcash: ${stamp}\r\n\r\nmessage ${current}\r\n`;
            const info = await new Promise<{ response: string }>((resolve, reject) =>
              conn.send({ from: 'sender@sender.test', to: ['alice@example.org'] }, message, (err, res) => (err ? reject(err) : resolve(res!))),
            );
            acked.set(current, /queued as ([0-9A-F]+)/.exec(info.response)?.[1] ?? '?');
            current = pending.shift();
          }
          conn.quit();
        } catch {
          conn.close();
          await sleep(100);
        } finally {
          if (current !== undefined) pending.push(current);
        }
      }
    };
    const senders = Array.from({ length: SENDERS }, session);

    let watchdog = process.env.KEYPOST_TEST_DEBUG
      ? setInterval(() => trace(`acked ${acked.size}, pending ${pending.length}, relayed ${downstream.mails.length}\n${child?.log().split('\n').slice(-5).join('\n')}`), 5000)
      : undefined;
    // Kill 1: mid-receive, with the senders busy.
    while (acked.size < 150) await sleep(20);
    trace(`kill 1 at ${acked.size} acknowledged, ${downstream.mails.length} relayed`);
    child!.child.kill('SIGKILL');
    await child!.stop();
    kills.push(Date.now());
    address = await serve();
    trace('restarted after kill 1');
    clearInterval(watchdog);
    watchdog = process.env.KEYPOST_TEST_DEBUG
      ? setInterval(() => trace(`acked ${acked.size}, pending ${pending.length}, relayed ${downstream.mails.length}\n${child?.log().split('\n').slice(-5).join('\n')}`), 5000)
      : undefined;

    // Kill 2: mid-relay, after everything was acknowledged and while the downstream still receives.
    while (acked.size < TOTAL) await sleep(50);
    stopSenders = true;
    await Promise.all(senders);
    const relayedBefore = new Set(downstream.mails.map((m) => m.raw.toString('latin1').match(/^Subject: (m\d+)/m)?.[1]));
    assert.ok(relayedBefore.size < TOTAL - 50, `relaying still under way at the second kill (${relayedBefore.size} delivered)`);
    while (downstream.mails.length < 300) await sleep(10);
    trace(`kill 2 at ${downstream.mails.length} relayed`);
    child!.child.kill('SIGKILL');
    await child!.stop();
    kills.push(Date.now());
    address = await serve();
    trace('restarted after kill 2');

    clearInterval(watchdog);
    // Everything acknowledged arrives.
    const delivered = () => new Map<string, number[]>(
      downstream.mails.reduce((map, m) => {
        const subject = /^Subject: (m\d+)/m.exec(m.raw.toString('latin1'))?.[1] ?? '?';
        map.set(subject, [...(map.get(subject) ?? []), m.at]);
        return map;
      }, new Map<string, number[]>()),
    );
    const deadline = Date.now() + 60_000;
    while ([...acked.keys()].some((n) => !delivered().has(`m${n}`)) && Date.now() < deadline) await sleep(200);
    const got = delivered();
    const missing = [...acked.keys()].filter((n) => !got.has(`m${n}`));
    assert.deepEqual(missing, [], 'every acknowledged message reached the downstream');
    assert.equal(acked.size, TOTAL);

    // Duplicates: only messages whose first copy arrived before a kill and whose second came after.
    const duplicates = [...got.entries()].filter(([, times]) => times.length > 1);
    // (A slow next hop may record a copy shortly after the kill: it answers a connection that died.)
    for (const [subject, times] of duplicates) {
      for (let i = 1; i < times.length; i++) {
        assert.ok(kills.some((k) => times[i - 1] <= k + 500 && times[i] >= k), `${subject} arrived again without a kill in between`);
      }
    }
    assert.ok(duplicates.length <= 2 * (SENDERS + RELAY_CONCURRENCY * 2), `${duplicates.length} duplicates is more than the kills can explain`);
    t.diagnostic(`delivered ${got.size} messages, ${downstream.mails.length} copies, ${duplicates.length} duplicated; ${relayedBefore.size} relayed before the second kill`);

    // The queue drained.
    const handle = await database.open();
    try {
      const left = await handle.db.selectFrom('mail_queue_recipients').select('message_id').execute();
      assert.deepEqual(left, []);
    } finally {
      await handle.close();
    }
  } finally {
    await child?.stop('SIGTERM');
    await downstream.close();
    await database.destroy();
  }
});
