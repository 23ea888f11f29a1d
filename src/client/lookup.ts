// Looking a recipient up by address, the sender's first step: fetch the address's records from DNS,
// then check them against each other and against the zone's directory API. The result carries
// every check's verdict; `verified` is true only when none failed and the key-related ones passed.
import { armor } from '../protocol/armor.js';
import { KeypostError } from '../errors.js';
import { CLIENT_CODES } from './errors.js';
import { parseAddress } from '../protocol/address.js';
import { addressSetting } from '../protocol/precedence.js';
import { NO_REQUIREMENT, type Requirement } from '../protocol/requirement.js';
import { fail, fingerprintOf, isVerified, judgeKey, pass, skip, type Check } from './checks.js';
import { checkDirectory } from './directory-check.js';
import { dnssecVerdict, type DnssecStatus } from './dnssec.js';
import { fetchPublishedRecords, kp1Of, type PublishedRecords } from './published-records.js';
import { checkTransparency, type TransparencyOptions, type TransparencyVerdict } from './transparency-check.js';
import { createStubResolver, type DnsServer, type StubResolver } from './stub-resolver.js';

export interface LookupOptions {
  /** Ask this DNS server instead of the system resolver. */
  dns?: DnsServer;
  /** Reuse a resolver across lookups (send looks up several recipients). */
  resolver?: StubResolver;
  /** The time keys are judged at (default now). */
  now?: Date;
  /** Per DNS attempt and for the directory API request. */
  timeoutMs?: number;
  /**
   * Ask the zone's directory API (`api=`) for a second opinion (default true). A server judging
   * someone else's mail turns it off: it then makes no HTTP request that a sender's zone names.
   */
  askDirectory?: boolean;
  /**
   * Add the `transparency` check (transparency-check.ts): the served key must be the address's
   * latest leaf in the zone's log. Off without this option, and when the directory is not asked
   * (it makes the same kind of request, to the same api=).
   */
  transparency?: TransparencyOptions;
}

export interface LookupResult {
  /** Canonical address (local part and domain lowercased). */
  address: string;
  /** "secure" when the resolver authenticated (AD) every DNS answer used, else "insecure". */
  dnssec: DnssecStatus;
  /** `<name> <TYPE>` of each answer the resolver did not authenticate. */
  unauthenticatedAnswers: string[];
  /** Anything published for the address itself (its `_keypost` TXT or an OPENPGPKEY record). */
  published: boolean;
  /** Why the address cannot be used at all, when nothing is published. */
  problem?: string;
  /** The domain publishes a keypost zone policy (`_keypost.<domain>` TXT). */
  keypostDomain: boolean;
  /** Primary key fingerprint, uppercase hex: the key's own, else the published `fpr`. */
  fingerprint: string | null;
  /** The OPENPGPKEY key, armoured, and its bytes. */
  key: string | null;
  keyBytes: Uint8Array | null;
  expires: Date | null;
  /** Where to deliver: the address's `ep`, else the zone's. */
  endpoint: string | null;
  /** Stamp price in bits: the address's `pow`, else the zone's. */
  price: number | null;
  /** What protection mail must carry: the address's `req`, else the zone's, else none. */
  requirement: Requirement;
  /** The directory API named by the zone policy. */
  api: string | null;
  dnsNames: PublishedRecords['names'];
  /** The zone's log's verdict on the served key; null when not checked. */
  transparency: TransparencyVerdict | null;
  checks: Check[];
  verified: boolean;
}

function fingerprintChecks(records: PublishedRecords, keyFingerprint: string | undefined, fpr: string | undefined): Check[] {
  const { names } = records;
  let fingerprint: Check;
  if (!records.keys.length) fingerprint = fail('fingerprint', `no OPENPGPKEY record at ${names.openpgpkey}`);
  else if (!keyFingerprint) fingerprint = fail('fingerprint', `the OPENPGPKEY record at ${names.openpgpkey} is not a readable key`);
  else if (!fpr) fingerprint = fail('fingerprint', `no fpr= in a v=kp1 TXT record at ${names.keypost}`);
  else if (keyFingerprint !== fpr) fingerprint = fail('fingerprint', `the OPENPGPKEY key is ${keyFingerprint}, the TXT record says fpr=${fpr}`);
  else fingerprint = pass('fingerprint', `the OPENPGPKEY key matches fpr= at ${names.keypost}`);

  let pka: Check;
  const expected = keyFingerprint ?? fpr;
  if (!records.pkaFingerprints.length) pka = skip('pka', `no CERT IPGP record at ${names.pka}`);
  else if (!expected) pka = skip('pka', 'no key fingerprint to compare with');
  else if (records.pkaFingerprints.includes(expected)) pka = pass('pka', `CERT IPGP at ${names.pka} names the same fingerprint`);
  else pka = fail('pka', `CERT IPGP at ${names.pka} names ${records.pkaFingerprints.join(', ')}, not ${expected}`);
  return [fingerprint, pka];
}

/** A zone without a log skips the check, unless the caller requires one. */
function transparencyCheck(verdict: TransparencyVerdict, required: boolean): Check {
  if (verdict.status === 'ok') return pass('transparency', verdict.detail);
  if (verdict.status === 'none') return required ? fail('transparency', `${verdict.detail}, and one is required`) : skip('transparency', verdict.detail);
  return fail('transparency', verdict.status === 'inconsistent' ? `inconsistent: ${verdict.detail}` : verdict.detail);
}

export async function lookupAddress(input: string, options: LookupOptions = {}): Promise<LookupResult> {
  let parsed;
  try {
    parsed = parseAddress(input);
  } catch {
    throw new KeypostError(CLIENT_CODES.addressInvalid, `not a mail address: "${input}"`);
  }
  const { address, localPart, domain } = parsed;
  const timeoutMs = options.timeoutMs ?? 3000;
  const resolver = options.resolver ?? createStubResolver({ servers: options.dns ? [options.dns] : undefined, timeoutMs });
  const now = options.now ?? new Date();
  const transparency = options.askDirectory === false ? undefined : options.transparency;
  const records = await fetchPublishedRecords(resolver, localPart, domain, { logHead: transparency !== undefined });

  // A malformed record counts as present (something is published) but none of its fields is used.
  const zone = kp1Of(records.zonePolicy);
  const own = kp1Of(records.address);
  // The address's own fields, else the zone's (src/protocol/precedence.ts); with neither, no price
  // is published and the sender's default applies when it sends (send.ts).
  const endpoint = addressSetting(own?.ep, zone?.ep, null);
  const price = addressSetting(own?.pow, zone?.pow, null);
  const requirement = addressSetting(own?.req, zone?.req, NO_REQUIREMENT);
  const api = zone?.api ?? null;
  const base = {
    address,
    ...dnssecVerdict(records.answers),
    keypostDomain: records.zonePolicy !== undefined,
    endpoint,
    price,
    requirement,
    api,
    dnsNames: records.names,
  };
  if (!records.address && !records.keys.length) {
    const problem = records.zonePolicy
      ? `${domain} is a keypost domain, but nothing is published for ${address}`
      : `nothing is published for ${address}: no TXT at ${records.names.zonePolicy} or ${records.names.keypost}, no OPENPGPKEY at ${records.names.openpgpkey}`;
    return { ...base, published: false, problem, fingerprint: null, key: null, keyBytes: null, expires: null, transparency: null, checks: [], verified: false };
  }

  const fpr = own?.fpr;
  // RFC 7929 allows several OPENPGPKEY records; the one the TXT record names is the one to judge.
  const fingerprints = await Promise.all(records.keys.map(fingerprintOf));
  const chosen = Math.max(0, fingerprints.findIndex((f) => f !== undefined && f === fpr));
  const keyBytes = records.keys[chosen] ?? null;
  const keyFingerprint = fingerprints[chosen];

  const checks = fingerprintChecks(records, keyFingerprint, fpr);
  for (const txt of [records.address, records.zonePolicy]) if (txt && 'malformed' in txt) checks.push(fail('record', txt.malformed));
  let expires: Date | null = null;
  if (keyBytes) {
    const judged = await judgeKey(keyBytes, address, now);
    checks.push(...judged.checks);
    expires = judged.expires;
  } else {
    checks.push(skip('user-id', 'no key to judge'), skip('key-valid', 'no key to judge'));
  }
  const fingerprint = keyFingerprint ?? fpr ?? null;
  checks.push(
    options.askDirectory === false
      ? skip('directory', 'the directory API was not asked')
      : await checkDirectory({
          api: api ?? undefined,
          address,
          fingerprint: fingerprint ?? undefined,
          endpoint: endpoint ?? undefined,
          price: price ?? undefined,
          timeoutMs,
        }),
  );
  let verdict: TransparencyVerdict | null = null;
  if (transparency) {
    verdict = await checkTransparency({
      ...transparency,
      address,
      localPart,
      zone: domain,
      headText: records.logHead,
      api,
      keyBytes,
      fingerprint: keyFingerprint ?? null,
      timeoutMs,
    });
    checks.push(transparencyCheck(verdict, transparency.require === true));
  }
  return {
    ...base,
    published: true,
    transparency: verdict,
    fingerprint,
    key: keyBytes ? armor(keyBytes) : null,
    keyBytes,
    expires,
    checks,
    verified: isVerified(checks),
  };
}
