// Positive answers are signed when the snapshot changes, not when a query first asks: after a
// publish, background signing catches up and the answers with DO then cost no signature on the
// packet path. Denials stay online (RFC 9824), one signature per new missing name.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel, wkdHash } from '../../src/protocol/address-hashes.js';
import type { DnsComponent } from '../../src/dns/component.js';
import { addZone, makeKey, publish } from './support/fixtures.js';
import { dig, section, startDns, waitFor, type DnsServer } from './support/server.js';
import { signZone } from './support/dnssec.js';

const skip = requireTool('dig');
const ZONE = 'presign.test';
let db: TestDatabase;
let server: DnsServer;
let dns: DnsComponent;

const names = (local: string): [string, string][] => [
  [`${openpgpkeyLabel(local)}._openpgpkey.${ZONE}`, 'OPENPGPKEY'],
  [`${openpgpkeyLabel(local)}._keypost.${ZONE}`, 'TXT'],
  [`${wkdHash(local)}._pka.${ZONE}`, 'CERT'],
];

/** The RRSIGs that came with a DO answer. */
const signatures = async (name: string, type: string) => section(await dig(server, '+dnssec', name, type), 'ANSWER').filter((l) => /\sRRSIG\s/.test(l));

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE, { powBits: 22, dns: { nameservers: [{ name: `ns1.${ZONE}`, ipv4: ['192.0.2.53'] }] } });
  await signZone(db, ZONE, 13);
  await publish(db.db, `alice@${ZONE}`, await makeKey(`alice@${ZONE}`));
  server = await startDns(db);
  dns = server.keypost.components.find((c) => c.name === 'dns') as DnsComponent;
});
after(async () => {
  await server?.close();
  await db?.close();
});

test('answers with DO after a load and after a publish carry RRSIGs made before the query', { skip }, async () => {
  await dns.signingIdle();
  assert.ok(dns.counters.signaturesInBackground > 0, 'the zone was signed in the background');
  const onQuery = dns.counters.signaturesOnQuery;
  for (const [name, type] of [...names('alice'), [ZONE, 'SOA'], [ZONE, 'DNSKEY'], [`_keypost.${ZONE}`, 'TXT']] as [string, string][]) {
    assert.equal((await signatures(name, type)).length, 1, `${type} ${name}`);
  }
  assert.equal(dns.counters.signaturesOnQuery, onQuery, 'no signature was made on the query path');

  await publish(db.db, `bob@${ZONE}`, await makeKey(`bob@${ZONE}`));
  await waitFor('bob to be served', async () => ((await dig(server, '+short', ...names('bob')[0])).trim() ? true : undefined), 10_000, 50);
  await dns.signingIdle();
  const afterPublish = dns.counters.signaturesOnQuery;
  for (const [name, type] of names('bob')) assert.equal((await signatures(name, type)).length, 1, `${type} ${name}`);
  assert.equal(dns.counters.signaturesOnQuery, afterPublish, 'the new names were signed before they were asked for');

  // A missing name is denied with an NSEC made for it there and then.
  const denial = await dig(server, '+dnssec', `${openpgpkeyLabel('nobody')}._openpgpkey.${ZONE}`, 'OPENPGPKEY');
  assert.equal(section(denial, 'AUTHORITY').filter((l) => l.split(/\s+/)[3] === 'NSEC').length, 1);
  assert.equal(dns.counters.signaturesOnQuery, afterPublish + 1);
});
