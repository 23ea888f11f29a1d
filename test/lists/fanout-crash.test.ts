// A fan-out survives SIGKILL: `keypost serve --only gateway` fans one post out to 200 members and
// is killed between two of its transactions (some copies queued, others not), then started again.
// Every member must get exactly one copy. The next hop defers everything until the restart, so no
// copy is in flight at the kill and any duplicate could only come from the fan-out itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import * as openpgp from 'openpgp';
import { loadConfig } from '../../src/config.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { createDomain } from '../../src/directory/domains.js';
import { addMember, createList } from '../../src/lists/list-admin.js';
import { dnsMemberKeys } from '../../src/lists/member-keys.js';
import { mintStamp } from '../../src/pow/mint.js';
import { openSecretBox } from '../../src/secrets/sealed-box.js';
import { startServe, type ServingKeypost } from '../support/keypost-process.js';
import { durableDatabase, seedAddress, startDownstream } from '../gateway/support.js';

const MEMBERS = 200;
const LIST = 'crew@crash.example';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function postTo(address: string): Promise<string> {
  const [host, port] = address.split(':');
  const conn = new SMTPConnection({ host, port: Number(port), name: 'sender.test', ignoreTLS: true, logger: false });
  await new Promise<void>((resolve, reject) => {
    conn.once('error', reject);
    conn.connect(() => resolve());
  });
  const { stamp } = await mintStamp(LIST, 8);
  const message = `From: <outsider@sender.test>\r\nSubject: all hands\r\nX-Hashcash: ${stamp}\r\n\r\n${'ten kilobytes of news, line by line.\r\n'.repeat(270)}\r\n`;
  const info = await new Promise<{ response: string }>((resolve, reject) =>
    conn.send({ from: 'outsider@sender.test', to: [LIST] }, message, (err, res) => (err ? reject(err) : resolve(res!))),
  );
  conn.quit();
  return info.response;
}

test('SIGKILL during a fan-out to 200 members, then restart: every member gets exactly one copy', { timeout: 240_000 }, async () => {
  const database = await durableDatabase();
  const downstream = await startDownstream();
  let child: ServingKeypost | undefined;
  try {
    const members = Array.from({ length: MEMBERS }, (_, i) => `m${String(i).padStart(3, '0')}@crash.example`);
    const seed = await database.open();
    await migrateToLatest(seed.db);
    await seed.db.transaction().execute((tx) => createDomain(tx, { name: 'crash.example', policy: { powBits: 8, nextHop: downstream.hop }, now: new Date() }));
    for (const m of members) await seedAddress(seed, m);
    // An open list that takes clear posts: the post needs no sender key, and the members' keys
    // are given by the owner, so the test makes no DNS lookups.
    const config = loadConfig(database.env);
    await createList(seed.db, { box: openSecretBox(config.secrets), now: new Date() }, { address: LIST, membersOnly: false, encryptedOnly: false });
    const findKey = dnsMemberKeys();
    for (const m of members) {
      const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email: m }], format: 'armored' });
      await addMember(seed.db, { findKey, now: new Date() }, LIST, m, publicKey);
    }
    await seed.close();

    const env = {
      ...database.env,
      KEYPOST_RELAY_LEASE: '2s',
      KEYPOST_RELAY_POLL_INTERVAL: '100ms',
      KEYPOST_RELAY_RETRY_MIN: '200ms',
      KEYPOST_RELAY_RETRY_MAX: '500ms',
      KEYPOST_LOG_LEVEL: 'info',
    };
    downstream.mode = 'defer';
    child = await startServe(['--only', 'gateway'], env);
    const watcher = await database.open();
    assert.match(await postTo(child.addresses.gateway!), /^250 /);
    // Kill between two fan-out transactions: some members' copies recorded, not all.
    let recorded = 0;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      const row = await watcher.db.selectFrom('list_fanout').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      recorded = Number(row.n);
      if (recorded > 0 && recorded < MEMBERS) break;
      await sleep(2);
    }
    child.child.kill('SIGKILL');
    await child.stop();
    await watcher.close().catch(() => undefined);
    assert.ok(recorded > 0 && recorded < MEMBERS, `the kill came mid-fan-out (${recorded} of ${MEMBERS} copies recorded)`);

    downstream.mode = 'accept';
    child = await startServe(['--only', 'gateway'], env);
    await downstream.waitForCount(MEMBERS, 120_000);
    // Every copy delivered and recorded: the queue is empty, and no further copy can come.
    const check = await database.open();
    for (const deadline = Date.now() + 60_000; ; ) {
      const left = await check.db.selectFrom('mail_queue').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      if (Number(left.n) === 0) break;
      assert.ok(Date.now() < deadline, `queue still holds ${left.n} messages`);
      await sleep(50);
    }
    const fanout = await check.db.selectFrom('list_fanout').selectAll().execute();
    await check.close();
    const perMember = new Map<string, number>();
    for (const mail of downstream.mails) for (const to of mail.to) perMember.set(to, (perMember.get(to) ?? 0) + 1);
    assert.deepEqual([...perMember.keys()].sort(), members);
    assert.deepEqual([...new Set(perMember.values())], [1], 'one copy each');
    assert.equal(downstream.mails.length, MEMBERS);
    assert.equal(fanout.length, 0, 'the finished post left no fan-out record');
  } finally {
    await child?.stop('SIGKILL');
    await downstream.close();
    await database.destroy();
  }
});
