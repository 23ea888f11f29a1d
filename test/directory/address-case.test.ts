// Regression: addresses were stored with full Unicode lowercasing while DNS and WKD names hash the
// local part with ASCII-only folding (as GnuPG does), so an address with a non-ASCII capital was
// published under a name no gpg would ask for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalAddress, parseAddress } from '../../src/protocol/address.js';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';

const cases: [string, string][] = [
  ['Alice@Example.ORG', 'alice@example.org'],
  ['Jörg.MÜLLER@example.org', 'jörg.mÜller@example.org'],
  ['ÉLODIE@example.org', 'Élodie@example.org'],
];

for (const [input, stored] of cases) {
  test(`${input} is stored as ${stored}, folding ASCII case only`, () => {
    assert.equal(canonicalAddress(input), stored);
    const parsed = parseAddress(input);
    assert.equal(parsed.address, stored);
    assert.equal(`${parsed.localPart}@${parsed.domain}`, stored);
  });
}

test('the stored local part hashes to the label GnuPG queries', () => {
  // GnuPG lowercases the ASCII letters of the address and hashes the UTF-8 bytes (RFC 7929 §3).
  const local = canonicalAddress('Jörg.MÜLLER@example.org')!.split('@')[0];
  const gpgLabel = createHash('sha256').update('jörg.mÜller', 'utf8').digest('hex').slice(0, 56);
  assert.equal(openpgpkeyLabel(local), gpgLabel);
});
