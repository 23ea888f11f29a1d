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

// Issue 15 item 26: a node split by role still answers health, readiness and metrics, on
// KEYPOST_HTTP_LISTEN, with the metrics of the role it runs.
for (const [role, metric] of [
  ['dns', /^keypost_dns_udp_queries_total /m],
  ['gateway', /^keypost_gateway_connections /m],
] as const) {
  test(`serve --only ${role} answers /healthz, /readyz and /metrics on its ops listener`, async () => {
    const server = await startServe(['--only', role], database.env, 90_000);
    try {
      assert.match(server.addresses.ops ?? '', /^127\.0\.0\.1:\d+$/, `logged the ops listener: ${server.log()}`);
      assert.equal(server.addresses.api, undefined, 'no directory API on this node');
      const base = `http://${server.addresses.ops}`;
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready' });
      const metrics = await fetch(`${base}/metrics`);
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), metric);
      // Only the operations routes: the directory is not served here.
      assert.equal((await fetch(`${base}/v1/records/alice@example.org`)).status, 404);
    } finally {
      assert.equal(await server.stop('SIGTERM'), 0, server.log());
    }
  });
}
