// Where mail this gateway sends on someone's behalf goes, decided once for every sender of it: an
// authenticated user's recipients (session-policy.ts) and the copies a mailing list queues for its
// members (src/lists/). Local addresses are delivered like inbound mail; remote keypost addresses
// get a stamp minted at their published price and go to their published endpoint; anything else
// is relayed onward (relay domain hop, smarthost or MX).
import { GATEWAY_CODES } from './errors.js';
import type { KeypostResolver } from './keypost-resolver.js';
import { canonicalHop, domainOf } from './next-hop.js';
import type { RecipientDirectory } from './recipients.js';
import { deny, type Denial } from './verdicts.js';
import { NO_REQUIREMENT, type Requirement } from '../protocol/requirement.js';

export interface PlannedRecipient {
  address: string;
  nextHop: string;
  /** Bits the sender's stamp must be worth; undefined when no stamp is asked (exempt, submission). */
  price?: number;
  /** Submission to a remote keypost address: the gateway mints a stamp of these bits. */
  mintBits?: number;
  /** What protection the message must carry for this recipient (its req=). */
  requirement: Requirement;
}

/** A recipient of a served zone, as inbound mail for it is routed. */
export async function planInbound(directory: RecipientDirectory, address: string): Promise<PlannedRecipient | Denial> {
  const result = await directory.resolve(address);
  if (!result.ok) return result.denial;
  return { address, nextHop: result.route.nextHop, price: result.route.price, requirement: result.route.requirement };
}

/** A recipient of mail this gateway submits; throws DnsTemporaryError when DNS cannot tell now. */
export async function planSubmission(directory: RecipientDirectory, resolver: KeypostResolver, address: string): Promise<PlannedRecipient | Denial> {
  const domain = domainOf(address);
  if (await directory.serves(domain)) return planInbound(directory, address);
  const found = await resolver.resolveRecipient(address);
  if (found.kind === 'unpublished') return deny(GATEWAY_CODES.recipientUnknown, { address });
  if (found.kind === 'keypost') {
    try {
      // The remote gateway enforces its req=; refusing here tells the user now, not by a bounce.
      return { address, nextHop: canonicalHop(found.endpoint), mintBits: found.pow, requirement: found.req };
    } catch {
      return deny(GATEWAY_CODES.dnsLookupFailed, { address, detail: `unusable ep "${found.endpoint}"` });
    }
  }
  return { address, nextHop: directory.outboundHop(address), requirement: NO_REQUIREMENT };
}
