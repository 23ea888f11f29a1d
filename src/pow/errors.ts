// Stable codes of the stamp engine. Callers (gateway, CLI, HTTP) match on these, never on messages;
// each protocol edge answers them from the one table (src/protocol/errors.ts).
import { KeypostError } from '../errors.js';

export const POW_CODES = {
  /** The text is not a hashcash v0/v1 stamp (grammar, alphabet, date). */
  malformed: 'POW_STAMP_MALFORMED',
  /** The stamp was minted for another resource. */
  resourceMismatch: 'POW_RESOURCE_MISMATCH',
  /** The stamp is worth fewer bits than required. */
  insufficientBits: 'POW_INSUFFICIENT_BITS',
  /** The stamp's date is older than the validity window plus grace. */
  expired: 'POW_STAMP_EXPIRED',
  /** The stamp's date is later than now plus grace. */
  future: 'POW_STAMP_FUTURE',
  /** The stamp was already spent (double-spend database). */
  spent: 'POW_STAMP_SPENT',
  /** Minting was asked for something it cannot produce (bits out of range, bad resource). */
  mintInvalid: 'POW_MINT_INVALID',
  /** Minting was stopped by the caller's AbortSignal. */
  mintAborted: 'POW_MINT_ABORTED',
  /** The minter produced a stamp that a full SHA-1 check refuses. */
  mintFailed: 'POW_MINT_FAILED',
} as const;

export type PowCode = (typeof POW_CODES)[keyof typeof POW_CODES];

/** The codes a verification can fail with. */
export type VerifyFailureCode =
  | typeof POW_CODES.malformed
  | typeof POW_CODES.resourceMismatch
  | typeof POW_CODES.insufficientBits
  | typeof POW_CODES.expired
  | typeof POW_CODES.future
  | typeof POW_CODES.spent;

/** A typed error of the stamp engine; `code` is one of POW_CODES. */
export class StampError extends KeypostError {
  constructor(
    override readonly code: PowCode,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
    this.name = 'StampError';
  }
}
