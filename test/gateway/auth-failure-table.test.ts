// AUTH failures are remembered per client address for the window; a spray of sources must not
// grow that table without end (issue 15 item 5, bound every cache). At most MAX_TRACKED_CLIENTS
// are kept and the one that failed longest ago goes first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthLimits, MAX_TRACKED_CLIENTS } from '../../src/gateway/auth-limits.js';

const ipv4 = (n: number) => `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

test('AUTH failure counts are kept for at most MAX_TRACKED_CLIENTS addresses, the oldest forgotten first', () => {
  const limits = new AuthLimits({ maxFailures: 3, maxFailuresPerIp: 1, windowMs: 3_600_000, concurrency: 1 }, () => 1_000_000);
  const admitted = (address: string) => {
    const admission = limits.admit(address, 0);
    if (admission.ok) admission.release();
    return admission.ok;
  };
  limits.recordFailure('192.0.2.1');
  limits.recordFailure('192.0.2.2');
  assert.equal(admitted('192.0.2.1'), false);
  for (let i = 0; i < MAX_TRACKED_CLIENTS - 2; i++) limits.recordFailure(ipv4(i));
  assert.equal(admitted('192.0.2.2'), false, 'still remembered at the bound');
  limits.recordFailure(ipv4(MAX_TRACKED_CLIENTS));
  assert.equal(admitted('192.0.2.1'), true, 'the oldest failure was forgotten');
  assert.equal(admitted('192.0.2.2'), false);
});
