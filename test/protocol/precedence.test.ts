// The one precedence rule for an address's price, endpoint and next hop (src/protocol/precedence.ts):
// the address's own setting, else its zone's, else the fallback. Unset (null) and absent
// (undefined, a kp1 field that is not there) both inherit; 0 bits is a setting, not "unset".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressSetting } from '../../src/protocol/precedence.js';

describe('address, else zone, else default', () => {
  const cases: [string, number | null | undefined, number | null | undefined, number][] = [
    ['address wins', 26, 22, 26],
    ['zone when the address sets none', null, 22, 22],
    ['zone when the address record has no pow field', undefined, 22, 22],
    ['default when neither does', null, null, 20],
    ['default when neither record has the field', undefined, undefined, 20],
    ['an address may set 0', 0, 22, 0],
    ['a zone may set 0', null, 0, 0],
  ];
  for (const [name, address, zone, expected] of cases) {
    it(name, () => assert.equal(addressSetting(address, zone, 20), expected));
  }
  it('endpoint and next hop: the address, else the zone, else none', () => {
    assert.equal(addressSetting(null, 'smtp://z:25', null), 'smtp://z:25');
    assert.equal(addressSetting('smtp://a:25', 'smtp://z:25', null), 'smtp://a:25');
    assert.equal(addressSetting(undefined, undefined, null), null);
  });
});

describe('the required protection follows the same rule', () => {
  it('address, else zone, else none', async () => {
    const { parseRequirement, NO_REQUIREMENT } = await import('../../src/protocol/requirement.js');
    assert.equal(addressSetting(null, 'encrypted', NO_REQUIREMENT), 'encrypted');
    assert.equal(addressSetting('none', 'encrypted', NO_REQUIREMENT), 'none', 'an address may take plain mail in a zone that asks for more');
    assert.equal(addressSetting('signed', null, NO_REQUIREMENT), 'signed');
    assert.equal(addressSetting(undefined, undefined, NO_REQUIREMENT), 'none');
    // What users type is read into the one spelling stored and published.
    assert.equal(parseRequirement('signed, encrypted'), 'encrypted,signed');
    assert.equal(parseRequirement('NONE'), 'none');
    assert.equal(parseRequirement('none,signed'), undefined);
  });
});
