// `keypost queue list|show|retry|delete` against a gateway whose next hop is down and whose retry
// interval is an hour: an operator sees why mail waits, sends it now, or removes it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';
import { requireTool } from '../support/tools.js';
import { dataReplies, hashcashStamp, queueDrained, seedAddress, seedDomain, startDownstream, startGateway, swaks, type Downstream, type GatewayUnderTest } from './support.js';

const skip = requireTool('hashcash', 'swaks');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('keypost queue', { skip }, () => {
  let db: TestDatabase;
  let downstream: Downstream;
  let gateway: GatewayUnderTest;
  const ids: string[] = [];

  before(async () => {
    db = await openTestDatabase();
    downstream = await startDownstream();
    await seedDomain(db, 'example.org', { powBits: 8, nextHop: downstream.hop });
    await seedAddress(db, 'alice@example.org');
    await downstream.stop();
    gateway = await startGateway(db, { KEYPOST_RELAY_RETRY_MIN: '1h', KEYPOST_RELAY_RETRY_MAX: '4h' });
    for (const subject of ['kept', 'dropped']) {
      const data = `Subject: ${subject}\r\nX-Hashcash: ${await hashcashStamp('alice@example.org', 8)}\r\n\r\n${subject}\r\n.\r\n`;
      const result = await swaks({ server: gateway.address, to: 'alice@example.org', data });
      ids.push(/queued as ([0-9A-F]{16})/.exec(dataReplies(result.stdout).at(-1) ?? '')![1]);
    }
    // Both are tried once, fail to connect, and are deferred for an hour.
    for (let i = 0; i < 100; i++) {
      const rows = await db.db.selectFrom('mail_queue_recipients').select('last_error').where('last_error', 'is not', null).execute();
      if (rows.length === 2) break;
      await sleep(100);
    }
  });

  after(async () => {
    await gateway?.close();
    await downstream?.close();
    await db?.close();
  });

  test('list shows each waiting message with its attempts and last error', async () => {
    const result = await runKeypost(['queue', 'list'], db.env);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 2, result.stdout);
    for (const [i, id] of ids.entries()) {
      assert.match(lines[i], new RegExp(`^${id} .* <sender@sender\\.test>  1 rcpt  1 tries  retry in \\d+m  \\(.*ECONNREFUSED`));
    }
    const json = JSON.parse((await runKeypost(['queue', 'list', '--json'], db.env)).stdout);
    assert.deepEqual(json.map((e: { id: string }) => e.id), ids);
  });

  test('show names the recipients, their next hop and the last error', async () => {
    const result = await runKeypost(['queue', 'show', ids[0]], db.env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`recipient: <alice@example\\.org> via ${downstream.hop.replace(/[.:/]/g, '\\$&')}, 1 tries, next .*last error: .*ECONNREFUSED`));
    const message = await runKeypost(['queue', 'show', ids[0], '--message'], db.env);
    assert.match(message.stdout, /^Received: from client\.test[\s\S]*Subject: kept\r\n/);
  });

  test('an unknown id is an error with a stable code', async () => {
    const result = await runKeypost(['queue', 'show', 'FFFFFFFFFFFFFFFF'], db.env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /GW_MESSAGE_NOT_FOUND/);
  });

  test('delete removes a message without delivering or bouncing it', async () => {
    const result = await runKeypost(['queue', 'delete', ids[1]], db.env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /deleted 1 message/);
    assert.equal(await db.db.selectFrom('mail_queue').select('id').where('id', '=', ids[1]).executeTakeFirst(), undefined);
  });

  test('retry sends a deferred message now instead of in an hour', async () => {
    await downstream.restart();
    const result = await runKeypost(['queue', 'retry', ids[0]], db.env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /1 recipient\(s\) due now/);
    await downstream.waitForCount(1, 5000);
    assert.match(downstream.mails[0].raw.toString('latin1'), /Subject: kept/);
    await queueDrained(db);
    assert.equal(downstream.mails.length, 1, 'the deleted message never went out');
    assert.match((await runKeypost(['queue', 'list'], db.env)).stdout, /queue is empty/);
  });
});
