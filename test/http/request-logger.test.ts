// Each request's log lines carry its request id and the HTTP component, though the per-request
// logger is made only when a line is written (src/http/request-logger.ts): a warning from a route
// and the 500 of an unexpected error are logged with them, and lines below the HTTP logger's level
// are not written at all, unless the route has a level of its own.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { buildHttpApp } from '../../src/http/app.js';
import { createMetrics } from '../../src/metrics.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';

let testDb: TestDatabase;

before(async () => {
  testDb = await openTestDatabase();
});

after(async () => {
  await testDb?.close();
});

test('warnings and errors are logged with the request id; info lines of requests are not written', async () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const log = pino({ level: 'info' }, sink);
  const app = await buildHttpApp({
    db: testDb.db,
    log,
    metrics: createMetrics(),
    routes: [
      async (routes) => {
        routes.get('/warns', async (request) => {
          request.log.info('an info line a request writes');
          request.log.warn({ detail: 7 }, 'a warning a request writes');
          return { ok: true };
        });
        routes.get('/chatty', { logLevel: 'info' }, async (request) => {
          request.log.info('an info line of a route logging at info');
          return { ok: true };
        });
        routes.get('/fails', async () => {
          throw new Error('broken on purpose');
        });
      },
    ],
  });
  try {
    const warned = await app.inject({ method: 'GET', url: '/warns' });
    assert.equal(warned.statusCode, 200);
    const failed = await app.inject({ method: 'GET', url: '/fails' });
    assert.equal(failed.statusCode, 500);
    assert.equal(failed.json().code, 'INTERNAL');

    const warning = lines.find((l) => l.msg === 'a warning a request writes');
    assert.ok(warning, 'the warning was written');
    assert.equal(warning.component, 'http');
    assert.equal(warning.detail, 7);
    assert.equal(typeof warning.reqId, 'string');
    const error = lines.find((l) => l.msg === 'unhandled error');
    assert.ok(error, 'the 500 was logged');
    assert.equal(error.component, 'http');
    assert.equal((error.err as { message?: string }).message, 'broken on purpose');
    assert.notEqual(error.reqId, warning.reqId, 'each request logs under its own id');
    assert.equal(lines.some((l) => l.msg === 'an info line a request writes'), false, 'below the HTTP level nothing is written');
    assert.equal((await app.inject({ method: 'GET', url: '/chatty' })).statusCode, 200);
    const chatty = lines.find((l) => l.msg === 'an info line of a route logging at info');
    assert.ok(chatty, 'a route with its own log level writes at that level');
    assert.equal(typeof chatty.reqId, 'string');
  } finally {
    await app.close();
  }
});
