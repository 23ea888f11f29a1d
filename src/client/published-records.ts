// What DNS says about one address (DESIGN.md "What DNS publishes"), fetched in parallel:
//
//   _keypost.<zone>               TXT         v=kp1; api=<url>; ep=<uri>; pow=<bits>   zone policy
//   <h(local)>._keypost.<zone>    TXT         v=kp1; fpr=<hex>; ep=<uri>; pow=<bits>    ep/pow optional
//   <h(local)>._openpgpkey.<zone> OPENPGPKEY  the minimal key (RFC 7929)
//   <z(local)>._pka.<zone>        CERT        IPGP fingerprint (GnuPG 2.2 PKA)
import { dnsNamesFor, type AddressDnsNames } from '../directory/address-hashes.js';
import { TYPE } from '../dns/wire.js';
import { parseCert, txtText } from './dns-message.js';
import type { StubResolver } from './stub-resolver.js';

/** The fields of a `v=kp1` TXT record (unknown keys are kept; senders ignore them). */
export interface KeypostTxt {
  fields: Map<string, string>;
  text: string;
}

export interface PublishedRecords {
  names: AddressDnsNames & { zonePolicy: string };
  zonePolicy: KeypostTxt | undefined;
  address: KeypostTxt | undefined;
  /** Every OPENPGPKEY RDATA at the owner name, in answer order. */
  keys: Uint8Array[];
  /** Fingerprints of the IPGP CERT records at the PKA name (uppercase hex). */
  pkaFingerprints: string[];
}

/** `v=kp1; k=v; ...` → its fields; undefined for TXT records of other formats. */
export function parseKeypostTxt(text: string): KeypostTxt | undefined {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    // The first occurrence wins, so an appended duplicate cannot override a field.
    if (!fields.has(key)) fields.set(key, part.slice(eq + 1).trim());
  }
  return fields.get('v') === 'kp1' ? { fields, text } : undefined;
}

/** A `pow=` value: whole bits 0-160 (SHA-1 has 160); undefined when absent or unreadable. */
export function powOf(txt: KeypostTxt | undefined): number | undefined {
  const value = txt?.fields.get('pow');
  return value !== undefined && /^\d{1,3}$/.test(value) && Number(value) <= 160 ? Number(value) : undefined;
}

async function keypostTxt(resolver: StubResolver, name: string): Promise<KeypostTxt | undefined> {
  const response = await resolver.query(name, TYPE.TXT);
  for (const record of response.answers) {
    const text = txtText(record.data);
    const parsed = text === null ? undefined : parseKeypostTxt(text);
    if (parsed) return parsed;
  }
  return undefined;
}

/** Looks up every record of `local@domain` (canonical parts, as the directory publishes them). */
export async function fetchPublishedRecords(resolver: StubResolver, localPart: string, domain: string): Promise<PublishedRecords> {
  const names = { ...dnsNamesFor(localPart, domain), zonePolicy: `_keypost.${domain}` };
  const [zonePolicy, address, keys, pka] = await Promise.all([
    keypostTxt(resolver, names.zonePolicy),
    keypostTxt(resolver, names.keypost),
    resolver.query(names.openpgpkey, TYPE.OPENPGPKEY),
    resolver.query(names.pka, TYPE.CERT),
  ]);
  const pkaFingerprints: string[] = [];
  for (const record of pka.answers) {
    const cert = parseCert(record.data);
    if (cert?.fingerprint) pkaFingerprints.push(cert.fingerprint);
  }
  return {
    names,
    zonePolicy,
    address,
    keys: keys.answers.map((r) => new Uint8Array(r.data)),
    pkaFingerprints,
  };
}
