// DNSSEC test helpers: sign a test zone the way `keypost domain set --dnssec-algorithm` does, write
// a trust anchor for it from the DNSKEY the server answers, and ask the real validators.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../src/config.js';
import type { Db } from '../../../src/db/database.js';
import { openSecretBox } from '../../../src/secrets/sealed-box.js';
import { applyDnssecChange } from '../../../src/dns/dnssec/signing-change.js';
import type { DnssecAlgorithm } from '../../../src/dns/dnssec/algorithms.js';
import type { TestDatabase } from '../../support/database.js';
import { dig, tool } from './server.js';

/** Gives `zone` a signing key sealed with the test database's key file (as the CLI does). */
export async function signZone(db: TestDatabase, zone: string, algorithm: DnssecAlgorithm, env: Record<string, string> = {}): Promise<void> {
  const box = openSecretBox(loadConfig({ ...db.env, ...env }).secrets);
  await (db.db as Db).transaction().execute((tx) => applyDnssecChange(tx, box, zone, { enabled: true, algorithm }));
}

/** A BIND trust-anchors file (delv -a) holding the zone's DNSKEY as the server publishes it. */
export async function writeAnchors(server: { host: string; port: number }, zone: string, dir: string): Promise<{ file: string; dnskey: string }> {
  const lines = (await dig(server, '+short', zone, 'DNSKEY')).trim().split('\n');
  if (!lines[0]) throw new Error(`no DNSKEY at ${zone}`);
  const [flags, protocol, algorithm, ...key] = lines[0].split(/\s+/);
  const file = path.join(dir, `${zone}.anchors`);
  writeFileSync(file, `trust-anchors {\n  "${zone}." static-key ${flags} ${protocol} ${algorithm} "${key.join('')}";\n};\n`);
  return { file, dnskey: `${zone}. 3600 IN DNSKEY ${lines[0]}` };
}

/** delv's full output, validating from `zone` as the root of trust. */
export function delv(server: { host: string; port: number }, anchors: string, zone: string, ...args: string[]): Promise<string> {
  return tool('delv', ['-a', anchors, `+root=${zone}`, `@${server.host}`, '-p', String(server.port), '+nortrace', ...args], { allowFailure: true });
}

/**
 * A BIND trust-anchors file holding one DS (`<zone>. IN DS <tag> <alg> <type> <hex>`): what a
 * resolver that fetched that DS from the parent trusts. Written as `<dir>/<name>.anchors`.
 */
export function writeDsAnchor(dir: string, name: string, zone: string, ds: string): string {
  const [, , , tag, algorithm, digestType, ...digest] = ds.split(/\s+/);
  const file = path.join(dir, `${name}.anchors`);
  writeFileSync(file, `trust-anchors {\n  "${zone}." static-ds ${tag} ${algorithm} ${digestType} "${digest.join('')}";\n};\n`);
  return file;
}

/** delv's verdict: the comment line that says how the answer validated. */
export function delvVerdict(output: string): string {
  return output.split('\n').find((l) => /validated|validation|resolution failed/.test(l))?.trim() ?? output;
}
