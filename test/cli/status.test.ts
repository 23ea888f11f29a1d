// keypost --version and keypost status: what a new operator asks first.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { openTestDatabase } from '../support/database.js';
import { runKeypost, startServe } from '../support/keypost-process.js';

const database = await openTestDatabase();
after(() => database.close());

test('keypost --version prints the version of package.json', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  const result = await runKeypost(['--version']);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, `keypost ${version}\n`);
});

interface Status {
  database: { backend: string; location: string };
  servers: { hostname: string; pid: number; listeners: Record<string, string> }[];
  zones: { name: string; serial: number }[];
  queue: { messages: number; recipients: number; deferred: number; due: number; oldestReceivedAt?: string };
}

test('status names the database, the running server and its addresses, zones with serials and queue counts', async () => {
  const added = await runKeypost(['domain', 'add', 'status.example', '--json'], database.env);
  assert.equal(added.code, 0, added.stderr);
  // One message, two recipients: one tried and deferred for an hour, one due now.
  const received = new Date(Date.now() - 600_000);
  await database.db
    .insertInto('mail_queue')
    .values({ id: 'q-status-1', kind: 'inbound', sender: 'a@sender.example', trace_headers: '', body: Buffer.from('x'), size: 1, received_at: received })
    .execute();
  await database.db
    .insertInto('mail_queue_recipients')
    .values([
      { message_id: 'q-status-1', recipient: 'b@status.example', next_hop: 'smtp://127.0.0.1:9', attempts: 2, next_attempt_at: new Date(Date.now() + 3_600_000) },
      { message_id: 'q-status-1', recipient: 'c@status.example', next_hop: 'smtp://127.0.0.1:9', next_attempt_at: new Date() },
    ])
    .execute();

  // Without the gateway, so no relay worker attempts the queued recipients while status reads them.
  const server = await startServe(['--only', 'dns,api'], database.env);
  let stopped = false;
  try {
    const result = await runKeypost(['status', '--json'], database.env);
    assert.equal(result.code, 0, result.stderr);
    const status: Status = JSON.parse(result.stdout);
    if (database.env.DATABASE_URL) {
      assert.equal(status.database.backend, 'postgres');
      assert.match(status.database.location, new RegExp(`^PostgreSQL database ${new URL(database.env.DATABASE_URL).pathname.slice(1)} on `));
    } else {
      assert.equal(status.database.location, `the embedded database in ${database.env.KEYPOST_DATA_DIR}`);
    }
    assert.equal(status.servers.length, 1);
    assert.equal(status.servers[0].pid, server.child.pid);
    assert.deepEqual(status.servers[0].listeners, server.addresses);

    const shown = JSON.parse((await runKeypost(['domain', 'show', 'status.example', '--json'], database.env)).stdout);
    assert.deepEqual(status.zones, [{ name: 'status.example', serial: Number(shown.serial) }]);
    assert.equal(status.queue.messages, 1);
    assert.equal(status.queue.recipients, 2);
    assert.equal(status.queue.deferred, 1);
    assert.equal(new Date(status.queue.oldestReceivedAt!).getTime(), received.getTime());

    const text = await runKeypost(['status'], database.env);
    assert.match(text.stdout, new RegExp(`^server: +running on \\S+ \\(process ${server.child.pid}, up \\d+s\\): .*api ${server.addresses.api}`, 'm'));
    assert.match(text.stdout, /^zone: +status\.example serial \d+$/m);
    assert.match(text.stdout, /^queue: +1 messages \(2 recipients\), 1 deferred, oldest 10m$/m);

    assert.equal(await server.stop(), 0);
    stopped = true;
    const afterStop: Status = JSON.parse((await runKeypost(['status', '--json'], database.env)).stdout);
    assert.deepEqual(afterStop.servers, [], 'a stopped server removes itself');
  } finally {
    if (!stopped) await server.stop();
  }
});
