// Item 21 of issue 15: an NS answer carries the addresses of in-zone name servers in the
// additional section (RFC 1034 §4.3.2 step 6; RFC 9471 calls them glue), as BIND and Knot send;
// out-of-zone name servers get none, since this server is not authoritative for their addresses.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { addZone } from './support/fixtures.js';
import { dig, kdig, section, startDns, type DnsServer } from './support/server.js';

const skip = requireTool('dig', 'kdig');
const ZONE = 'glue.test';

let db: TestDatabase;
let server: DnsServer;

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE, {
    dns: {
      nameservers: [
        { name: 'ns1.glue.test', ipv4: ['192.0.2.53'], ipv6: ['2001:db8::53'] },
        { name: 'NS2.Glue.Test', ipv4: ['192.0.2.54'] },
        { name: 'ns.elsewhere.test', ipv4: ['198.51.100.1'] },
      ],
    },
  });
  server = await startDns(db);
});

after(async () => {
  await server?.close();
  await db?.close();
});

const norm = (lines: string[]) => lines.filter((l) => !l.includes(' OPT ') && !l.startsWith(';')).sort();

test('NS answers carry in-zone name server addresses in the additional section', { skip }, async () => {
  const expected = [
    'ns1.glue.test. 3600 IN A 192.0.2.53',
    'ns1.glue.test. 3600 IN AAAA 2001:db8::53',
    'ns2.glue.test. 3600 IN A 192.0.2.54',
  ].map((l) => l.toLowerCase());
  for (const qname of [ZONE, 'GLUE.test']) {
    const out = await dig(server, qname, 'NS');
    assert.equal(section(out, 'ANSWER').length, 3, out);
    assert.deepEqual(norm(section(out, 'ADDITIONAL')).map((l) => l.toLowerCase()), expected, out);
    const k = await kdig(server, qname, 'NS');
    assert.deepEqual(norm(section(k, 'ADDITIONAL')).map((l) => l.toLowerCase()), expected, k);
  }
});
