// Interop with the reference tool, hashcash 1.22, both ways: its stamps get the same verdict from
// keypost as from itself, keypost's stamps pass its check, and hand-made stamps (odd date widths,
// carried-over dates, v0, bad alphabets) get the same verdict from both.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mintStamp } from '../../src/pow/mint.js';
import { formatStampDate, parseStamp, type StampDateWidth } from '../../src/pow/stamp.js';
import { verifyStamp } from '../../src/pow/verify.js';
import { requireTool } from '../support/tools.js';
import { craftStamp, craftUnderpaid } from './craft.js';
import { hashcashCheck, hashcashMint } from './hashcash-tool.js';

const skip = requireTool('hashcash');
const DAY_MS = 86_400_000;
const R = 'x@example.org';

function keypostVerdict(stamp: string, resource: string, bits: number): string {
  const v = verifyStamp(stamp, { resource, bits, now: new Date(), validitySeconds: 28 * 86_400, graceSeconds: 2 * 86_400 });
  return v.ok ? 'ok' : v.code;
}

const daysFromNow = (days: number, width: StampDateWidth = 6) => formatStampDate(new Date(Date.now() + days * DAY_MS), width);

describe('interop with hashcash 1.22', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'kp-hashcash-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('stamps hashcash mints get its verdict from keypost', () => {
    const cases: { name: string; mintBits: number; args?: string[]; resource?: string; bits?: number; width?: number; expect: string }[] = [
      { name: 'a default 20-bit stamp', mintBits: 20, width: 6, expect: 'ok' },
      { name: 'a stamp dated to the minute (-z 10)', mintBits: 12, args: ['-z', '10'], width: 10, expect: 'ok' },
      { name: 'a stamp dated to the second (-z 12)', mintBits: 12, args: ['-z', '12'], width: 12, expect: 'ok' },
      { name: 'a stamp minted for an upper-case address with -C', mintBits: 12, args: ['-C'], resource: 'X@Example.ORG', expect: 'ok' },
      { name: 'a stamp with an extension (-x)', mintBits: 12, args: ['-x', 'a=b;c'], expect: 'ok' },
      { name: 'the wrong resource', mintBits: 12, resource: 'y@example.org', expect: 'POW_RESOURCE_MISMATCH' },
      { name: 'too few bits', mintBits: 12, bits: 16, expect: 'POW_INSUFFICIENT_BITS' },
      { name: 'dated 27 days ago', mintBits: 12, args: ['-t', '-27d'], expect: 'ok' },
      { name: 'dated 40 days ago: expired', mintBits: 12, args: ['-t', '-40d'], expect: 'POW_STAMP_EXPIRED' },
      { name: 'dated 40 days ago to the second: expired', mintBits: 12, args: ['-t', '-40d', '-z', '12'], expect: 'POW_STAMP_EXPIRED' },
      { name: 'dated tomorrow: inside the grace', mintBits: 12, args: ['-t', '+1d'], expect: 'ok' },
      { name: 'dated in 5 days: future', mintBits: 12, args: ['-t', '+5d'], expect: 'POW_STAMP_FUTURE' },
      { name: 'dated in 5 days to the minute: future', mintBits: 12, args: ['-t', '+5d', '-z', '10'], expect: 'POW_STAMP_FUTURE' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const stamp = hashcashMint(c.resource ?? R, c.mintBits, c.args);
        const bits = c.bits ?? c.mintBits;
        const theirs = hashcashCheck(stamp, { resource: R, bits });
        assert.equal(theirs.verdict, c.expect, `hashcash itself: ${theirs.stderr}`);
        assert.equal(keypostVerdict(stamp, R, bits), c.expect, stamp);
        if (c.width) assert.equal(parseStamp(stamp).date.length, c.width);
      });
    }
  });

  describe("keypost's stamps pass hashcash -c", () => {
    for (const bits of [0, 1, 8, 16, 20]) {
      it(`a ${bits}-bit stamp`, async () => {
        const { stamp } = await mintStamp(R, bits);
        const theirs = hashcashCheck(stamp, { resource: R, bits });
        assert.equal(theirs.exitCode, 0, theirs.stderr);
        assert.equal(theirs.verdict, 'ok');
      });
    }

    for (const width of [10, 12] as const) {
      it(`a stamp dated with width ${width}`, async () => {
        const { stamp } = await mintStamp(R, 14, { dateWidth: width });
        assert.equal(hashcashCheck(stamp, { resource: R, bits: 14 }).verdict, 'ok');
      });
    }

    it('an X-Hashcash header line (hashcash -c -X)', async () => {
      const { stamp } = await mintStamp(R, 14);
      assert.equal(hashcashCheck(`X-Hashcash: ${stamp}`, { resource: R, bits: 14, header: true }).verdict, 'ok');
    });

    it('and are refused by it for the same reasons as by keypost', async () => {
      const cases: [string, string, number, string][] = [
        [(await mintStamp(R, 14)).stamp, 'y@example.org', 14, 'POW_RESOURCE_MISMATCH'],
        [(await mintStamp(R, 14)).stamp, R, 15, 'POW_INSUFFICIENT_BITS'],
        [(await mintStamp(R, 14, { now: new Date(Date.now() - 40 * DAY_MS) })).stamp, R, 14, 'POW_STAMP_EXPIRED'],
        [(await mintStamp(R, 14, { now: new Date(Date.now() + 5 * DAY_MS) })).stamp, R, 14, 'POW_STAMP_FUTURE'],
      ];
      for (const [stamp, resource, bits, expect] of cases) {
        assert.equal(hashcashCheck(stamp, { resource, bits }).verdict, expect, stamp);
        assert.equal(keypostVerdict(stamp, resource, bits), expect, stamp);
      }
    });

    it("and are refused the second time by hashcash's double-spend database (-d)", async () => {
      const spentDb = path.join(dir, 'spent.sdb');
      const { stamp } = await mintStamp(R, 16);
      const first = hashcashCheck(stamp, { resource: R, bits: 16, spentDb });
      assert.equal(first.exitCode, 0, first.stderr);
      const second = hashcashCheck(stamp, { resource: R, bits: 16, spentDb });
      assert.equal(second.exitCode, 1);
      assert.equal(second.verdict, 'POW_STAMP_SPENT');
    });
  });

  it('agree on a non-ASCII address: both fold ASCII case only', async () => {
    const theirs = hashcashMint('Bjørn@Example.org', 12);
    const ours = (await mintStamp('Bjørn@Example.org', 12)).stamp;
    assert.equal(parseStamp(ours).resource, parseStamp(theirs).resource);
    for (const stamp of [theirs, ours]) {
      for (const [resource, expect] of [
        ['bjørn@example.org', 'ok'],
        ['BJØRN@example.org', 'POW_RESOURCE_MISMATCH'],
      ]) {
        assert.equal(hashcashCheck(stamp, { resource, bits: 12 }).verdict, expect, `hashcash, ${stamp} for ${resource}`);
        assert.equal(keypostVerdict(stamp, resource, 12), expect, `keypost, ${stamp} for ${resource}`);
      }
    }
  });

  describe('hand-made stamps get the same verdict from both', () => {
    const cases: [string, () => string, number?][] = [
      ['date width 2 (YY)', () => craftStamp({ bits: 10, date: daysFromNow(0, 2), resource: R })],
      ['date width 4 (YYMM)', () => craftStamp({ bits: 10, date: daysFromNow(0, 4), resource: R })],
      ['date width 8 (YYMMDDhh)', () => craftStamp({ bits: 10, date: daysFromNow(-1, 8), resource: R })],
      ['date width 4, 2 months ago', () => craftStamp({ bits: 10, date: daysFromNow(-62, 4), resource: R })],
      ['odd date width', () => craftStamp({ bits: 10, date: daysFromNow(0, 6) + '1', resource: R })],
      ['date wider than 12', () => craftStamp({ bits: 10, date: daysFromNow(0, 12) + '00', resource: R })],
      ['letter in the date', () => craftStamp({ bits: 10, date: 'a' + daysFromNow(0, 6).slice(1), resource: R })],
      ['month 00', () => craftStamp({ bits: 10, date: daysFromNow(0, 2) + '0001', resource: R })],
      ['day 00 (the last day of the previous month)', () => craftStamp({ bits: 10, date: daysFromNow(0, 4) + '00', resource: R })],
      ['day 32', () => craftStamp({ bits: 10, date: daysFromNow(-40, 4) + '32', resource: R })],
      ['hour 24 of yesterday', () => craftStamp({ bits: 10, date: daysFromNow(-1, 6) + '24', resource: R })],
      ['minute 60', () => craftStamp({ bits: 10, date: daysFromNow(-1, 8) + '60', resource: R })],
      ['two-digit year 50 ahead', () => craftStamp({ bits: 10, date: String((new Date().getUTCFullYear() + 50) % 100).padStart(2, '0'), resource: R })],
      ['two-digit year 51 ahead', () => craftStamp({ bits: 10, date: String((new Date().getUTCFullYear() + 51) % 100).padStart(2, '0'), resource: R })],
      ['upper-case resource', () => craftStamp({ bits: 10, date: daysFromNow(0), resource: 'X@EXAMPLE.ORG' })],
      ['resource with a space', () => craftStamp({ bits: 10, date: daysFromNow(0), resource: 'x @example.org' })],
      ['resource that is a prefix', () => craftStamp({ bits: 10, date: daysFromNow(0), resource: 'x@example.or' })],
      ['empty rand', () => craftStamp({ bits: 10, date: daysFromNow(0), resource: R, rand: '' })],
      ['empty counter', () => `1:0:${daysFromNow(0)}:${R}::abc:`, 0],
      ['v0 with an empty rand', () => `0:${daysFromNow(0)}:${R}:`, 0],
      ['rand with "_"', () => craftStamp({ bits: 10, date: daysFromNow(0), resource: R, rand: 'ab_c' })],
      ['rand with "-"', () => craftStamp({ bits: 10, date: daysFromNow(0), resource: R, rand: 'ab-c' })],
      ['rand with "=" padding', () => craftStamp({ bits: 10, date: daysFromNow(0), resource: R, rand: 'abc=' })],
      ['a claim its hash does not back', () => craftUnderpaid({ bits: 10, date: daysFromNow(0), resource: R })],
      ['a claim of 999 bits', () => craftStamp({ bits: 999, date: daysFromNow(0), resource: R, work: 10 })],
      ['claimed bits with a leading zero', () => `1:010:${craftStamp({ bits: 10, date: daysFromNow(0), resource: R }).slice(5)}`],
      ['version 2', () => craftStamp({ bits: 10, date: daysFromNow(0), resource: R }).replace(/^1/, '2')],
      ['a v0 stamp', () => craftStamp({ version: 0, date: daysFromNow(0), resource: R, work: 10 })],
      ['a v0 stamp with too few zeros', () => craftStamp({ version: 0, date: daysFromNow(0), resource: R, work: 0, rand: 'f' }), 30],
      ['a v0 stamp dated 40 days ago', () => craftStamp({ version: 0, date: daysFromNow(-40), resource: R, work: 10 })],
      ['a v0 stamp with "_" in rand', () => craftStamp({ version: 0, date: daysFromNow(0), resource: R, rand: 'a_', work: 10 })],
    ];
    for (const [name, make, bits = 10] of cases) {
      it(name, () => {
        const stamp = make();
        const theirs = hashcashCheck(stamp, { resource: R, bits });
        assert.doesNotMatch(theirs.verdict, /unrecognised/, theirs.stderr);
        assert.equal(keypostVerdict(stamp, R, bits), theirs.verdict, `${stamp}\nhashcash: ${theirs.stderr}`);
      });
    }
  });
});
