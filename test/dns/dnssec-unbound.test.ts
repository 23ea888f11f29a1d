// Unbound as the validating resolver a sender would trust: a trust anchor for the test zone and a
// stub-zone to keypost on loopback. Answers from keypost come back with AD; a second keypost that
// serves the same zone under a swapped key (what an attacker on the path would run) is answered
// SERVFAIL. With aggressive NSEC use on, a denial of a missing name right next to a published one
// must not deny the published one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/ports.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { addZone, makeKey, publish, type TestKey } from './support/fixtures.js';
import { dig, flags, section, startDns, status, waitFor, type DnsServer } from './support/server.js';
import { signZone, writeAnchors } from './support/dnssec.js';

const skip = requireTool('unbound', 'dig');
const ZONE = 'unbound.test';

interface Resolver {
  host: string;
  port: number;
  stop(): void;
}

/** Starts Unbound in the foreground, validating ZONE with `anchor` and asking `authority` for it. */
async function startUnbound(dir: string, name: string, anchor: string, authority: DnsServer): Promise<Resolver> {
  const port = await freePort();
  const anchorFile = path.join(dir, `${name}.anchor`);
  writeFileSync(anchorFile, `${anchor}\n`);
  const conf = path.join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    `server:
  interface: 127.0.0.1
  port: ${port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: "${dir}/${name}.pid"
  use-syslog: no
  logfile: "${dir}/${name}.log"
  verbosity: 1
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor-file: "${anchorFile}"
  aggressive-nsec: yes
  qname-minimisation: no
  val-log-level: 2
  # .test is locally served (RFC 6761) unless told otherwise.
  local-zone: "test." nodefault
remote-control:
  control-enable: no
stub-zone:
  name: "${ZONE}."
  stub-addr: ${authority.host}@${authority.port}
`,
  );
  const child: ChildProcess = spawn('unbound', ['-d', '-c', conf], { stdio: 'ignore' });
  const resolver = { host: '127.0.0.1', port, stop: () => child.kill('SIGTERM') };
  await waitFor('Unbound to answer', async () => (status(await dig(resolver, ZONE, 'SOA').catch(() => '')) ? true : undefined), 20_000, 100);
  return resolver;
}

describe('Unbound validates keypost answers', () => {
  let db: TestDatabase;
  let rogueDb: TestDatabase;
  let server: DnsServer;
  let rogue: DnsServer;
  let unbound: Resolver;
  let fooled: Resolver;
  let alice: TestKey;
  const h = (local: string) => openpgpkeyLabel(local);
  /** Recursive queries with DO, as a validating stub would send them. */
  const ask = (resolver: Resolver, name: string, type: string) => dig(resolver, '+rec', '+dnssec', '+time=5', name, type);

  before(async () => {
    if (skip) return;
    db = await openTestDatabase();
    rogueDb = await openTestDatabase();
    alice = await makeKey(`alice@${ZONE}`);
    // The same zone and key record twice; only the signing key differs.
    for (const target of [db, rogueDb]) {
      await addZone(target.db, ZONE, { dns: { nameservers: [{ name: `ns1.${ZONE}`, ipv4: ['127.0.0.1'] }] } });
      await signZone(target, ZONE, 13);
      await publish(target.db, `alice@${ZONE}`, alice);
    }
    [server, rogue] = await Promise.all([startDns(db), startDns(rogueDb)]);
    const { dnskey } = await writeAnchors(server, ZONE, db.env.KEYPOST_DATA_DIR);
    unbound = await startUnbound(db.env.KEYPOST_DATA_DIR, 'honest', dnskey, server);
    fooled = await startUnbound(db.env.KEYPOST_DATA_DIR, 'fooled', dnskey, rogue);
  });
  after(async () => {
    unbound?.stop();
    fooled?.stop();
    await Promise.all([server?.close(), rogue?.close()]);
    await Promise.all([db?.close(), rogueDb?.close()]);
  });

  test('answers, denials and NODATA come back with AD', { skip }, async () => {
    const key = await ask(unbound, `${h('alice')}._openpgpkey.${ZONE}`, 'OPENPGPKEY');
    assert.equal(status(key), 'NOERROR');
    assert.ok(flags(key).includes('ad'), key);
    assert.equal(section(key, 'ANSWER').filter((l) => l.split(' ')[3] === 'OPENPGPKEY').length, 1);
    for (const [name, type] of [
      [`${h('alice')}._keypost.${ZONE}`, 'TXT'],
      [`_keypost.${ZONE}`, 'TXT'],
      [`nobody.${ZONE}`, 'A'],
      [`${h('alice')}._openpgpkey.${ZONE}`, 'TXT'],
    ]) {
      const out = await ask(unbound, name, type);
      assert.equal(status(out), 'NOERROR', `${type} ${name}`);
      assert.ok(flags(out).includes('ad'), `${type} ${name}:\n${out}`);
    }
  });

  test('regression: a denied neighbour does not deny the published name (aggressive NSEC on)', { skip }, async () => {
    const real = `${h('alice')}._openpgpkey.${ZONE}`;
    const before = `${h('alice').slice(0, -1)}0._openpgpkey.${ZONE}`;
    for (const missing of [before, `\\000.${real}`]) {
      const denied = await ask(unbound, missing, 'OPENPGPKEY');
      assert.ok(flags(denied).includes('ad'), denied);
      assert.equal(section(denied, 'ANSWER').length, 0);
    }
    const found = await ask(unbound, real, 'OPENPGPKEY');
    assert.ok(flags(found).includes('ad'), found);
    assert.equal(section(found, 'ANSWER').filter((l) => l.split(' ')[3] === 'OPENPGPKEY').length, 1);
  });

  test('a server answering under a swapped key gets SERVFAIL', { skip }, async () => {
    // The rogue server answers the same data, signed with a key the anchor does not hold.
    const direct = await dig(rogue, '+short', `${h('alice')}._keypost.${ZONE}`, 'TXT');
    assert.match(direct, /v=kp1/);
    for (const [name, type] of [
      [`${h('alice')}._openpgpkey.${ZONE}`, 'OPENPGPKEY'],
      [`${h('alice')}._keypost.${ZONE}`, 'TXT'],
      [`nobody.${ZONE}`, 'A'],
    ]) {
      const out = await ask(fooled, name, type);
      assert.equal(status(out), 'SERVFAIL', `${type} ${name}:\n${out}`);
    }
  });
});
