// A worker's nap between polls (src/wake-signal.ts): new work must never wait a poll interval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WakeSignal } from '../src/wake-signal.js';

const HOUR = 3_600_000;

test('wake() ends the nap in progress', { timeout: 5_000 }, async () => {
  const naps = new WakeSignal();
  const nap = naps.nap(HOUR);
  naps.wake();
  await nap;
});

test('a wake while the loop is busy ends the next nap at once', { timeout: 5_000 }, async () => {
  const naps = new WakeSignal();
  naps.wake();
  await naps.nap(HOUR);
});

test('a wake after a nap that timed out is kept for the next nap', { timeout: 5_000 }, async () => {
  const naps = new WakeSignal();
  await naps.nap(1);
  naps.wake();
  await naps.nap(HOUR);
});

test('one wake ends one nap: the one after sleeps its interval', { timeout: 5_000 }, async () => {
  const naps = new WakeSignal();
  naps.wake();
  await naps.nap(HOUR);
  const started = performance.now();
  await naps.nap(50);
  assert.ok(performance.now() - started >= 45);
});
