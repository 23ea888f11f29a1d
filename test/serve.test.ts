import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase } from './support/database.js';
import { startServe } from './support/keypost-process.js';

const database = await openTestDatabase({ migrate: false });
after(() => database.close());

test('serve logs each bound address, answers health, readiness and metrics, and stops cleanly on SIGINT', async () => {
  // The test database handle is closed first so that, on the embedded default, serve owns the data dir.
  const server = await startServe(['--only', 'api'], database.env);
  try {
    const base = `http://${server.addresses.api}`;
    assert.match(server.addresses.api, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(server.addresses.api, '127.0.0.1:0');

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });

    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);

    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /^keypost_process_cpu_user_seconds_total /m);

    const missing = await fetch(`${base}/no-such-route`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, 'NOT_FOUND');
  } finally {
    const started = Date.now();
    const code = await server.stop('SIGINT');
    assert.equal(code, 0, server.log());
    assert.ok(Date.now() - started < 5000, 'stops within a few seconds');
  }
});
