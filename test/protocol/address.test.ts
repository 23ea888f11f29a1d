// The one address parser, checked against GnuPG's own rule for the address ("mbox") of a user ID:
// GnuPG 2.2's gpg-wks-client --print-wkd-hash runs mailbox_from_userid() on its argument and prints
// the WKD hash and the mbox, or fails. Whenever keypost takes an address from a user ID, GnuPG must
// take the same one (else gpg, fetching the key by that address, finds no matching user ID), and
// keypost may refuse more than GnuPG but never less.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';
import { promisify } from 'node:util';
import { addressOfUserId, canonicalAddress, normalizeDomain, parseAddress } from '../../src/protocol/address.js';
import { wkdHash } from '../../src/protocol/address-hashes.js';
import { requireTool } from '../support/tools.js';

const run = promisify(execFile);

function wksClient(): string | undefined {
  try {
    const path = join(execFileSync('gpgconf', ['--list-dirs', 'libexecdir'], { encoding: 'utf8' }).trim(), 'gpg-wks-client');
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

const WKS = wksClient();
const skip = WKS ? false : requireTool('gpg-wks-client');

/** GnuPG's mbox of a user ID and its WKD hash, or undefined when GnuPG finds no address in it. */
async function gnupgMbox(userId: string): Promise<{ mbox: string; hash: string } | undefined> {
  try {
    const { stdout } = await run(WKS!, ['--print-wkd-hash', '--', userId], { encoding: 'utf8' });
    const [hash, mbox] = stdout.trim().split(' ');
    return { mbox, hash };
  } catch {
    return undefined;
  }
}

const LOCALS = ['alice', 'Alice.Smith', 'a+tag', "o'brien", 'x/y', 'a?b', 'a#b', 'a%b', 'jörg', 'ａlice', 'a\u200bb', 'a b', '.a', 'a.', 'a..b', '"q"', 'a\\b', 'a@b', ''];
const DOMAINS = [
  'a.test',
  'A.TEST',
  'a.test.',
  'a.test/x',
  'a.test%2Fjunk',
  'a.test?x',
  'a.test#x',
  'a.test\\x',
  'a.te\u200bst',
  'ａ.test',
  'a..test',
  'bücher.example',
  'xn--bcher-kva.example',
  'a_b.test',
  'localhost',
  '1.2.3.4',
  '[127.0.0.1]',
  '-a.test',
];
const WRAPPERS = [(a: string) => a, (a: string) => `<${a}>`, (a: string) => `Name <${a}>`, (a: string) => `Name <${a}> (comment)`, (a: string) => `N <x@y.test> <${a}>`, (a: string) => `< ${a}>`];

test('every address keypost takes from a user ID is the one GnuPG takes, and has the same WKD hash', { skip }, async () => {
  const userIds = LOCALS.flatMap((local) => DOMAINS.flatMap((domain) => WRAPPERS.map((wrap) => wrap(`${local}@${domain}`))));
  userIds.push('', 'no address', 'Name', '<>', 'x@y@z.test', '<a@b.test', 'a@b.test>', 'Name <a@b.test', 'Name a@b.test');
  let agreed = 0;
  let stricter = 0;
  for (let i = 0; i < userIds.length; i += 16) {
    const batch = userIds.slice(i, i + 16);
    const theirs = await Promise.all(batch.map(gnupgMbox));
    batch.forEach((userId, j) => {
      const ours = addressOfUserId(userId);
      const gpg = theirs[j];
      if (ours === undefined) {
        if (gpg) stricter++;
        return;
      }
      assert.ok(gpg, `keypost takes ${ours} from ${JSON.stringify(userId)}, GnuPG takes no address`);
      const [gpgLocal, gpgDomain] = [gpg.mbox.slice(0, gpg.mbox.lastIndexOf('@')), gpg.mbox.slice(gpg.mbox.lastIndexOf('@') + 1)];
      const [local, domain] = ours.split('@');
      assert.equal(local, gpgLocal, JSON.stringify(userId));
      // GnuPG keeps the domain as written (U-labels); DNS carries it as A-labels.
      assert.equal(domain, domainToASCII(gpgDomain), JSON.stringify(userId));
      assert.equal(wkdHash(local), gpg.hash, JSON.stringify(userId));
      agreed++;
    });
  }
  // The table must exercise both sides of the rule, or it proves nothing.
  assert.ok(agreed >= 20, `only ${agreed} user IDs accepted by both`);
  assert.ok(stricter >= 20, `only ${stricter} user IDs refused by keypost alone`);
});

test('the reported cases are refused, not mapped onto alice or u1', () => {
  for (const userId of ['<alice@a.test/x>', 'Alice <alice@a.test/x>', 'alice@a.test/x', '<alice@a.te\u200bst>', '<alice@ａ.test>', '<alice@a.test%2Fjunk>']) {
    assert.equal(addressOfUserId(userId), undefined, userId);
  }
  for (const input of ['u1@a.test/junk', 'u1@a.test?x', 'u1@a.test#x', 'u1@a.test\\x', 'u1@a.te\u200bst', 'u1@ａ.test', 'u1@a.test\u0000', 'u\u00ad1@a.test', 'ｕ1@a.test']) {
    assert.throws(() => parseAddress(input), { code: 'DIR_ADDRESS_INVALID' }, JSON.stringify(input));
    assert.equal(canonicalAddress(input), undefined, JSON.stringify(input));
  }
  for (const input of ['a.test/junk', 'a.te\u200bst', 'ａ.test', 'a.test?', 'a.test#', 'a.test\\']) {
    assert.throws(() => normalizeDomain(input), { code: 'DIR_DOMAIN_INVALID' }, JSON.stringify(input));
  }
});

test('ordinary addresses keep parsing to their canonical form', () => {
  assert.deepEqual(parseAddress('Alice@Example.ORG'), { address: 'alice@example.org', localPart: 'alice', domain: 'example.org' });
  assert.equal(parseAddress('bob@Bücher.example').address, 'bob@xn--bcher-kva.example');
  assert.equal(parseAddress('carol@example.org.').address, 'carol@example.org');
  assert.equal(addressOfUserId('Dave (work) <Dave@Example.org>'), 'dave@example.org');
  assert.equal(normalizeDomain('Example.ORG.'), 'example.org');
});

test('a name already in canonical form (lowercase LDH) parses as the IDNA round trip would; A-labels still go through IDNA (and are refused as typed, as before)', () => {
  for (const name of ['a.test', 'mail.example.org', 'a-b.c-d.test', 'ab--cd.test', '0a.test']) {
    assert.equal(normalizeDomain(name), domainToASCII(name));
    assert.equal(parseAddress(`u@${name}`).domain, name);
  }
  assert.throws(() => normalizeDomain('xn--bcher-kva.example'), { code: 'DIR_DOMAIN_INVALID' });
  // Not a valid Punycode label: IDNA refuses it, and so must the parser.
  assert.throws(() => normalizeDomain('xn--a.example'), { code: 'DIR_DOMAIN_INVALID' });
});

test('names the parser has seen before give the same answer again: accepted ones their canonical form, refused ones the same error, also after more distinct names than it remembers', () => {
  const inputs = [' Example.ORG. ', '\tMail.Example.org', 'Bücher.example', 'a.test/junk', 'ａ.test', 'xn--a.example', 'alone'];
  const first = inputs.map((input) => {
    try {
      return normalizeDomain(input);
    } catch (error) {
      return (error as { code: string }).code;
    }
  });
  assert.deepEqual(first, ['example.org', 'mail.example.org', 'xn--bcher-kva.example', 'DIR_DOMAIN_INVALID', 'DIR_DOMAIN_INVALID', 'DIR_DOMAIN_INVALID', 'DIR_DOMAIN_INVALID']);
  for (let i = 0; i < 1000; i++) assert.equal(normalizeDomain(`z${i}.Flood.test`), `z${i}.flood.test`);
  for (let round = 0; round < 2; round++) {
    inputs.forEach((input, i) => {
      if (first[i] === 'DIR_DOMAIN_INVALID') assert.throws(() => normalizeDomain(input), { code: 'DIR_DOMAIN_INVALID' }, JSON.stringify(input));
      else assert.equal(normalizeDomain(input), first[i], JSON.stringify(input));
    });
  }
  assert.deepEqual(parseAddress(' Alice@Example.ORG\t'), { address: 'alice@example.org', localPart: 'alice', domain: 'example.org' });
});
