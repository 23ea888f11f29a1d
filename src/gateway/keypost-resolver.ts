// DNS lookups the gateway makes itself: a remote recipient's keypost records (submission mode) and
// MX records for mail routed by domain. node:dns's Resolver talks to a configurable server
// (KEYPOST_DNS_RESOLVER), so tests and sites with their own resolver need no system setup.
//
//   <h(local)>._keypost.<domain>  TXT  v=kp1; fpr=...; ep=<uri>; pow=<bits>; req=...   (ep/pow/req optional)
//   _keypost.<domain>             TXT  v=kp1; api=...; ep=<uri>; pow=<bits>; req=...   (zone policy)
// h(local) = the first 28 octets of SHA-256 over the ASCII-lowercased local part, in hex.
// The TXT grammar is src/protocol/kp1.ts, the same the DNS zone writes and the client reads.
import { Resolver } from 'node:dns/promises';
import type { ListenAddress } from '../config.js';
import { openpgpkeyLabel } from '../protocol/address-hashes.js';
import { parseKp1, type Kp1Record } from '../protocol/kp1.js';
import { addressSetting } from '../protocol/precedence.js';
import { NO_REQUIREMENT, type Requirement } from '../protocol/requirement.js';
import { domainOf, localPartOf } from './next-hop.js';

export type KeypostLookup =
  /** A published keypost address: deliver to `endpoint` with a stamp of `pow` bits, with the protection `req` asks. */
  | { kind: 'keypost'; endpoint: string; pow: number; req: Requirement }
  /** A keypost domain that publishes no such address. */
  | { kind: 'unpublished' }
  /** Not a keypost domain: ordinary mail. */
  | { kind: 'none' };

export interface MxHost {
  exchange: string;
  priority: number;
}

export interface KeypostResolver {
  resolveRecipient(address: string): Promise<KeypostLookup>;
  /** MX hosts by preference; the domain itself when it has none (RFC 5321 section 5.1). */
  resolveMx(domain: string): Promise<MxHost[]>;
}

/** A lookup that failed for a reason other than "no such record": retry later. */
export class DnsTemporaryError extends Error {
  readonly code = 'GW_DNS_LOOKUP_FAILED';
}

const ABSENT = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

export interface ResolverOptions {
  server?: ListenAddress;
  timeoutMs?: number;
  defaultBits: number;
}

export function createKeypostResolver(options: ResolverOptions): KeypostResolver {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? 3000, tries: 2 });
  if (options.server) {
    const { host, port } = options.server;
    resolver.setServers([host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`]);
  }

  async function txt(name: string): Promise<Kp1Record | undefined> {
    let records: string[][];
    try {
      records = await resolver.resolveTxt(name);
    } catch (err) {
      if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw new DnsTemporaryError(`TXT ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    // A TXT record is split in strings of up to 255 octets (RFC 1035 section 3.3.14); join them.
    for (const chunks of records) {
      const parsed = parseKp1(chunks.join(''));
      if (parsed.kind === 'kp1') return parsed.record;
      // A broken record is the remote's to fix; until then nothing of it is trusted (451, retry).
      if (parsed.kind === 'invalid') throw new DnsTemporaryError(`TXT ${name}: malformed kp1 record: ${parsed.reason}`);
    }
    return undefined;
  }

  return {
    async resolveRecipient(address) {
      const domain = domainOf(address);
      const [own, zone] = await Promise.all([txt(`${openpgpkeyLabel(localPartOf(address))}._keypost.${domain}`), txt(`_keypost.${domain}`)]);
      if (!own) return zone ? { kind: 'unpublished' } : { kind: 'none' };
      // A remote zone's records combine as our own settings do (src/protocol/precedence.ts).
      const endpoint = addressSetting(own.ep, zone?.ep, null);
      if (!endpoint) return { kind: 'none' };
      return {
        kind: 'keypost',
        endpoint,
        pow: addressSetting(own.pow, zone?.pow, options.defaultBits),
        req: addressSetting(own.req, zone?.req, NO_REQUIREMENT),
      };
    },
    async resolveMx(domain) {
      try {
        const hosts = await resolver.resolveMx(domain);
        return hosts.sort((a, b) => a.priority - b.priority);
      } catch (err) {
        if (ABSENT.has((err as NodeJS.ErrnoException).code ?? '')) return [{ exchange: domain, priority: 0 }];
        throw new DnsTemporaryError(`MX ${domain}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    },
  };
}
