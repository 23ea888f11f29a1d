// The write rate limit remembers each client for its window; a spray of ever new client addresses
// must not grow that memory without end (issue 15 item 5, bound every cache). Each write route
// tracks at most RATE_LIMIT_CLIENTS clients, the least recently seen forgotten first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { RATE_LIMIT_CLIENTS } from '../../src/directory/self-service-routes.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { startApi } from '../directory/write-side.js';

let testDb: TestDatabase;

before(async () => {
  testDb = await openTestDatabase();
});

after(async () => {
  await testDb?.close();
});

/** A write the limiter counts and the body parser then refuses: no key check, no database. */
async function badUpload(baseUrl: string, client: string): Promise<number> {
  const response = await fetch(`${baseUrl}/vks/v1/upload`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': client }, body: '{' });
  await response.arrayBuffer();
  return response.status;
}

const client = (n: number) => `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

test('the write rate limit tracks at most RATE_LIMIT_CLIENTS clients per route, the least recently seen forgotten first', async () => {
  // Behind a trusted proxy, X-Forwarded-For names the client, so one test can be many clients.
  const api = await startApi(testDb, { KEYPOST_RATE_LIMIT_MAX: '1', KEYPOST_RATE_LIMIT_WINDOW: '1h', KEYPOST_TRUSTED_PROXIES: '127.0.0.0/8' });
  try {
    assert.equal(await badUpload(api.baseUrl, '192.0.2.1'), 400);
    assert.equal(await badUpload(api.baseUrl, '192.0.2.1'), 429, 'over its budget while remembered');
    let next = 0;
    const sender = async () => {
      while (next < RATE_LIMIT_CLIENTS) assert.equal(await badUpload(api.baseUrl, client(next++)), 400);
    };
    await Promise.all(Array.from({ length: 16 }, sender));
    // RATE_LIMIT_CLIENTS newer clients pushed it out: it starts with a fresh budget.
    assert.equal(await badUpload(api.baseUrl, '192.0.2.1'), 400);
    // The most recent one is still remembered.
    assert.equal(await badUpload(api.baseUrl, client(RATE_LIMIT_CLIENTS - 1)), 429);
  } finally {
    await api.close();
  }
});
