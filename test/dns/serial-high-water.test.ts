// Item 23 of issue 15: a zone removed and added again must come back with a serial above the one
// it had, or secondaries that still hold the old zone would see an older serial and never transfer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { removeDomain } from '../../src/directory/domains.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { addZone, makeKey, publish } from './support/fixtures.js';
import { dig, startDns, status, waitFor, type DnsServer } from './support/server.js';

const skip = requireTool('dig');
const ZONE = 'again.test';

let db: TestDatabase;
let server: DnsServer;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  server = await startDns(db);
});

after(async () => {
  await server?.close();
  await db?.close();
});

const servedSerial = async (): Promise<number | undefined> => {
  const out = await dig(server, '+short', ZONE, 'SOA');
  const serial = Number(out.trim().split(' ')[2]);
  return Number.isFinite(serial) && out.trim() ? serial : undefined;
};

test('a zone removed and added again is served with a serial above the one it had', { skip }, async () => {
  await addZone(db.db, ZONE);
  const key = await makeKey(`alice@${ZONE}`);
  for (let i = 0; i < 3; i++) await publish(db.db, `alice@${ZONE}`, key);
  const before = await waitFor('the zone with its bumped serial', async () => {
    const s = await servedSerial();
    return s !== undefined && s >= 2026112701 + 3 ? s : undefined;
  });

  // Removed as `keypost domain remove` does it: in a transaction that tells every node.
  await db.db.transaction().execute((tx) => removeDomain(tx, ZONE));
  await waitFor('the zone to be gone', async () => (status(await dig(server, ZONE, 'SOA')) === 'REFUSED' ? true : undefined));

  // Added again with the same starting serial it was first created with.
  await addZone(db.db, ZONE);
  const after = await waitFor('the zone to be back', servedSerial);
  assert.ok(after > before, `serial ${after} after re-adding, ${before} before removal`);
});
