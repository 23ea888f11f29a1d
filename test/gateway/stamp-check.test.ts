// Issue 15 item 10: many stamps for many recipients. Each recipient is checked against the stamps
// for its own address only (an index by resource), never against every stamp of the message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkStamps, maxStampFields, type StampPolicy } from '../../src/gateway/stamp-check.js';
import { verifyStamp, type VerifyOptions } from '../../src/pow/verify.js';
import { craftStamp } from '../pow/craft.js';

const now = new Date('2026-12-02T12:00:00Z');
const date = '261202';

function policy(caseSensitive = false): StampPolicy & { verify: (text: string, options: VerifyOptions) => ReturnType<typeof verifyStamp>; calls: number } {
  const counted = {
    validitySeconds: 28 * 86_400,
    graceSeconds: 2 * 86_400,
    caseSensitive,
    calls: 0,
    verify(text: string, options: VerifyOptions) {
      counted.calls++;
      return verifyStamp(text, options);
    },
  };
  return counted;
}

describe('stamp check: stamps indexed by resource', () => {
  test('100 recipients and the most stamps allowed cost one verification per stamp, not per pair', () => {
    const recipients = Array.from({ length: 100 }, (_, i) => `user${i}@example.org`);
    const own = recipients.map((r) => craftStamp({ bits: 4, date, resource: r }));
    // Stamps for addresses that are not recipients fill the message up to the cap.
    const foreign = Array.from({ length: maxStampFields(recipients.length) - own.length }, (_, i) =>
      craftStamp({ bits: 4, date, resource: `stranger${i}@example.org` }),
    );
    const p = policy();
    const outcomes = checkStamps([...foreign, ...own], recipients.map((address) => ({ address, price: 4 })), p, now, p.verify);
    assert.equal(outcomes.filter((o) => o.ok).length, 100);
    // Checked against every stamp, this message costs 100 × 216 = 21,600 verifications.
    assert.ok(p.calls <= own.length, `${p.calls} verifications for ${own.length} recipient stamps`);
  });

  test('a resource matches in ASCII case unless resources are case-sensitive', () => {
    const stamp = craftStamp({ bits: 4, date, resource: 'Alice@Example.ORG' });
    const demand = [{ address: 'alice@example.org', price: 4 }];
    const folded = policy(false);
    assert.equal(checkStamps([stamp], demand, folded, now, folded.verify)[0].ok, true);
    const exact = policy(true);
    const outcome = checkStamps([stamp], demand, exact, now, exact.verify)[0];
    assert.equal(outcome.ok, false);
    assert.match(!outcome.ok ? outcome.reason : '', /stamp is for "Alice@Example\.ORG", not "alice@example\.org"/);
  });

  test('a recipient without its own stamp is told the closest failure, as before', () => {
    const p = policy();
    const [missing, foreign, weak, junk] = checkStamps(
      ['not a stamp', craftStamp({ bits: 4, date, resource: 'bob@example.org' }), craftStamp({ bits: 2, date, resource: 'carol@example.org' })],
      [
        { address: 'nobody@example.org', price: 4 },
        { address: 'dave@example.org', price: 4 },
        { address: 'carol@example.org', price: 4 },
        { address: 'bob@example.org', price: 4 },
      ],
      p,
      now,
      p.verify,
    );
    assert.equal(missing.ok, false);
    assert.match(!missing.ok ? missing.reason : '', /stamp is for "bob@example\.org", not "nobody@example\.org"/);
    assert.equal(foreign.ok, false);
    assert.equal(weak.ok, false);
    assert.match(!weak.ok ? weak.reason : '', /4 bits required, it is worth 2 bits/);
    assert.equal(junk.ok, true);
    const onlyJunk = checkStamps(['not a stamp'], [{ address: 'bob@example.org', price: 4 }], p, now, p.verify)[0];
    assert.equal(!onlyJunk.ok && onlyJunk.code, 'POW_STAMP_MALFORMED');
  });

  test('the field cap is 2 × recipients + 16', () => {
    assert.equal(maxStampFields(1), 18);
    assert.equal(maxStampFields(100), 216);
  });
});
