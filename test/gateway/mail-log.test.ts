// The mail log: at the default level, one info line per event with stable field names (README
// "Logs"), the way a mail admin reads Postfix's log: accepted, refused, relayed, and what DNS
// starts publishing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { runKeypost, startServe, type ServingKeypost } from '../support/keypost-process.js';
import { requireTool } from '../support/tools.js';
import { dataReplies, hashcashStamp, startDownstream, swaks, type Downstream } from './support.js';

const skip = requireTool('hashcash', 'swaks');

type Line = Record<string, unknown>;

/** Resolves with the first JSON log line matching `want`, polling the process's output. */
async function logLine(server: ServingKeypost, want: (line: Line) => boolean, ms = 20_000): Promise<Line> {
  const deadline = Date.now() + ms;
  for (;;) {
    for (const text of server.log().split('\n')) {
      try {
        const line = JSON.parse(text) as Line;
        if (want(line)) return line;
      } catch {
        // not a JSON line
      }
    }
    if (Date.now() > deadline) throw new Error(`no matching log line in:\n${server.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('mail log', { skip }, () => {
  let db: TestDatabase;
  let downstream: Downstream;
  let server: ServingKeypost;

  before(async () => {
    db = await openTestDatabase();
    downstream = await startDownstream();
    server = await startServe([], {
      ...db.env,
      KEYPOST_RELAY_DOMAINS: `relay.test=${downstream.hop}`,
      KEYPOST_POW_DEFAULT_BITS: '8',
      KEYPOST_RELAY_POLL_INTERVAL: '200ms',
    });
  });

  after(async () => {
    await server?.stop();
    await downstream?.close();
    await db?.close();
  });

  test('an accepted message is one line with queue id, sender, recipients, size and stamp bits, then one relayed line', async () => {
    const stamp = await hashcashStamp('ann@relay.test', 8);
    const data = `From: <s@sender.test>\r\nTo: <ann@relay.test>\r\nX-Hashcash: ${stamp}\r\n\r\nhello\r\n.\r\n`;
    const result = await swaks({ server: server.addresses.gateway, from: 's@sender.test', to: 'ann@relay.test', data });
    const queueId = /queued as ([0-9A-F]{16})/.exec(dataReplies(result.stdout).at(-1) ?? '')?.[1];
    assert.ok(queueId, result.stdout);

    const accepted = await logLine(server, (l) => l.event === 'accepted' && l.queueId === queueId);
    assert.equal(accepted.level, 30, 'info');
    assert.equal(accepted.sender, 's@sender.test');
    assert.deepEqual(accepted.recipients, ['ann@relay.test']);
    assert.equal(typeof accepted.size, 'number');
    assert.ok((accepted.size as number) >= data.length - 5);
    assert.ok((accepted.stampBits as number) >= 8);
    assert.equal(accepted.client, '127.0.0.1');

    const relayed = await logLine(server, (l) => l.event === 'relayed' && l.queueId === queueId);
    assert.equal(relayed.level, 30);
    assert.equal(relayed.recipient, 'ann@relay.test');
    assert.equal(relayed.nextHop, downstream.hop);
    assert.equal(relayed.attempts, 1);
  });

  test('a refused message is one line saying why', async () => {
    const data = 'From: <s@sender.test>\r\nTo: <bob@relay.test>\r\n\r\nno stamp\r\n.\r\n';
    const result = await swaks({ server: server.addresses.gateway, from: 'nostamp@sender.test', to: 'bob@relay.test', data });
    assert.match(dataReplies(result.stdout).at(-1) ?? '', /^550 /);
    const refused = await logLine(server, (l) => l.event === 'refused' && l.sender === 'nostamp@sender.test');
    assert.equal(refused.level, 30);
    assert.equal(refused.stage, 'data');
    assert.deepEqual(refused.recipients, ['bob@relay.test']);
    assert.equal(refused.code, 'GW_STAMP_REQUIRED');
    assert.equal(refused.temporary, false);
    assert.match(String(refused.reason), /8 bits required for bob@relay\.test/);
  });

  test('a zone added while serving is one published line', async () => {
    const added = await runKeypost(['domain', 'add', 'mail-log.example'], db.env);
    assert.equal(added.code, 0, added.stderr);
    const published = await logLine(server, (l) => l.event === 'published' && l.zone === 'mail-log.example');
    assert.equal(published.level, 30);
    assert.equal(typeof published.serial, 'number');
  });
});
