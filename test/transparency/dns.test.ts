// The signed tree head in DNS: `_keypost-log.<zone>` TXT follows publishes through the change feed,
// carries the same head as the API, verifies under the zone's log key, and is signed by DNSSEC:
// delv, trusting only the zone's own DNSKEY, calls it fully validated.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { latestTreeHead } from '../../src/transparency/tree-heads.js';
import { parseTreeHeadText, verifyTreeHead } from '../../src/transparency/sth.js';
import { logSize, rootAt } from '../../src/transparency/log-store.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { addZone, makeKey, publish } from '../dns/support/fixtures.js';
import { delv, signZone, writeAnchors } from '../dns/support/dnssec.js';
import { dig, startDns, waitFor, type DnsServer } from '../dns/support/server.js';

const skip = requireTool('dig', 'delv');
const ZONE = 'sth.test';
let db: TestDatabase;
let server: DnsServer;
let anchors: string;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE, { dns: { nameservers: [{ name: `ns1.${ZONE}`, ipv4: ['192.0.2.53'] }] } });
  await signZone(db, ZONE, 13);
  server = await startDns(db);
  anchors = (await writeAnchors(server, ZONE, db.env.KEYPOST_DATA_DIR)).file;
});

after(async () => {
  await server?.close();
  await db?.close();
});

/** The head DNS serves, once it covers `size` leaves. */
async function servedHead(size: number) {
  return waitFor(`_keypost-log with n=${size}`, async () => {
    const text = (await dig(server, '+short', `_keypost-log.${ZONE}`, 'TXT')).trim();
    const head = text ? parseTreeHeadText(ZONE, text.replace(/^"|"$/g, '').replace(/" "/g, '')) : undefined;
    return head && head.size >= size ? head : undefined;
  });
}

test('each publish moves the _keypost-log TXT to a head over the new tree, signed by the log key and by DNSSEC', { skip }, async () => {
  for (const [i, local] of ['dora', 'eve'].entries()) {
    await publish(db.db, `${local}@${ZONE}`, await makeKey(`${local}@${ZONE}`));
    const head = await servedHead(i + 1);
    assert.equal(head.size, await logSize(db.db, ZONE));
    assert.deepEqual(head.root, await rootAt(db.db, ZONE, head.size));
    assert.ok(verifyTreeHead(head));
    assert.deepEqual(head, await latestTreeHead(db.db, ZONE));
  }
  const out = await delv(server, anchors, ZONE, `_keypost-log.${ZONE}`, 'TXT');
  assert.match(out, /; fully validated/);
  assert.match(out, /v=kpl1; n=2; root=/);
});
