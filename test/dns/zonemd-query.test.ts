// Item 18 of issue 15: a query for ZONEMD at the apex gets the record AXFR carries (RFC 8976 §2),
// so a secondary (which answers from the transferred zone) and the primary agree.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { addZone, makeKey, publish } from './support/fixtures.js';
import { dig, kdig, section, startDns, status, type DnsServer } from './support/server.js';

const skip = requireTool('dig', 'kdig');
const ZONE = 'digest.test';

let db: TestDatabase;
let server: DnsServer;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE, { dns: { secondaries: [{ address: '127.0.0.1' }] } });
  await publish(db.db, `alice@${ZONE}`, await makeKey(`alice@${ZONE}`));
  server = await startDns(db);
});

after(async () => {
  await server?.close();
  await db?.close();
});

const norm = (line: string) => line.replace(/\s+/g, ' ').trim();

test('ZONEMD at the apex is answered with the record zone transfers carry', { skip }, async () => {
  // The first query (UDP) is the one that has the digest computed; TCP and kdig follow.
  const udp = await dig(server, ZONE, 'ZONEMD');
  assert.equal(status(udp), 'NOERROR', udp);
  const answer = section(udp, 'ANSWER');
  assert.equal(answer.length, 1, udp);
  assert.match(answer[0], /^digest\.test\. 3600 IN ZONEMD \d+ 1 1 [0-9A-F ]+$/);
  const axfr = (await dig(server, '+tcp', ZONE, 'AXFR')).split('\n').map(norm).filter((l) => / ZONEMD /.test(l));
  assert.deepEqual(axfr, answer);
  assert.deepEqual(section(await dig(server, '+tcp', ZONE, 'ZONEMD'), 'ANSWER'), answer);
  const k = section(await kdig(server, ZONE, 'ZONEMD'), 'ANSWER');
  assert.equal(k.length, 1);
  assert.match(k[0], / ZONEMD /);
});

test('ZONEMD below the apex is still NODATA', { skip }, async () => {
  const out = await dig(server, `_keypost.${ZONE}`, 'ZONEMD');
  assert.equal(status(out), 'NOERROR');
  assert.equal(section(out, 'ANSWER').length, 0);
});
