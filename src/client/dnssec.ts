// The DNSSEC status of a lookup. The client does not validate signatures itself: like GnuPG it
// relies on the resolver it asks, which reports a validated answer with the AD bit (RFC 4035
// §3.2.3). So "secure" means only as much as that resolver and the path to it can be trusted
// (RFC 4035 §4.9.3, RFC 7929 §7): a validating resolver on the sender's own host or network.

/** "secure": the resolver set AD on every answer the lookup used; "insecure" otherwise. */
export type DnssecStatus = 'secure' | 'insecure';

/** One question a lookup asked and whether its answer came back authenticated. */
export interface AnswerSeen {
  name: string;
  /** Type mnemonic, e.g. "OPENPGPKEY". */
  type: string;
  authenticated: boolean;
}

export interface DnssecVerdict {
  dnssec: DnssecStatus;
  /** `<name> <TYPE>` of each answer without AD, in the order asked. */
  unauthenticatedAnswers: string[];
}

/**
 * Secure only when every answer was authenticated, the negative ones too: an unauthenticated
 * "no such record" could hide a published key or price as surely as a forged record replaces it.
 */
export function dnssecVerdict(answers: readonly AnswerSeen[]): DnssecVerdict {
  const unauthenticatedAnswers = answers.filter((a) => !a.authenticated).map((a) => `${a.name} ${a.type}`);
  return { dnssec: answers.length && !unauthenticatedAnswers.length ? 'secure' : 'insecure', unauthenticatedAnswers };
}

/** Why `--require-dnssec` refuses a lookup, naming the answers that lacked AD. */
export function insecureReason(address: string, verdict: DnssecVerdict): string {
  const which = verdict.unauthenticatedAnswers.length ? `: no AD on ${verdict.unauthenticatedAnswers.join(', ')}` : '';
  return `the DNS answers for ${address} are not DNSSEC-authenticated by the resolver${which}`;
}
