// The one `_keypost` TXT codec. Before it, the gateway's parser took the last of two duplicate
// fields and the client's the first, and `pow` was 0-99 in one and 0-160 in the other, so the same
// record meant different things to different readers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KP1_MAX_POW_BITS, formatKp1, parseKp1 } from '../../src/protocol/kp1.js';
import { loadConfig } from '../../src/config.js';

const FPR = '0123456789ABCDEF0123456789ABCDEF01234567';

test('what formatKp1 writes, parseKp1 reads back field for field', () => {
  const cases = [
    { fpr: FPR },
    { fpr: FPR, ep: 'smtp://bob.onion:25', pow: 26 },
    { api: 'https://keys.example.test', ep: 'smtp://mx.example.test:25', pow: 22 },
    { pow: 0 },
    { pow: KP1_MAX_POW_BITS },
  ];
  for (const fields of cases) {
    const text = formatKp1(fields);
    const parsed = parseKp1(text);
    assert.equal(parsed.kind, 'kp1', text);
    if (parsed.kind !== 'kp1') continue;
    const { extra, ...rest } = parsed.record;
    assert.deepEqual(rest, fields, text);
    assert.equal(extra.size, 0);
  }
});

test('the field order and spacing are those the README shows', () => {
  assert.equal(formatKp1({ api: 'https://k.test', ep: 'smtp://mx.test:25', pow: 24 }), 'v=kp1; api=https://k.test; ep=smtp://mx.test:25; pow=24');
  assert.equal(formatKp1({ fpr: FPR, ep: 'smtp://big.onion:25', pow: 28 }), `v=kp1; fpr=${FPR}; ep=smtp://big.onion:25; pow=28`);
});

test('a duplicate field is an error, whichever value comes first', () => {
  for (const text of ['v=kp1; pow=20; pow=0', 'v=kp1; ep=smtp://a.test:25; ep=smtp://evil.test:25', `v=kp1; fpr=${FPR}; FPR=${FPR}`, 'v=kp1; x=1; x=1']) {
    const parsed = parseKp1(text);
    assert.equal(parsed.kind, 'invalid', text);
    if (parsed.kind === 'invalid') assert.match(parsed.reason, /duplicate/);
  }
  assert.equal(parseKp1('v=kp1; v=kp1').kind, 'invalid');
});

test(`pow is whole bits 0-${KP1_MAX_POW_BITS}, the range the configuration accepts`, () => {
  for (const pow of ['0', '20', String(KP1_MAX_POW_BITS)]) assert.equal(parseKp1(`v=kp1; pow=${pow}`).kind, 'kp1', pow);
  for (const pow of [String(KP1_MAX_POW_BITS + 1), '99', '160', '-1', '2.5', '', '020', ' 2 0', '0x10']) {
    assert.equal(parseKp1(`v=kp1; pow=${pow}`).kind, 'invalid', `pow=${pow}`);
  }
  // The configuration bound is the same constant.
  assert.doesNotThrow(() => loadConfig({ KEYPOST_POW_DEFAULT_BITS: String(KP1_MAX_POW_BITS) }));
  assert.throws(() => loadConfig({ KEYPOST_POW_DEFAULT_BITS: String(KP1_MAX_POW_BITS + 1) }));
  assert.throws(() => formatKp1({ pow: KP1_MAX_POW_BITS + 1 }), RangeError);
});

test('records that are not kp1 are "other", broken kp1 records are "invalid"', () => {
  for (const text of ['v=spf1 -all', 'pow=20; v=kp1', 'v=kp2; pow=20', 'hello', '']) assert.equal(parseKp1(text).kind, 'other', text);
  for (const text of ['v=kp1; pow', 'v=kp1;; pow=1', 'v=kp1; fpr=XYZ', 'v=kp1; ep=', 'v=kp1; ep=smtp://a b', 'v=kp1; api="x"', 'v=kp1; 1x=2']) {
    assert.equal(parseKp1(text).kind, 'invalid', text);
  }
});

test('spaces around fields, a trailing separator, case of names and unknown fields are read', () => {
  const parsed = parseKp1(`V=kp1 ;FPR = ${FPR.toLowerCase()};\tfuture=yes ;`);
  assert.equal(parsed.kind, 'kp1');
  if (parsed.kind !== 'kp1') return;
  assert.equal(parsed.record.fpr, FPR);
  assert.equal(parsed.record.extra.get('future'), 'yes');
});

test('formatKp1 refuses any value that would not read back', () => {
  for (const ep of ['smtp://a.test:25;pow=0', 'smtp://a.test:25 ', '"smtp://a.test:25"', "smtp://a'.test", 'smtp://a.test\n', 'smtp://a\u0085.test', '']) {
    assert.throws(() => formatKp1({ ep }), RangeError, JSON.stringify(ep));
  }
  assert.throws(() => formatKp1({ fpr: 'not hex' }), RangeError);
});

test('req is none, encrypted, signed or encrypted,signed, written and read in that canonical form', () => {
  for (const req of ['none', 'encrypted', 'signed', 'encrypted,signed'] as const) {
    const text = formatKp1({ api: 'https://k.test', pow: 20, req });
    assert.equal(text, `v=kp1; api=https://k.test; pow=20; req=${req}`);
    const parsed = parseKp1(text);
    assert.equal(parsed.kind, 'kp1', text);
    if (parsed.kind === 'kp1') assert.equal(parsed.record.req, req);
  }
  // Another order, case or an unknown protection would read differently to different readers.
  for (const req of ['signed,encrypted', 'Encrypted', 'encrypted,encrypted', 'none,signed', 'sealed', 'encrypted,']) {
    assert.equal(parseKp1(`v=kp1; req=${req}`).kind, 'invalid', `req=${req}`);
  }
  assert.throws(() => formatKp1({ req: 'sealed' as never }), RangeError);
});
