// DNSViz, the analyser operators paste their zone into, on a signed keypost zone: `dnsviz probe`
// against the keypost server (a parent holding the zone's DS is simulated with -N/-D, for which
// dnsviz runs BIND's named) and `dnsviz grok` with the zone's DNSKEY as trust anchor. Grok must
// report no error at all; its warnings are printed, so a run shows what DNSViz would flag.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel, wkdHash } from '../../src/protocol/address-hashes.js';
import { addZone, makeKey, publish } from './support/fixtures.js';
import { startDns, tool, type DnsServer } from './support/server.js';
import { signZone, writeAnchors } from './support/dnssec.js';

const skip = requireTool('dnsviz', 'named', 'dig', '/usr/bin/python3');
const ZONE = 'viz.test';
let db: TestDatabase;
let server: DnsServer;

/**
 * Debian's dnsviz 0.9.4 checks `pygraphviz.release`, which pygraphviz 1.7 no longer has, and then
 * refuses to grok. This runs the packaged dnsviz with that one attribute supplied.
 */
const DNSVIZ = `
import runpy, sys, types
import pygraphviz
release = types.ModuleType('pygraphviz.release')
release.version = pygraphviz.__version__
sys.modules['pygraphviz.release'] = release
pygraphviz.release = release
sys.argv = ['dnsviz'] + sys.argv[1:]
runpy.run_path('/usr/bin/dnsviz', run_name='__main__')
`;
const dnsviz = (args: string[]) => tool('/usr/bin/python3', ['-c', DNSVIZ, ...args], { timeoutMs: 120_000 });

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE, { powBits: 22, dns: { nameservers: [{ name: `ns1.${ZONE}`, ipv4: ['127.0.0.1'] }] } });
  await signZone(db, ZONE, 13);
  await publish(db.db, `alice@${ZONE}`, await makeKey(`alice@${ZONE}`));
  server = await startDns(db);
});
after(async () => {
  await server?.close();
  await db?.close();
});

interface Finding {
  description?: string;
  code?: string;
}

/** Every `errors` and `warnings` list in grok's output, with where it was found. */
function findings(node: unknown, kind: 'errors' | 'warnings', at = ''): string[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => findings(item, kind, `${at}[${i}]`));
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === kind ? (value as Finding[]).map((f) => `${at}: ${f.code ?? ''} ${f.description ?? ''}`) : findings(value, kind, `${at}/${key}`),
  );
}

test('dnsviz probe and grok report no errors for a signed zone, its records and a missing name', { skip }, async () => {
  const dir = db.env.KEYPOST_DATA_DIR;
  const { dnskey } = await writeAnchors(server, ZONE, dir);
  const trustAnchor = path.join(dir, 'viz.dnskey');
  writeFileSync(trustAnchor, `${dnskey}\n`);
  const ds = (await tool('dnssec-dsfromkey', ['-2', '-f', trustAnchor, ZONE])).trim().split(/\s+/).slice(3).join(' ');
  const ns = `${ZONE}:ns1.${ZONE}=${server.host}:${server.port}`;
  const probe = path.join(dir, 'probe.json');
  const names = [ZONE, `_keypost.${ZONE}`, `${openpgpkeyLabel('alice')}._openpgpkey.${ZONE}`, `${openpgpkeyLabel('alice')}._keypost.${ZONE}`, `${wkdHash('alice')}._pka.${ZONE}`, `${openpgpkeyLabel('nobody')}._openpgpkey.${ZONE}`];
  await dnsviz(['probe', '-A', '-R', 'SOA,DNSKEY,TXT,OPENPGPKEY,CERT', '-N', ns, '-x', ns, '-D', `${ZONE}:${ds}`, '-o', probe, ...names]);
  const grok = JSON.parse(await dnsviz(['grok', '-t', trustAnchor, '-r', probe])) as Record<string, { status: string; queries: Record<string, Record<string, { status: string }[]>> }>;
  const warnings = findings(grok, 'warnings');
  if (warnings.length) console.log(`dnsviz warnings:\n${warnings.join('\n')}`);
  assert.deepEqual(findings(grok, 'errors'), []);
  // What DNSViz proved, per query: published records are SECURE answers, the missing name a SECURE denial.
  const status = (name: string, type: string, kind: string) => grok[`${name}.`]?.queries[`${name}./IN/${type}`]?.[kind]?.[0]?.status;
  assert.equal(status(`${openpgpkeyLabel('alice')}._openpgpkey.${ZONE}`, 'OPENPGPKEY', 'answer'), 'SECURE');
  assert.equal(status(`${openpgpkeyLabel('alice')}._keypost.${ZONE}`, 'TXT', 'answer'), 'SECURE');
  assert.equal(status(`${wkdHash('alice')}._pka.${ZONE}`, 'CERT', 'answer'), 'SECURE');
  assert.equal(status(`_keypost.${ZONE}`, 'TXT', 'answer'), 'SECURE');
  assert.equal(status(ZONE, 'DNSKEY', 'answer'), 'SECURE');
  assert.equal(status(`${openpgpkeyLabel('nobody')}._openpgpkey.${ZONE}`, 'OPENPGPKEY', 'nodata'), 'SECURE');
});
