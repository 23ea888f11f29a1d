// Resolvers reach a zone through the addresses of its NS names (RFC 1034 §4.2.1): glue that the
// parent serves for a name inside the zone, or the A/AAAA records of a name elsewhere. A name
// server with neither makes the delegation lame, and nothing in keypost's own answers shows it,
// so `domain add` and `domain set --ns` look for an address before the operator delegates.
import { lookup } from 'node:dns/promises';
import type { ZoneDnsSettings } from '../db/database.js';

type NameServer = ZoneDnsSettings['nameservers'][number];

/** Long enough for a resolver that answers, short enough not to hold up a command when none does. */
const LOOKUP_TIMEOUT_MS = 3000;

/** Whether the system resolver (hosts file, then DNS) finds an A or AAAA record for `name`. */
async function resolves(name: string): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), LOOKUP_TIMEOUT_MS);
    timer.unref();
  });
  try {
    return await Promise.race([lookup(name, { all: true }).then((found) => found.length > 0, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const hasGlue = (ns: NameServer) => (ns.ipv4?.length ?? 0) + (ns.ipv6?.length ?? 0) > 0;

/**
 * The names in `servers` that have no address anywhere: no glue of their own, none given for the
 * same name in another zone (`known`, e.g. every zone of this database), and no A or AAAA record.
 */
export async function nameServersWithoutAddress(servers: readonly NameServer[], known: readonly NameServer[]): Promise<string[]> {
  const glued = new Set(known.filter(hasGlue).map((ns) => ns.name));
  const candidates = servers.filter((ns) => !hasGlue(ns) && !glued.has(ns.name)).map((ns) => ns.name);
  const found = await Promise.all(candidates.map(resolves));
  return candidates.filter((_, i) => !found[i]);
}

/** The warning for one such name, saying how to give it an address. */
export function missingAddressWarning(name: string): string {
  return `keypost: warning: name server ${name} has no address: no glue and no A or AAAA record resolves; ` +
    `resolvers cannot reach the zone through it. Give glue with --ns ${name}=IP (for a name inside the zone) ` +
    `or publish its address where it lives`;
}
