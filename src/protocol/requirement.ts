// What protection a zone or an address asks of mail for it (`keypost domain set --require`, the
// owner API's `require`, the kp1 `req=` field), written once for every room: the directory stores
// it, DNS publishes it, the gateway enforces it at DATA and the sender's client reads it before
// sending.
//
//   none              any message (the default)
//   encrypted         a PGP/MIME multipart/encrypted body (RFC 3156 §4) or an inline PGP MESSAGE
//   signed            a signature that verifies against the key DNS publishes for its signer
//   encrypted,signed  both
//
// Which one applies to an address is the address's own, else its zone's, else none
// (src/protocol/precedence.ts); an address may say `none` to take plain mail in a zone that asks
// for protection (a postmaster, say).

export type Protection = 'encrypted' | 'signed';

/** The canonical text of a requirement: its protections in this order, comma-separated, or none. */
export type Requirement = 'none' | 'encrypted' | 'signed' | 'encrypted,signed';

export const REQUIREMENTS: readonly Requirement[] = ['none', 'encrypted', 'signed', 'encrypted,signed'];

const ORDER: readonly Protection[] = ['encrypted', 'signed'];

/** What applies where nothing is set. */
export const NO_REQUIREMENT: Requirement = 'none';

/**
 * Reads a requirement as written by a user or a record: `none`, or `encrypted` and `signed` in
 * either order, comma-separated, each at most once. Undefined for anything else.
 */
export function parseRequirement(text: string): Requirement | undefined {
  const parts = text.toLowerCase().split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === 'none') return 'none';
  if (parts.some((p) => !ORDER.includes(p as Protection)) || new Set(parts).size !== parts.length) return undefined;
  return ORDER.filter((p) => parts.includes(p)).join(',') as Requirement;
}

/** The protections a requirement asks for. */
export function protectionsOf(requirement: Requirement): Protection[] {
  return requirement === 'none' ? [] : (requirement.split(',') as Protection[]);
}

export function requires(requirement: Requirement, protection: Protection): boolean {
  return protectionsOf(requirement).includes(protection);
}

/** "encrypted and signed" */
export function describeRequirement(requirement: Requirement): string {
  return requirement === 'none' ? 'no protection' : protectionsOf(requirement).join(' and ');
}
