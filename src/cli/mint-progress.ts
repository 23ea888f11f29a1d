// The line a terminal shows while a stamp is minted (`keypost stamp mint`, `keypost send`): hashes
// tried against the expected 2^bits, the rate, and the time the expected work still needs. Drawn on
// stderr only when it is a terminal, only once a mint has run for a second (most take less), and at
// most four times a second. Each redraw returns to the line start and clears to its end (ECMA-48
// EL, CSI K), so a shorter line leaves nothing of a longer one behind.
import { expectedHashes, formatCount, formatDuration } from './mint-estimate.js';

const CLEAR_TO_END = '\x1b[K';

export interface MintProgress {
  /** A mint for `label` has tried `hashes` so far. */
  progress(label: string, bits: number, hashes: number): void;
  /** Writes a line of its own, first clearing any progress line drawn. */
  note(line: string): void;
  /** The mint for `label` is done. */
  done(label: string, bits: number, seconds: number): void;
}

export function createMintProgress(stream: NodeJS.WritableStream & { isTTY?: boolean }): MintProgress {
  let current = '';
  let first = { at: 0, hashes: 0 };
  let lastDraw = 0;
  let drawn = false;
  const clear = () => {
    if (drawn) stream.write(`\r${CLEAR_TO_END}`);
    drawn = false;
  };
  return {
    progress(label, bits, hashes) {
      if (!stream.isTTY) return;
      const now = Date.now();
      if (label !== current) {
        current = label;
        first = { at: now, hashes };
        lastDraw = 0;
      }
      const seconds = (now - first.at) / 1000;
      // Workers report several times a second each; four redraws a second are enough to read.
      if (seconds < 1 || now - lastDraw < 250) return;
      lastDraw = now;
      const rate = (hashes - first.hashes) / seconds;
      const expected = expectedHashes(bits);
      // Past the expected count the search is no nearer its end: each hash is as likely as the first.
      const eta = hashes < expected && rate > 0 ? `ETA ~${formatDuration((expected - hashes) / rate)}` : 'past the expected work';
      stream.write(`\rminting ${bits} bits for ${label}: ${formatCount(hashes)} of ~${formatCount(expected)} hashes, ${formatCount(rate)}/s, ${eta}${CLEAR_TO_END}`);
      drawn = true;
    },
    note(line) {
      clear();
      stream.write(`${line}\n`);
    },
    done(label, bits, seconds) {
      if (drawn) stream.write(`\rminted ${bits} bits for ${label} in ${seconds.toFixed(1)} s${CLEAR_TO_END}\n`);
      drawn = false;
      current = '';
    },
  };
}
