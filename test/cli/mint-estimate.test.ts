// The durations and counts a mint's warning and progress line print.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEstimate, formatCount, formatDuration } from '../../src/cli/mint-estimate.js';

test('a duration is said in one unit, from twice its size on', () => {
  assert.equal(formatDuration(0.2), '1 s');
  assert.equal(formatDuration(45), '45 s');
  assert.equal(formatDuration(119), '119 s');
  assert.equal(formatDuration(600), '10 min');
  assert.equal(formatDuration(90 * 60), '90 min');
  assert.equal(formatDuration(5 * 3600), '5 h');
  assert.equal(formatDuration(9 * 86400), '9 days');
  assert.equal(formatDuration(100 * 86400), '3 months');
  assert.equal(formatDuration(3 * 365.25 * 86400), '3 years');
});

test('counts are short, up to tera', () => {
  assert.equal(formatCount(999), '999');
  assert.equal(formatCount(12_345), '12.3k');
  assert.equal(formatCount(2 ** 26), '67.1M');
  assert.equal(formatCount(2 ** 40), '1.1T');
});

test('--bits 40 at a slow machine\'s rate would take months', () => {
  const rate = 2e5;
  assert.equal(
    describeEstimate({ bits: 40, rate, seconds: 2 ** 40 / rate }, 'would'),
    'minting 40 bits would take about 2 months at 200.0k hashes/s on this machine',
  );
});
