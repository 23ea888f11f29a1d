// What DNS says about one address (README "What DNS publishes"), fetched in parallel:
//
//   _keypost.<zone>               TXT         v=kp1; api=<url>; ep=<uri>; pow=<bits>   zone policy
//   <h(local)>._keypost.<zone>    TXT         v=kp1; fpr=<hex>; ep=<uri>; pow=<bits>    ep/pow optional
//   <h(local)>._openpgpkey.<zone> OPENPGPKEY  the minimal key (RFC 7929)
//   <z(local)>._pka.<zone>        CERT        IPGP fingerprint (GnuPG 2.2 PKA)
//   _keypost-log.<zone>           TXT         v=kpl1; n=; root=; t=; sig=; key=        log head, when asked
//
// The TXT grammar is src/protocol/kp1.ts, the one the DNS zone writes and the gateway reads.
import { dnsNamesFor, type AddressDnsNames } from '../protocol/address-hashes.js';
import { TYPE } from '../protocol/dns-wire.js';
import { parseKp1, type Kp1Record } from '../protocol/kp1.js';
import { STH_OWNER_LABEL } from '../transparency/sth.js';
import { parseCert, txtText, type DnsResponse } from './dns-message.js';
import type { AnswerSeen } from './dnssec.js';
import type { StubResolver } from './stub-resolver.js';

/** A `_keypost` TXT name's kp1 record, or why the kp1 record there is unreadable. */
export type KeypostTxt = { record: Kp1Record } | { malformed: string };

export interface PublishedRecords {
  names: AddressDnsNames & { zonePolicy: string };
  zonePolicy: KeypostTxt | undefined;
  address: KeypostTxt | undefined;
  /** Every OPENPGPKEY RDATA at the owner name, in answer order. */
  keys: Uint8Array[];
  /** Fingerprints of the IPGP CERT records at the PKA name (uppercase hex). */
  pkaFingerprints: string[];
  /** The `v=kpl1` log head text at `_keypost-log.<zone>`, when asked for and served. */
  logHead: string | undefined;
  /** Every question asked, with whether the resolver authenticated its answer (AD). */
  answers: AnswerSeen[];
}

/** The readable kp1 record of a lookup, if there is one. */
export function kp1Of(txt: KeypostTxt | undefined): Kp1Record | undefined {
  return txt && 'record' in txt ? txt.record : undefined;
}

function keypostTxt(name: string, response: DnsResponse): KeypostTxt | undefined {
  for (const answer of response.answers) {
    const text = txtText(answer.data);
    const parsed = text === null ? undefined : parseKp1(text);
    if (parsed?.kind === 'kp1') return { record: parsed.record };
    if (parsed?.kind === 'invalid') return { malformed: `the kp1 TXT record at ${name} is malformed: ${parsed.reason}` };
  }
  return undefined;
}

/**
 * Looks up every record of `local@domain` (canonical parts, as the directory publishes them), and
 * with `logHead` the zone's log head too, so that its answer counts in the DNSSEC status.
 */
export async function fetchPublishedRecords(resolver: StubResolver, localPart: string, domain: string, options: { logHead?: boolean } = {}): Promise<PublishedRecords> {
  const names = { ...dnsNamesFor(localPart, domain), zonePolicy: `_keypost.${domain}` };
  const questions: [string, keyof typeof TYPE][] = [
    [names.zonePolicy, 'TXT'],
    [names.keypost, 'TXT'],
    [names.openpgpkey, 'OPENPGPKEY'],
    [names.pka, 'CERT'],
  ];
  if (options.logHead) questions.push([`${STH_OWNER_LABEL}.${domain}`, 'TXT']);
  const responses = await Promise.all(questions.map(([name, type]) => resolver.query(name, TYPE[type])));
  const [zonePolicy, address, keys, pka, logHead] = responses;
  const pkaFingerprints: string[] = [];
  for (const record of pka.answers) {
    const cert = parseCert(record.data);
    if (cert?.fingerprint) pkaFingerprints.push(cert.fingerprint);
  }
  return {
    names,
    zonePolicy: keypostTxt(names.zonePolicy, zonePolicy),
    address: keypostTxt(names.keypost, address),
    keys: keys.answers.map((r) => new Uint8Array(r.data)),
    pkaFingerprints,
    logHead: logHead?.answers.map((a) => txtText(a.data)).find((t): t is string => t?.startsWith('v=kpl1') === true),
    answers: questions.map(([name, type], i) => ({ name, type, authenticated: responses[i].authenticated })),
  };
}
