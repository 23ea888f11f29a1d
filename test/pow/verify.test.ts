// Verification verdicts: value rules, resource matching, the validity window, and their codes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { loadConfig } from '../../src/config.js';
import { countLeadingZeroBits, stampValue, verifyPolicy, verifyStamp, type VerifyOptions } from '../../src/pow/verify.js';
import { parseStamp } from '../../src/pow/stamp.js';
import { craftStamp, craftUnderpaid } from './craft.js';

const DAY = 86_400;
const now = new Date('2026-11-27T12:00:00Z');
const policy: VerifyOptions = {
  resource: 'alice@example.org',
  bits: 10,
  now,
  validitySeconds: 28 * DAY,
  graceSeconds: 2 * DAY,
};

describe('countLeadingZeroBits', () => {
  const cases: [number[], number][] = [
    [[0x80], 0],
    [[0x40], 1],
    [[0x01], 7],
    [[0x00, 0xff], 8],
    [[0x00, 0x00, 0x10], 19],
    [[0x00, 0x00, 0x00], 24],
    [new Array(20).fill(0), 160],
  ];
  for (const [bytes, zeros] of cases) {
    it(`counts ${zeros} in ${Buffer.from(bytes).toString('hex')}`, () => assert.equal(countLeadingZeroBits(Uint8Array.from(bytes)), zeros));
  }
});

describe('stampValue', () => {
  const digest = (hex: string) => Buffer.from(hex.padEnd(40, 'f'), 'hex');
  it('gives a v1 stamp its claim when the hash has at least that many zeros', () => {
    assert.equal(stampValue({ version: 1, bits: 20 }, digest('00000f')), 20);
    assert.equal(stampValue({ version: 1, bits: 20 }, digest('000000')), 20, 'never more than claimed');
  });
  it('gives a v1 stamp nothing when its hash falls short of the claim', () => {
    assert.equal(stampValue({ version: 1, bits: 21 }, digest('00000f')), 0);
    assert.equal(stampValue({ version: 1, bits: 161 }, Buffer.alloc(20)), 0);
  });
  it('gives a v0 stamp its leading zero bits', () => {
    assert.equal(stampValue({ version: 0, bits: 0 }, digest('00000f')), 20);
    assert.equal(stampValue({ version: 0, bits: 0 }, digest('0f')), 4);
  });
  it('hashes the exact stamp text with SHA-1', () => {
    const text = craftStamp({ bits: 12, date: '261127', resource: 'alice@example.org' });
    const zeros = countLeadingZeroBits(createHash('sha1').update(text).digest());
    assert.ok(zeros >= 12);
    assert.equal(stampValue(parseStamp(text), createHash('sha1').update(text).digest()), 12);
  });
});

describe('verifyStamp', () => {
  const r = 'alice@example.org';
  const cases: { name: string; stamp: string; options?: Partial<VerifyOptions>; code?: string; value?: number }[] = [
    { name: 'a good stamp', stamp: craftStamp({ bits: 10, date: '261127', resource: r }), value: 10 },
    { name: 'a stamp claiming more than required', stamp: craftStamp({ bits: 14, date: '261127', resource: r }), value: 14 },
    { name: 'a resource differing in ASCII case', stamp: craftStamp({ bits: 10, date: '261127', resource: 'Alice@Example.ORG' }), value: 10 },
    {
      name: 'a resource differing in case when case-sensitive',
      stamp: craftStamp({ bits: 10, date: '261127', resource: 'Alice@example.org' }),
      options: { caseSensitive: true },
      code: 'POW_RESOURCE_MISMATCH',
    },
    {
      name: 'non-ASCII case is not folded',
      stamp: craftStamp({ bits: 10, date: '261127', resource: 'ÅSA@example.org' }),
      options: { resource: 'åsa@example.org' },
      code: 'POW_RESOURCE_MISMATCH',
    },
    { name: 'the wrong resource', stamp: craftStamp({ bits: 10, date: '261127', resource: 'bob@example.org' }), code: 'POW_RESOURCE_MISMATCH' },
    { name: 'a prefix of the resource', stamp: craftStamp({ bits: 10, date: '261127', resource: 'alice@example' }), code: 'POW_RESOURCE_MISMATCH' },
    { name: 'too few bits claimed', stamp: craftStamp({ bits: 9, date: '261127', resource: r }), code: 'POW_INSUFFICIENT_BITS' },
    { name: 'a claim its hash does not back', stamp: craftUnderpaid({ bits: 10, date: '261127', resource: r }), code: 'POW_INSUFFICIENT_BITS' },
    { name: 'zero bits required, zero claimed', stamp: craftStamp({ bits: 0, date: '261127', resource: r }), options: { bits: 0 }, value: 0 },
    // A v0 stamp is worth all its zeros, which may be more than the 10 it was crafted for.
    { name: 'a v0 stamp with enough zeros', stamp: craftStamp({ version: 0, date: '261127', resource: r, work: 10 }) },
    { name: 'a v0 stamp with too few zeros', stamp: craftStamp({ version: 0, date: '261127', resource: r, work: 0, rand: 'f' }), options: { bits: 40 }, code: 'POW_INSUFFICIENT_BITS' },
    { name: 'a malformed stamp', stamp: '1:10:261127:alice@example.org::a_b:c', code: 'POW_STAMP_MALFORMED' },
    { name: 'a month of 00', stamp: craftStamp({ bits: 10, date: '260027', resource: r }), code: 'POW_STAMP_MALFORMED' },
    // Window: dated D, valid while D <= now + grace and D + validity + grace > now.
    { name: 'dated 29 days ago (inside the grace)', stamp: craftStamp({ bits: 10, date: '261029', resource: r }), value: 10 },
    { name: 'dated 31 days ago', stamp: craftStamp({ bits: 10, date: '261027', resource: r }), code: 'POW_STAMP_EXPIRED' },
    { name: 'dated exactly validity + grace ago', stamp: craftStamp({ bits: 10, date: '261028120000', resource: r }), code: 'POW_STAMP_EXPIRED' },
    { name: 'dated one second less than validity + grace ago', stamp: craftStamp({ bits: 10, date: '261028120001', resource: r }), value: 10 },
    { name: 'dated a year ago, month width', stamp: craftStamp({ bits: 10, date: '2511', resource: r }), code: 'POW_STAMP_EXPIRED' },
    { name: 'dated tomorrow (inside the grace)', stamp: craftStamp({ bits: 10, date: '261128', resource: r }), value: 10 },
    { name: 'dated exactly now + grace', stamp: craftStamp({ bits: 10, date: '261129120000', resource: r }), value: 10 },
    { name: 'dated one second after now + grace', stamp: craftStamp({ bits: 10, date: '261129120001', resource: r }), code: 'POW_STAMP_FUTURE' },
    { name: 'dated next week', stamp: craftStamp({ bits: 10, date: '261204', resource: r }), code: 'POW_STAMP_FUTURE' },
    { name: 'a two-digit year 50 years ahead', stamp: craftStamp({ bits: 10, date: '761127', resource: r }), code: 'POW_STAMP_FUTURE' },
    { name: 'a two-digit year 51 years ahead reads as the past', stamp: craftStamp({ bits: 10, date: '771127', resource: r }), code: 'POW_STAMP_EXPIRED' },
    { name: 'a day 00 carried into the previous month', stamp: craftStamp({ bits: 10, date: '261100', resource: r }), value: 10 },
    { name: 'a day 00 of next month is the 30th: future', stamp: craftStamp({ bits: 10, date: '261200', resource: r }), code: 'POW_STAMP_FUTURE' },
    { name: 'a month 13 carried into next year', stamp: craftStamp({ bits: 10, date: '261327', resource: r }), code: 'POW_STAMP_FUTURE' },
    {
      name: 'a shorter validity window',
      stamp: craftStamp({ bits: 10, date: '261120', resource: r }),
      options: { validitySeconds: 3 * DAY, graceSeconds: 0 },
      code: 'POW_STAMP_EXPIRED',
    },
    {
      name: 'no grace for a stamp from later today',
      stamp: craftStamp({ bits: 10, date: '2611271300', resource: r }),
      options: { graceSeconds: 0 },
      code: 'POW_STAMP_FUTURE',
    },
  ];

  for (const c of cases) {
    it(`${c.code ? 'refuses' : 'accepts'} ${c.name}`, () => {
      const verdict = verifyStamp(c.stamp, { ...policy, ...c.options });
      if (c.code) {
        assert.equal(verdict.ok, false, `expected ${c.code}`);
        if (!verdict.ok) {
          assert.equal(verdict.code, c.code, verdict.reason);
          assert.ok(verdict.reason.length > 0);
          if (c.code !== 'POW_STAMP_MALFORMED') assert.equal(verdict.stamp?.text, c.stamp);
        }
      } else {
        assert.equal(verdict.ok, true, verdict.ok ? '' : `${verdict.code}: ${verdict.reason}`);
        if (verdict.ok && c.value !== undefined) assert.equal(verdict.value, c.value);
        if (verdict.ok && c.value === undefined) assert.ok(verdict.value >= (c.options?.bits ?? policy.bits));
      }
    });
  }

  it('reports when the stamp expires: its date plus validity plus grace', () => {
    const verdict = verifyStamp(craftStamp({ bits: 10, date: '261127', resource: r }), policy);
    assert.ok(verdict.ok);
    assert.equal(verdict.expiresAt.toISOString(), '2026-12-27T00:00:00.000Z');
  });

  it('checks the resource before the hash and the hash before the dates, as hashcash does', () => {
    const wrongAndExpired = craftUnderpaid({ bits: 10, date: '250101', resource: 'bob@example.org' });
    const underpaidAndExpired = craftUnderpaid({ bits: 10, date: '250101', resource: r });
    const a = verifyStamp(wrongAndExpired, policy);
    const b = verifyStamp(underpaidAndExpired, policy);
    assert.equal(!a.ok && a.code, 'POW_RESOURCE_MISMATCH');
    assert.equal(!b.ok && b.code, 'POW_INSUFFICIENT_BITS');
  });
});

describe('verifyPolicy', () => {
  it("defaults to hashcash's window: 28 days valid, 2 days grace, resources case-insensitive", () => {
    assert.deepEqual(verifyPolicy(loadConfig({}).pow), { validitySeconds: 28 * DAY, graceSeconds: 2 * DAY, caseSensitive: false });
  });

  it('follows the KEYPOST_STAMP_* variables', () => {
    const pow = loadConfig({
      KEYPOST_STAMP_VALIDITY_DAYS: '7',
      KEYPOST_STAMP_GRACE_DAYS: '0',
      KEYPOST_STAMP_RESOURCE_CASE_SENSITIVE: 'true',
    }).pow;
    const options = { resource: 'alice@example.org', bits: 10, now, ...verifyPolicy(pow) };
    const eightDaysOld = craftStamp({ bits: 10, date: '261119', resource: 'alice@example.org' });
    const upperCase = craftStamp({ bits: 10, date: '261127', resource: 'Alice@example.org' });
    const verdictOf = (text: string) => {
      const v = verifyStamp(text, options);
      return v.ok ? 'ok' : v.code;
    };
    assert.equal(verdictOf(eightDaysOld), 'POW_STAMP_EXPIRED');
    assert.equal(verdictOf(upperCase), 'POW_RESOURCE_MISMATCH');
    assert.equal(verdictOf(craftStamp({ bits: 10, date: '261121', resource: 'alice@example.org' })), 'ok');
  });
});
