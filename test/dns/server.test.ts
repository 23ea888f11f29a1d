// Black-box: keypost's DNS listener on a random port, a test database with published keys, and
// what dig and kdig print.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { requireTool } from '../support/tools.js';
import { openpgpkeyLabel, wkdHash } from '../../src/protocol/address-hashes.js';
import { createDnsComponent } from '../../src/dns/component.js';
import { addZone, makeKey, publish, updateZoneDns, withdraw, type TestKey } from './support/fixtures.js';
import { dig, flags, kdig, section, startDns, status, tool, waitFor, type DnsServer } from './support/server.js';
import { buildQuery, parse, tcpExchange } from './support/wire-client.js';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const skip = requireTool('dig', 'kdig');
const ZONE = 'example.test';
const owner = (local: string, label = '_openpgpkey') => `${openpgpkeyLabel(local)}.${label}.${ZONE}`;
const tsigSecret = randomBytes(32).toString('base64');

let db: TestDatabase;
let server: DnsServer;
let alice: TestKey;
let big: TestKey;

function soaSerial(output: string): number {
  const soa = [...section(output, 'ANSWER'), ...section(output, 'AUTHORITY')].find((l) => l.includes(' SOA '));
  return Number(soa?.split(' ')[6]);
}

before(async () => {
  if (skip) return;
  db = await openTestDatabase();
  await addZone(db.db, ZONE, {
    endpoint: 'smtp://mx.example.test:25',
    apiUrl: 'https://keys.example.test',
    powBits: 24,
    dns: {
      nameservers: [{ name: 'ns1.example.test', ipv4: ['192.0.2.53'] }],
      openpgpkeyAddresses: ['192.0.2.80', '2001:db8::80'],
      secondaries: [{ address: '127.0.0.1', tsigKey: 'xfr-key' }],
      tsigKeys: { 'xfr-key': tsigSecret },
    },
  });
  [alice, big] = await Promise.all([makeKey('alice@example.test'), makeKey('big@example.test', 'rsa4096')]);
  await publish(db.db, 'alice@example.test', alice);
  await publish(db.db, 'big@example.test', big, { endpoint: 'smtp://big.onion:25', powBits: 28 });
  server = await startDns(db);
});

after(async () => {
  await server?.close();
  await db?.close();
});

test('dig and kdig show each record type with its content', { skip }, async () => {
  const soa = await dig(server, ZONE, 'SOA');
  assert.deepEqual(flags(soa).sort(), ['aa', 'qr']);
  assert.match(section(soa, 'ANSWER')[0], /^example\.test\. 3600 IN SOA ns1\.example\.test\. hostmaster\.example\.test\. \d+ 3600 900 1209600 300$/);
  assert.deepEqual(section(await dig(server, ZONE, 'NS'), 'ANSWER'), ['example.test. 3600 IN NS ns1.example.test.']);
  assert.deepEqual(section(await dig(server, 'ns1.example.test', 'A'), 'ANSWER'), ['ns1.example.test. 3600 IN A 192.0.2.53']);
  assert.equal((await dig(server, '+short', 'openpgpkey.example.test', 'AAAA')).trim(), '2001:db8::80');
  assert.equal((await dig(server, '+short', 'openpgpkey.example.test', 'A')).trim(), '192.0.2.80');
  assert.equal(
    (await dig(server, '+short', `_keypost.${ZONE}`, 'TXT')).trim(),
    '"v=kp1; api=https://keys.example.test; ep=smtp://mx.example.test:25; pow=24"',
  );
  assert.equal((await dig(server, '+short', owner('alice', '_keypost'), 'TXT')).trim(), `"v=kp1; fpr=${alice.fingerprint}"`);
  assert.equal((await dig(server, '+short', owner('big', '_keypost'), 'TXT')).trim(), `"v=kp1; fpr=${big.fingerprint}; ep=smtp://big.onion:25; pow=28"`);

  const key = await dig(server, '+short', owner('alice'), 'OPENPGPKEY');
  assert.equal(key.replace(/\s+/g, ''), alice.binary.toString('base64'));
  const kkey = await kdig(server, '+short', owner('alice'), 'OPENPGPKEY');
  assert.equal(kkey.replace(/\s+/g, ''), alice.binary.toString('base64'));

  const pkaName = `${wkdHash('alice')}._pka.${ZONE}`;
  // Fingerprint length, fingerprint, and where the key is at the zone's directory (RFC 4398 §2.1).
  const url = `https://keys.example.test/vks/v1/by-fingerprint/${alice.fingerprint}`;
  const ipgp = Buffer.concat([Buffer.from([20]), Buffer.from(alice.fingerprint, 'hex'), Buffer.from(url)]).toString('base64');
  // Both split long base64 into words.
  const unsplit = (out: string) => out.trim().replace(/(?<=\S{8}) (?=\S)/g, '');
  assert.equal(unsplit(await dig(server, '+short', pkaName, 'CERT')), `IPGP 0 0 ${ipgp}`);
  // kdig prints the certificate type as its number: 6 = IPGP.
  assert.equal(unsplit(await kdig(server, '+short', pkaName, 'CERT')), `6 0 0 ${ipgp}`);
});

test('NXDOMAIN and NODATA both carry the SOA, also for empty non-terminals', { skip }, async (t) => {
  const cases = [
    { name: owner('nobody'), type: 'OPENPGPKEY', status: 'NXDOMAIN' },
    { name: `nothing.here.${ZONE}`, type: 'A', status: 'NXDOMAIN' },
    { name: owner('alice'), type: 'A', status: 'NOERROR' },
    { name: `_openpgpkey.${ZONE}`, type: 'TXT', status: 'NOERROR' },
    { name: ZONE, type: 'MX', status: 'NOERROR' },
  ];
  for (const c of cases) {
    await t.test(`${c.type} ${c.name.slice(0, 24)}… → ${c.status}`, async () => {
      for (const out of [await dig(server, c.name, c.type), await kdig(server, c.name, c.type)]) {
        assert.equal(status(out), c.status);
        assert.equal(section(out, 'ANSWER').length, 0);
        const authority = section(out, 'AUTHORITY');
        assert.equal(authority.length, 1);
        // TTL = min(SOA TTL 3600, MINIMUM 300)
        assert.match(authority[0], /^example\.test\. 300 IN SOA /);
      }
    });
  }
});

test('an RSA-4096 key sets TC over UDP and comes whole over TCP', { skip }, async () => {
  const udp = await dig(server, '+ignore', '+notcp', '+bufsize=1232', owner('big'), 'OPENPGPKEY');
  assert.ok(flags(udp).includes('tc'), udp);
  assert.equal(section(udp, 'ANSWER').length, 0);
  const tcp = await dig(server, '+tcp', '+short', owner('big'), 'OPENPGPKEY');
  assert.equal(tcp.replace(/\s+/g, ''), big.binary.toString('base64'));
  assert.ok(big.binary.length > 1232);
  // Without +ignore dig retries over TCP by itself.
  const retried = await dig(server, '+short', owner('big'), 'OPENPGPKEY');
  assert.equal(retried.replace(/\s+/g, ''), big.binary.toString('base64'));
});

test('REFUSED out of zone; the question case is preserved', { skip }, async () => {
  const out = await dig(server, 'example.org', 'A');
  assert.equal(status(out), 'REFUSED');
  assert.ok(!flags(out).includes('aa'));
  const mixed = `${openpgpkeyLabel('alice').toUpperCase()}._OpenPgpKey.Example.TEST`;
  const answer = await dig(server, mixed, 'OPENPGPKEY');
  assert.equal(section(answer, 'QUESTION')[0], `;${mixed}. IN OPENPGPKEY`);
  assert.ok(section(answer, 'ANSWER')[0].startsWith(`${mixed}. 3600 IN OPENPGPKEY `));
});

test('a publish is visible within one second with a higher serial; a withdrawal too', { skip }, async () => {
  const second = await startDns(db); // a second node on the same database
  try {
    const before = soaSerial(await dig(server, ZONE, 'SOA'));
    const carol = await makeKey('carol@example.test');
    const started = Date.now();
    await publish(db.db, 'carol@example.test', carol);
    for (const node of [server, second]) {
      await waitFor('carol in DNS', async () => ((await dig(node, '+short', owner('carol'), 'OPENPGPKEY')).trim() ? true : undefined), 1000);
    }
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1000, `visible after ${elapsed} ms`);
    assert.ok(soaSerial(await dig(second, ZONE, 'SOA')) > before);
    await withdraw(db.db, 'carol@example.test');
    await waitFor('carol gone', async () => (status(await dig(server, owner('carol'), 'OPENPGPKEY')) === 'NXDOMAIN' ? true : undefined), 1000);
  } finally {
    await second.close();
  }
});

test('TCP: pipelined queries are answered in order on one connection', { skip }, async () => {
  const queries = [ZONE, owner('alice'), `_keypost.${ZONE}`].map((name, i) => buildQuery(name, i === 1 ? 61 : i === 0 ? 6 : 16, { id: 100 + i }));
  const replies = await tcpExchange(server.host, server.port, queries);
  assert.deepEqual(replies.map((r) => parse(r).header.id), [100, 101, 102]);
  assert.deepEqual(replies.map((r) => parse(r).answers[0].type), [6, 61, 16]);
});

test('TCP: idle connections are closed, also one that trickles a frame byte by byte', { skip }, async () => {
  const component = createDnsComponent(server.keypost.services, { tcpIdleTimeoutMs: 300 });
  const bound = (await component.start()) as string;
  try {
    const port = Number(bound.slice(bound.lastIndexOf(':') + 1));
    const lifetime = (trickle: boolean) =>
      new Promise<number>((resolve) => {
        const started = Date.now();
        const socket = connect({ host: '127.0.0.1', port });
        let timer: NodeJS.Timeout | undefined;
        if (trickle) {
          const frame = Buffer.concat([Buffer.from([0, 40]), buildQuery(ZONE, 6)]);
          let i = 0;
          timer = setInterval(() => i < frame.length && socket.write(frame.subarray(i, ++i)), 100);
        }
        socket.on('close', () => {
          clearInterval(timer);
          resolve(Date.now() - started);
        });
        // Writing the next octet after the server closed may reset the connection; close follows.
        socket.on('error', () => undefined);
      });
    for (const trickle of [false, true]) {
      const lasted = await lifetime(trickle);
      assert.ok(lasted >= 250 && lasted < 3000, `closed after ${lasted} ms (trickle: ${trickle})`);
    }
  } finally {
    await component.close();
  }
});

test('AXFR: only listed secondaries, with their TSIG key', { skip }, async () => {
  const key = `hmac-sha256:xfr-key:${tsigSecret}`;
  const ok = await kdig(server, '-y', key, ZONE, 'AXFR');
  const records = ok.split('\n').filter((l) => /\sIN\s/.test(l) && !l.startsWith(';'));
  assert.ok(records[0].includes('SOA') && records[records.length - 1].includes('SOA'));
  assert.ok(records.some((l) => l.includes('OPENPGPKEY')));
  assert.ok(records.some((l) => l.includes('CERT')));
  const digged = await dig(server, '-y', key, ZONE, 'AXFR');
  assert.ok(!/Transfer failed|tsig verify failure/i.test(digged), digged);
  assert.equal(digged.split('\n').filter((l) => /\sIN\s+SOA\s/.test(l)).length, 2);

  const unsigned = await dig(server, ZONE, 'AXFR');
  assert.match(unsigned, /Transfer failed/);
  const wrong = await dig(server, '-y', `hmac-sha256:xfr-key:${randomBytes(32).toString('base64')}`, ZONE, 'AXFR');
  assert.match(wrong, /Transfer failed|NOTAUTH|tsig/i);

  // Listed but unsigned: NOTAUTH. Not listed: REFUSED, key or not.
  const axfrRcode = async () => (await tcpExchange(server.host, server.port, [buildQuery(ZONE, 252)]))[0][3] & 15;
  assert.equal(await axfrRcode(), 9);
  await updateZoneDns(db.db, ZONE, { secondaries: [{ address: '192.0.2.99', tsigKey: 'xfr-key' }] });
  try {
    await waitFor('ACL change', async () => ((await axfrRcode()) === 5 ? true : undefined), 3000);
    assert.match(await dig(server, '-y', key, ZONE, 'AXFR'), /Transfer failed/);
  } finally {
    await updateZoneDns(db.db, ZONE, { secondaries: [{ address: '127.0.0.1', tsigKey: 'xfr-key' }] });
  }
});

test('keypost dns records prints the published zone, and nsd-checkzone reads it', { skip: skip || requireTool('nsd-checkzone') }, async () => {
  const env = { ...process.env, ...db.env, KEYPOST_LOG_LEVEL: 'warn' };
  const out = await tool('node', ['dist/src/cli/main.js', 'dns', 'records', ZONE], { env });
  const lines = out.split('\n').filter((l) => l && !l.startsWith(';') && !l.startsWith('$'));
  assert.match(lines[0], /^example\.test\.\t3600\tIN\tSOA\t/);
  assert.ok(lines.includes(`${owner('alice')}.\t3600\tIN\tOPENPGPKEY\t${alice.binary.toString('base64')}`));
  assert.ok(lines.includes(`${owner('alice', '_keypost')}.\t3600\tIN\tTXT\t"v=kp1; fpr=${alice.fingerprint}"`));
  assert.ok(lines.some((l) => l.startsWith(`${wkdHash('alice')}._pka.${ZONE}.\t3600\tIN\tCERT\tIPGP 0 0 `)));
  // Every record dig gets by AXFR is in the listing.
  const axfr = await dig(server, '-y', `hmac-sha256:xfr-key:${tsigSecret}`, '+onesoa', ZONE, 'AXFR');
  const axfrCount = axfr.split('\n').filter((l) => l && !l.startsWith(';') && !/\sTSIG\s/.test(l)).length;
  assert.equal(lines.length, axfrCount);
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-zone-'));
  try {
    writeFileSync(path.join(dir, 'zone'), out);
    const checked = await tool('nsd-checkzone', [ZONE, path.join(dir, 'zone')]);
    assert.match(checked, /zone example\.test is ok/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const unknown = await tool('node', ['dist/src/cli/main.js', 'dns', 'records', 'unknown.test'], { env, allowFailure: true });
  assert.equal(unknown, '');
});

test('a zone added with keypost domain add is served at once; removed, it is refused', { skip }, async () => {
  const env = { ...process.env, ...db.env, KEYPOST_LOG_LEVEL: 'warn' };
  const zone = 'added.test';
  await tool(process.execPath, ['dist/src/cli/main.js', 'domain', 'add', zone, '--pow', '18'], { env, timeoutMs: 60_000 });
  await waitFor('the new zone', async () => (status(await dig(server, zone, 'SOA')) === 'NOERROR' ? true : undefined), 2000);
  assert.equal((await dig(server, '+short', `_keypost.${zone}`, 'TXT')).trim(), '"v=kp1; pow=18"');
  await tool(process.execPath, ['dist/src/cli/main.js', 'domain', 'remove', zone], { env, timeoutMs: 60_000 });
  await waitFor('the zone gone', async () => (status(await dig(server, zone, 'SOA')) === 'REFUSED' ? true : undefined), 2000);
});

test('a zone policy change shows in the zone TXT and in address TXT records that no longer differ', { skip }, async () => {
  const env = { ...process.env, ...db.env, KEYPOST_LOG_LEVEL: 'warn' };
  const txt = async (name: string) => (await dig(server, '+short', name, 'TXT')).trim();
  await tool(process.execPath, ['dist/src/cli/main.js', 'domain', 'set', ZONE, '--pow', '28'], { env, timeoutMs: 60_000 });
  await waitFor('the new policy', async () => ((await txt(`_keypost.${ZONE}`)).includes('pow=28') ? true : undefined), 2000);
  // big's own price equals the zone's now, so only its endpoint stays.
  assert.equal(await txt(owner('big', '_keypost')), `"v=kp1; fpr=${big.fingerprint}; ep=smtp://big.onion:25"`);
  assert.equal(await txt(owner('alice', '_keypost')), `"v=kp1; fpr=${alice.fingerprint}"`);
  assert.equal((await dig(server, '+short', owner('alice'), 'OPENPGPKEY')).replace(/\s+/g, ''), alice.binary.toString('base64'));
  await tool(process.execPath, ['dist/src/cli/main.js', 'domain', 'set', ZONE, '--pow', '24'], { env, timeoutMs: 60_000 });
  await waitFor('the old policy', async () => ((await txt(owner('big', '_keypost'))).includes('pow=28') ? true : undefined), 2000);
});

test('a zone that cannot be loaded does not keep the server from starting or the other zones from answering', { skip }, async () => {
  // A label of 64 octets cannot be encoded (RFC 1035 §2.3.4); the directory would refuse it, but a
  // row written by hand must not take the DNS node down with it.
  await addZone(db.db, 'broken.test', { dns: { nameservers: [{ name: `${'x'.repeat(64)}.broken.test` }] } });
  const node = await startDns(db);
  try {
    assert.equal(status(await dig(node, 'broken.test', 'SOA')), 'REFUSED');
    assert.equal(status(await dig(node, ZONE, 'SOA')), 'NOERROR');
  } finally {
    await node.close();
  }
});
