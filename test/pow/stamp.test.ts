// Stamp grammar and dates: what parses, into which fields, and what is refused with which code.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  StampError,
  expandTwoDigitYear,
  formatStamp,
  formatStampDate,
  parseStamp,
  parseStampDate,
  stampFromHeaderValue,
} from '../../src/pow/stamp.js';

describe('parseStamp', () => {
  const good: { text: string; expect: Record<string, unknown> }[] = [
    {
      text: '1:20:261127:alice@example.org::UuQptTn32HkDjP+X:00000001C',
      expect: { version: 1, bits: 20, date: '261127', resource: 'alice@example.org', ext: '', rand: 'UuQptTn32HkDjP+X', counter: '00000001C' },
    },
    { text: '1:8:2611272309:x@example.org::yl8KsjIj1AYOzeOe:0007u', expect: { date: '2611272309', bits: 8 } },
    { text: '1:8:261127230912:x@example.org::RJAxwt/sd0YmxIAO:0D', expect: { date: '261127230912' } },
    { text: '1:8:26:x::r:c', expect: { date: '26', resource: 'x' } },
    { text: '1:8:2611:x::r:c', expect: { date: '2611' } },
    { text: '1:8:26112723:x::r:c', expect: { date: '26112723' } },
    { text: '1:08:261127:x::r:c', expect: { bits: 8 } },
    { text: '1:160:261127:x::r:c', expect: { bits: 160 } },
    { text: '1:20:261127:x:a=b;c=d:r:c', expect: { ext: 'a=b;c=d' } },
    { text: '1:20:261127:x:::c', expect: { rand: '', counter: 'c' } },
    { text: '1:20:261127::::c', expect: { resource: '' } },
    { text: '1:20:261127:Bob Smith <b@x>::r=:c/+', expect: { resource: 'Bob Smith <b@x>', rand: 'r=', counter: 'c/+' } },
    { text: '1:20:261127:bjørn@example.org::r:c', expect: { resource: 'bjørn@example.org' } },
    { text: '0:261127:x@example.org:abc8bf', expect: { version: 0, bits: 0, date: '261127', resource: 'x@example.org', rand: 'abc8bf', counter: '', ext: '' } },
    { text: '0:2611272309:x:r', expect: { version: 0, date: '2611272309' } },
  ];
  for (const { text, expect } of good) {
    it(`parses ${text}`, () => {
      const stamp = parseStamp(text);
      assert.equal(stamp.text, text);
      for (const [key, value] of Object.entries(expect)) assert.equal(stamp[key as keyof typeof stamp], value, key);
    });
  }

  const bad: [string, string][] = [
    ['', 'empty'],
    ['hello', 'not a stamp'],
    ['2:20:261127:x::r:c', 'unsupported version'],
    ['01:20:261127:x::r:c', 'version with a leading zero'],
    ['1:20:261127:x::r', 'six fields'],
    ['1:20:261127:x::r:c:extra', 'eight fields (":" in a field)'],
    ['1:20:261127:a:b::r:c', 'resource with a colon'],
    ['0:261127:x', 'v0 with three fields'],
    ['0:261127:x:r:c', 'v0 with five fields'],
    ['1::261127:x::r:c', 'empty bits'],
    ['1:8x:261127:x::r:c', 'bits with a letter'],
    ['1:-8:261127:x::r:c', 'negative bits'],
    ['1:1000:261127:x::r:c', 'four-digit bits'],
    ['1:20::x::r:c', 'empty date'],
    ['1:20:2:x::r:c', 'one-digit date'],
    ['1:20:2611272:x::r:c', 'odd date width'],
    ['1:20:26112723000000:x::r:c', 'date wider than 12'],
    ['1:20:2a1127:x::r:c', 'letter in date'],
    ['1:20:+61127:x::r:c', 'sign in date'],
    ['1:20:260027:x::r:c', 'month 00'],
    ['1:20:261127:x::a_b:c', 'URL-safe base64 "_" in rand'],
    ['1:20:261127:x::a-b:c', 'URL-safe base64 "-" in rand'],
    ['1:20:261127:x::r:c d', 'space in counter'],
    ['1:20:261127:x::r:', 'empty counter'],
    ['0:261127:x:', 'v0 with an empty rand'],
    ['1:20:261127:x::r:c\n', 'trailing newline'],
    [' 1:20:261127:x::r:c', 'leading space'],
    ['1:20:261127:x\ty::r:c', 'control character in resource'],
    ['1:20:261127:x:\u0000:r:c', 'NUL in extension'],
    ['0:261127:x:r_s', 'v0 rand outside the alphabet'],
    [`1:20:261127:${'a'.repeat(257)}::r:c`, 'resource longer than 256'],
    [`1:20:261127:x:${'e'.repeat(3000)}:r:c`, 'stamp longer than 2048'],
  ];
  for (const [text, why] of bad) {
    it(`refuses ${why}`, () => {
      assert.throws(
        () => parseStamp(text),
        (err: unknown) => err instanceof StampError && err.code === 'POW_STAMP_MALFORMED' && err.message.length > 0,
      );
    });
  }
});

describe('stamp dates', () => {
  const now = new Date('2026-11-27T23:09:14Z');
  const cases: [string, string][] = [
    ['26', '2026-01-01T00:00:00.000Z'],
    ['2611', '2026-11-01T00:00:00.000Z'],
    ['261127', '2026-11-27T00:00:00.000Z'],
    ['26112723', '2026-11-27T23:00:00.000Z'],
    ['2611272309', '2026-11-27T23:09:00.000Z'],
    ['261127230914', '2026-11-27T23:09:14.000Z'],
    // Out-of-range parts carry over as mktime() does in hashcash 1.22.
    ['261100', '2026-10-31T00:00:00.000Z'],
    ['261327', '2027-01-27T00:00:00.000Z'],
    ['261127250000', '2026-11-28T01:00:00.000Z'],
    ['261127236000', '2026-11-28T00:00:00.000Z'],
    ['261127239999', '2026-11-28T00:40:39.000Z'],
    // Two-digit years stay within 50 years of now.
    ['760101', '2076-01-01T00:00:00.000Z'],
    ['770101', '1977-01-01T00:00:00.000Z'],
    ['000101', '2000-01-01T00:00:00.000Z'],
    ['990101', '1999-01-01T00:00:00.000Z'],
  ];
  for (const [field, iso] of cases) {
    it(`reads ${field} as ${iso}`, () => assert.equal(parseStampDate(field, now).toISOString(), iso));
  }

  it('pivots two-digit years around the given now, not the wall clock', () => {
    assert.equal(expandTwoDigitYear(30, new Date('2079-06-01T00:00:00Z')), 2030);
    assert.equal(expandTwoDigitYear(30, new Date('2080-06-01T00:00:00Z')), 2030);
    assert.equal(expandTwoDigitYear(30, new Date('2081-06-01T00:00:00Z')), 2130);
    assert.equal(expandTwoDigitYear(99, new Date('2001-01-01T00:00:00Z')), 1999);
    assert.equal(expandTwoDigitYear(51, new Date('2001-01-01T00:00:00Z')), 2051);
    assert.equal(expandTwoDigitYear(52, new Date('2001-01-01T00:00:00Z')), 1952);
  });

  it('refuses a malformed date with POW_STAMP_MALFORMED', () => {
    for (const field of ['', '2', '2611272', '26112723000000', '26x127', '260000']) {
      assert.throws(() => parseStampDate(field, now), (err: unknown) => err instanceof StampError && err.code === 'POW_STAMP_MALFORMED', field);
    }
  });

  it('formats every width, rounding down in UTC', () => {
    const t = new Date('2026-03-04T05:06:07.890Z');
    assert.deepEqual(
      ([2, 4, 6, 8, 10, 12] as const).map((w) => formatStampDate(t, w)),
      ['26', '2603', '260304', '26030405', '2603040506', '260304050607'],
    );
    assert.equal(formatStampDate(t), '260304');
    for (const w of [2, 4, 6, 8, 10, 12] as const) {
      const back = parseStampDate(formatStampDate(t, w), t);
      assert.ok(back.getTime() <= t.getTime(), `width ${w} rounds down`);
    }
  });
});

describe('formatStamp', () => {
  it('round-trips through parseStamp', () => {
    const fields = { bits: 20, date: '261127', resource: 'alice@example.org', ext: '', rand: 'abc+/=', counter: 'Zz9' };
    const text = formatStamp(fields);
    assert.equal(text, '1:20:261127:alice@example.org::abc+/=:Zz9');
    assert.deepEqual(parseStamp(text), { version: 1, ...fields, text });
    assert.equal(formatStamp({ version: 0, bits: 0, date: '2611', resource: 'x', rand: 'ab', counter: '' }), '0:2611:x:ab');
  });

  it('refuses fields the grammar does not allow', () => {
    const base = { bits: 20, date: '261127', resource: 'x', rand: 'r', counter: 'c' };
    for (const change of [{ resource: 'a:b' }, { rand: 'a_b' }, { date: '2611279' }, { ext: 'a:b' }, { counter: 'c\n' }]) {
      assert.throws(() => formatStamp({ ...base, ...change }), (err: unknown) => err instanceof StampError && err.code === 'POW_STAMP_MALFORMED');
    }
  });
});

describe('stampFromHeaderValue', () => {
  it('removes the whitespace hashcash leaves where it folds a long stamp', () => {
    const folded = ' 1:20:261127:alice@exam\r\n\tple.org::UuQptTn32HkDjP+X:00000\r\n\t001C\r\n';
    assert.equal(stampFromHeaderValue(folded), '1:20:261127:alice@example.org::UuQptTn32HkDjP+X:00000001C');
  });
});
