// SMTP policy as verdicts: every check in the session returns accept, reject or tempfail with a
// stable code and the facts the reply needs. Only replies.ts turns a verdict into SMTP text; the
// status codes and permanence live in the one error table (src/protocol/errors.ts).
import { isPermanent } from '../protocol/errors.js';
import type { GatewayCode } from './errors.js';

export interface Denial {
  kind: 'reject' | 'tempfail';
  code: GatewayCode;
  /** The address the verdict is about (RCPT), quoted in the reply. */
  address?: string;
  /** Extra text for the reply, e.g. the reason a lookup failed. */
  detail?: string;
  /** One line per failing recipient (the stamp rule names each one). */
  lines?: string[];
}

export type Verdict = { kind: 'accept' } | Denial;

export const ACCEPT: Verdict = Object.freeze({ kind: 'accept' });

/** A denial whose kind (permanent or temporary) follows from the code's permanence. */
export function deny(code: GatewayCode, facts: Omit<Denial, 'kind' | 'code'> = {}): Denial {
  return { kind: isPermanent(code) ? 'reject' : 'tempfail', code, ...facts };
}

export function isAccept(verdict: Verdict): verdict is { kind: 'accept' } {
  return verdict.kind === 'accept';
}
