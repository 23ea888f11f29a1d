// The date field of a hashcash stamp: UTCTIME-like `YYMMDD[hhmm[ss]]`, always UTC.
//
// hashcash 1.22 accepts every even width from 2 (`YY`) to 12 (`YYMMDDhhmmss`); missing parts default
// to the start of the period (month 01, day 01, 00:00:00), so a `YYMMDD` stamp dates from midnight
// UTC. Each part is two ASCII digits. A month of `00` is rejected; every other out-of-range part is
// carried over the way C's mktime() normalises it (day 00 is the last day of the previous month,
// month 13 is January of the next year), and Date.UTC() carries in exactly the same way, so our
// verdicts match the reference tool's on such stamps too.
import { POW_CODES, StampError } from './errors.js';

/** Widths the parser accepts: YY, YYMM, YYMMDD, YYMMDDhh, YYMMDDhhmm, YYMMDDhhmmss. */
export const STAMP_DATE_WIDTHS = [2, 4, 6, 8, 10, 12] as const;
export type StampDateWidth = (typeof STAMP_DATE_WIDTHS)[number];

const DATE_FIELD = /^(?:\d\d){1,6}$/;

/** True when `field` has the shape hashcash 1.22 parses (digit pairs, 2-12 wide, month not 00). */
export function isStampDateField(field: string): boolean {
  return DATE_FIELD.test(field) && !(field.length >= 4 && field.slice(2, 4) === '00');
}

/**
 * The full year of a two-digit year: the one in the century of `now`, moved by a century when that
 * lands more than 50 years away from now (hashcash's rule, so `76` read in 2026 is 2076, and `75`
 * is 2075 while `77` is 1977).
 */
export function expandTwoDigitYear(yy: number, now: Date): number {
  const current = now.getUTCFullYear();
  let year = current - (current % 100) + yy;
  if (year - current > 50) year -= 100;
  else if (year - current < -50) year += 100;
  return year;
}

/** The instant a stamp date denotes (start of its period, UTC). Throws POW_STAMP_MALFORMED. */
export function parseStampDate(field: string, now: Date): Date {
  if (!isStampDateField(field)) {
    throw new StampError(POW_CODES.malformed, `stamp date "${field}" is not YYMMDD[hhmm[ss]]`);
  }
  const part = (i: number, fallback: number) => (field.length > i * 2 ? Number(field.slice(i * 2, i * 2 + 2)) : fallback);
  const year = expandTwoDigitYear(part(0, 0), now);
  const ms = Date.UTC(year, part(1, 1) - 1, part(2, 1), part(3, 0), part(4, 0), part(5, 0));
  return new Date(ms);
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * Formats `date` as a stamp date of the given width (default 6, `YYMMDD`). Truncating the longer
 * form rounds down to the start of the day, hour, minute, which is what hashcash does when minting.
 */
export function formatStampDate(date: Date, width: StampDateWidth = 6): string {
  if (!STAMP_DATE_WIDTHS.includes(width)) {
    throw new StampError(POW_CODES.mintInvalid, `stamp date width must be one of ${STAMP_DATE_WIDTHS.join(', ')}`);
  }
  const full =
    pad2(date.getUTCFullYear() % 100) +
    pad2(date.getUTCMonth() + 1) +
    pad2(date.getUTCDate()) +
    pad2(date.getUTCHours()) +
    pad2(date.getUTCMinutes()) +
    pad2(date.getUTCSeconds());
  return full.slice(0, width);
}
