// Item 24 of issue 15: the incremental refresh must agree with a full load. A key too large for
// OPENPGPKEY (over 64,511 octets) replacing a published one used to leave the old OPENPGPKEY in the
// refreshed snapshot, so a node that had refreshed and a node that had just started disagreed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { MAX_OPENPGPKEY_RDATA } from '../../src/dns/zone-records.js';
import { addZone, makeKey, publish, type TestKey } from './support/fixtures.js';
import { dig, section, startDns, status, waitFor, type DnsServer } from './support/server.js';

const skip = requireTool('dig');
const ZONE = 'refresh.test';
const owner = (label: string) => `${openpgpkeyLabel('carol')}.${label}.${ZONE}`;

let db: TestDatabase;
let refreshed: DnsServer;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE);
  refreshed = await startDns(db);
});

after(async () => {
  await refreshed?.close();
  await db?.close();
});

test('an oversized key replacing a published one withdraws the old OPENPGPKEY on refresh, as a full load does', { skip }, async () => {
  const small = await makeKey(`carol@${ZONE}`);
  await publish(db.db, `carol@${ZONE}`, small);
  await waitFor('the small key', async () => ((await dig(refreshed, '+short', owner('_openpgpkey'), 'OPENPGPKEY')).trim() ? true : undefined));

  // The DNS layer publishes whatever minimal key the directory stored; only its size matters here.
  const huge: TestKey = { ...(await makeKey(`carol@${ZONE}`)), binary: randomBytes(MAX_OPENPGPKEY_RDATA + 1) };
  await publish(db.db, `carol@${ZONE}`, huge);
  await waitFor('the new fingerprint', async () =>
    (await dig(refreshed, '+short', owner('_keypost'), 'TXT')).includes(huge.fingerprint) ? true : undefined,
  );

  const fresh = await startDns(db);
  try {
    for (const node of [refreshed, fresh]) {
      const out = await dig(node, '+tcp', owner('_openpgpkey'), 'OPENPGPKEY');
      assert.equal(status(out), 'NXDOMAIN', out);
      assert.deepEqual(section(out, 'ANSWER'), []);
    }
  } finally {
    await fresh.close();
  }
});
