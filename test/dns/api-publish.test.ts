// End to end: a domain owner publishes a key through the directory API, and every running DNS node
// serves it within a second, with a higher SOA serial; withdrawing it removes it as fast.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { startKeypost, type RunningKeypost } from '../../src/main.js';
import { openpgpkeyLabel, wkdHash } from '../../src/protocol/address-hashes.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { makeKey, type TestKey } from './support/fixtures.js';
import { dig, startDns, status, tool, waitFor, type DnsServer } from './support/server.js';

const skip = requireTool('dig');
const ZONE = 'api.test';
let db: TestDatabase;
let keypost: RunningKeypost;
let otherNode: DnsServer;
let token: string;
let key: TestKey;

const dnsOf = (running: RunningKeypost) => {
  const address = running.addresses.dns!;
  return { host: '127.0.0.1', port: Number(address.slice(address.lastIndexOf(':') + 1)) };
};
const serial = async (server: { host: string; port: number }) => Number((await dig(server, '+short', ZONE, 'SOA')).split(' ')[2]);

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  const env = { ...process.env, ...db.env, KEYPOST_LOG_LEVEL: 'warn' };
  const added = JSON.parse(await tool(process.execPath, ['dist/src/cli/main.js', 'domain', 'add', ZONE, '--json'], { env, timeoutMs: 60_000 }));
  token = added.owner_token;
  const config = loadConfig({ ...db.env, KEYPOST_DNS_LISTEN: '127.0.0.1:0', KEYPOST_HTTP_LISTEN: '127.0.0.1:0', KEYPOST_LOG_LEVEL: 'silent' });
  keypost = await startKeypost({ config, log: pino({ level: 'silent' }), only: ['dns', 'api'] });
  otherNode = await startDns(db);
  key = await makeKey(`carol@${ZONE}`);
});

after(async () => {
  await otherNode?.close();
  await keypost?.close();
  await db?.close();
});

test('a key published through the API is served by every DNS node within a second', { skip }, async () => {
  const nodes = [dnsOf(keypost), otherNode];
  const before = await serial(nodes[0]);
  const response = await fetch(`http://${keypost.addresses.api}/v1/domains/${ZONE}/addresses/carol@${ZONE}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ keytext: key.armored, pow: 23 }),
  });
  // The API answers after the publish committed: from then on, one second for every node.
  const committed = Date.now();
  assert.equal(response.status, 200, await response.text());
  const name = `${openpgpkeyLabel('carol')}._openpgpkey.${ZONE}`;
  await Promise.all(
    nodes.map((node) => waitFor('the published key', async () => ((await dig(node, '+short', name, 'OPENPGPKEY')).trim() ? true : undefined), 1000, 20)),
  );
  assert.ok(Date.now() - committed < 1000, `served by both nodes after ${Date.now() - committed} ms`);
  for (const node of nodes) assert.ok((await serial(node)) > before);

  // The record holds the directory's minimal key: this address's user ID and the same fingerprint
  // that the _keypost TXT and the PKA CERT name.
  const published = Buffer.from((await dig(nodes[1], '+short', name, 'OPENPGPKEY')).replace(/\s+/g, ''), 'base64');
  const parsed = await openpgp.readKey({ binaryKey: published });
  assert.equal(parsed.getFingerprint().toUpperCase(), key.fingerprint);
  assert.deepEqual(parsed.getUserIDs(), [`<carol@${ZONE}>`]);
  assert.equal((await dig(nodes[1], '+short', `${openpgpkeyLabel('carol')}._keypost.${ZONE}`, 'TXT')).trim(), `"v=kp1; fpr=${key.fingerprint}; pow=23"`);
  assert.match(await dig(nodes[1], '+short', `${wkdHash('carol')}._pka.${ZONE}`, 'CERT'), /^IPGP 0 0 /);

  const withdrawn = await fetch(`http://${keypost.addresses.api}/v1/domains/${ZONE}/addresses/carol@${ZONE}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.ok(withdrawn.ok, await withdrawn.text());
  await Promise.all(
    nodes.map((node) => waitFor('the withdrawal', async () => (status(await dig(node, name, 'OPENPGPKEY')) === 'NXDOMAIN' ? true : undefined), 1000, 20)),
  );
});
