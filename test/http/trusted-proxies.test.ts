// Issue 15 item 6: the per-client write budget cannot be dodged by sending X-Forwarded-For.
// The header names the client only when the TCP peer is one of KEYPOST_TRUSTED_PROXIES (default
// none); a client that picks its own XFF value is limited by its real address.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { postJson, startApi } from '../directory/write-side.js';

let testDb: TestDatabase;

before(async () => {
  testDb = await openTestDatabase();
});

after(async () => {
  await testDb?.close();
});

/** Posts `count` bad uploads, each claiming a different client in X-Forwarded-For. */
async function rotatingWrites(baseUrl: string, count: number, forwardedFor: (i: number) => string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await postJson(`${baseUrl}/vks/v1/upload`, { keytext: 'x' }, { 'x-forwarded-for': forwardedFor(i) });
    statuses.push(answer.status);
  }
  return statuses;
}

describe('X-Forwarded-For and the write rate limit', () => {
  test('rate limit is not bypassed by rotating X-Forwarded-For from an untrusted client', async () => {
    const api = await startApi(testDb, { KEYPOST_RATE_LIMIT_MAX: '3', KEYPOST_RATE_LIMIT_WINDOW: '1m' });
    try {
      const statuses = await rotatingWrites(api.baseUrl, 6, (i) => `198.51.100.${i + 1}`);
      assert.deepEqual(statuses, [400, 400, 400, 429, 429, 429]);
    } finally {
      await api.close();
    }
  });

  test('a trusted range that does not hold the peer leaves X-Forwarded-For unread', async () => {
    const api = await startApi(testDb, {
      KEYPOST_RATE_LIMIT_MAX: '3',
      KEYPOST_RATE_LIMIT_WINDOW: '1m',
      KEYPOST_TRUSTED_PROXIES: '10.0.0.0/8, 2001:db8::/32',
    });
    try {
      const statuses = await rotatingWrites(api.baseUrl, 5, (i) => `198.51.100.${i + 1}`);
      assert.deepEqual(statuses, [400, 400, 400, 429, 429]);
    } finally {
      await api.close();
    }
  });

  test('behind a trusted proxy each forwarded client has its own budget', async () => {
    const api = await startApi(testDb, {
      KEYPOST_RATE_LIMIT_MAX: '3',
      KEYPOST_RATE_LIMIT_WINDOW: '1m',
      KEYPOST_TRUSTED_PROXIES: '127.0.0.0/8',
    });
    try {
      // Six different clients through the proxy: none is over its budget.
      assert.deepEqual(await rotatingWrites(api.baseUrl, 6, (i) => `198.51.100.${i + 1}`), [400, 400, 400, 400, 400, 400]);
      // One client through the proxy is limited like any other; a forged hop to the left of the
      // proxy's own entry does not change who it is (the proxy appends the real peer).
      assert.deepEqual(
        await rotatingWrites(api.baseUrl, 4, (i) => `203.0.113.${i + 1}, 192.0.2.77`),
        [400, 400, 400, 429],
      );
    } finally {
      await api.close();
    }
  });
});
