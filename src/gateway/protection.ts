// The protection rule at DATA: a recipient whose zone or address requires encrypted or signed mail
// (src/protocol/requirement.ts, published as req=) gets only messages that carry it.
//   - encrypted: the content is an OpenPGP message (src/mime/encrypted-content.ts);
//   - signed: a signature of the message itself (not of a forwarded one inside it) verifies
//     against the key DNS publishes for its signer, judged by `keypost verify`'s verifier
//     (src/client/verify.ts, the one verifier, handed in by src/main.ts). A signer with nothing
//     published fails.
// The message is judged once, whatever the number of recipients; each recipient's requirement is
// then held against that judgement. A signer that could not be looked up at all (no DNS answer)
// is a temporary failure: the sender's MTA tries again later.
import { isEncryptedContent } from '../mime/encrypted-content.js';
import { parseEntity } from '../mime/entity.js';
import { describeRequirement, requires, type Requirement } from '../protocol/requirement.js';

/** What the message carries, found once per message and only as far as some recipient asks. */
interface Judgement {
  encrypted?: boolean;
  signed?: { ok: true } | { ok: false; temporary: boolean; why: string };
}

export type ProtectionOutcome =
  | { address: string; ok: true }
  | { address: string; ok: false; requirement: Requirement; temporary: boolean; reason: string };

export interface ProtectionDemand {
  address: string;
  requirement: Requirement;
}

/**
 * What the gateway reads of a signature verdict: the shape of src/client/verify.ts's report, which
 * the composition root (src/main.ts) hands in, so that this room loads nothing of the client.
 */
export interface SignatureReport {
  signatures: {
    /** Inside a forwarded message: it vouches for that message, not this one. */
    forwarded: boolean;
    status: string;
    detail: string;
    /** The signer could not be looked up at all: asking later may tell. */
    lookupFailed?: boolean;
  }[];
}

/** Finds and checks the message's signatures (`keypost verify`'s verifier with the gateway's resolver). */
export type SignatureVerifier = (raw: Buffer) => Promise<SignatureReport>;

function signedVerdict(report: SignatureReport): NonNullable<Judgement['signed']> {
  // Signatures inside a forwarded message vouch for the forwarded message, not for this one.
  const own = report.signatures.filter((s) => !s.forwarded);
  if (own.some((s) => s.status === 'good')) return { ok: true };
  if (own.length === 0) return { ok: false, temporary: false, why: 'the message carries no signature' };
  const temporary = own.some((s) => s.lookupFailed);
  return { ok: false, temporary, why: own.map((s) => `${s.status}: ${s.detail}`).join('; ') };
}

/** Longest reason quoted in a reply line: RFC 5321 §4.5.3.1.5 allows 512 octets per line. */
const MAX_REASON = 300;

/** The reply line for a recipient whose requirement the message does not meet. */
export function protectionRequiredLine(outcome: Extract<ProtectionOutcome, { ok: false }>): string {
  // The reason may quote what DNS or a signature said: one printable ASCII line, bounded.
  const reason = outcome.reason.replace(/[^\x20-\x7e]+/g, ' ');
  const clipped = reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 3)}...` : reason;
  return `<${outcome.address}> accepts only ${describeRequirement(outcome.requirement)} mail (req=${outcome.requirement}): ${clipped}`;
}

export async function checkProtection(raw: Buffer, demands: readonly ProtectionDemand[], verify: SignatureVerifier): Promise<ProtectionOutcome[]> {
  const judgement: Judgement = {};
  const root = demands.some((d) => d.requirement !== 'none') ? parseEntity(raw) : undefined;
  const outcomes: ProtectionOutcome[] = [];
  for (const { address, requirement } of demands) {
    const refuse = (reason: string, temporary = false): ProtectionOutcome => ({ address, ok: false, requirement, temporary, reason });
    if (requires(requirement, 'encrypted')) {
      judgement.encrypted ??= await isEncryptedContent(root!);
      if (!judgement.encrypted) {
        outcomes.push(refuse('the message is not encrypted (PGP/MIME multipart/encrypted, RFC 3156, or an inline PGP MESSAGE)'));
        continue;
      }
    }
    if (requires(requirement, 'signed')) {
      judgement.signed ??= signedVerdict(await verify(raw));
      const signed = judgement.signed;
      if (!signed.ok) {
        outcomes.push(refuse(signed.temporary ? `the signer could not be looked up, try again later (${signed.why})` : `no signature verifies against a key published in DNS (${signed.why})`, signed.temporary));
        continue;
      }
    }
    outcomes.push({ address, ok: true });
  }
  return outcomes;
}
