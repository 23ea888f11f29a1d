// Item 20 of issue 15: an IXFR for the serial the server already has is answered with the single
// current SOA (RFC 1995 §2), over TCP as over UDP; an older serial still gets the whole zone (RFC
// 1995 §4 lets a server without history answer with AXFR's content).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { addZone, makeKey, publish } from './support/fixtures.js';
import { dig, kdig, section, startDns, type DnsServer } from './support/server.js';

const skip = requireTool('dig', 'kdig');
const ZONE = 'ixfr.test';

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

async function currentSerial(): Promise<number> {
  return Number((await dig(server, '+short', ZONE, 'SOA')).trim().split(' ')[2]);
}

const records = (out: string) => out.split('\n').filter((l) => l.trim() && !l.startsWith(';')).map((l) => l.replace(/\s+/g, ' '));

test('IXFR over TCP for the current serial is answered with the single current SOA', { skip }, async () => {
  const serial = await currentSerial();
  for (const asked of [serial, serial + 5]) {
    const out = await dig(server, '+tcp', ZONE, `IXFR=${asked}`);
    const answer = records(out).map((l) => l.replace(/\s+/g, ' '));
    assert.equal(answer.length, 1, out);
    assert.match(answer[0], new RegExp(`^${ZONE}\\. \\d+ IN SOA \\S+ \\S+ ${serial} `));
    const k = await kdig(server, '+tcp', ZONE, `IXFR=${asked}`);
    assert.equal(records(k).length, 1, k);
  }
});

test('IXFR over TCP for an older serial still transfers the whole zone', { skip }, async () => {
  const serial = await currentSerial();
  const out = await dig(server, '+tcp', ZONE, `IXFR=${serial - 1}`);
  const answer = records(out);
  assert.ok(answer.length > 4, out);
  assert.match(answer[0], / SOA /);
  assert.match(answer[answer.length - 1], / SOA /);
  assert.ok(answer.some((l) => / OPENPGPKEY /.test(l) || /TYPE61/.test(l)), out);
});
