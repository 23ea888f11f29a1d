// A DNSSEC-signed zone served by NSD, made with the reference tools rather than keypost's own code:
// ldns-keygen makes one combined signing key (ECDSA P-256/SHA-256, algorithm 13, SEP flag set),
// ldns-signzone signs the zone (NSEC, or NSEC3 with RFC 9276 parameters), NSD serves the result.
// The zone's DS record is the trust anchor a validating resolver needs (test/support/unbound.ts).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DnsDaemon } from './dns-daemon.js';
import { startNsd } from './nsd.js';

/** The tools these helpers run (for requireTool). */
export const SIGNED_ZONE_TOOLS = ['ldns-keygen', 'ldns-signzone', 'nsd'] as const;

export interface ZoneKey {
  /** ldns base name (K<zone>.+013+<tag>), without .key/.private. */
  base: string;
  /** The DS record (digest type 2), presentation form: a trust anchor for the zone. */
  ds: string;
  /** The DNSKEY record, presentation form. */
  dnskey: string;
}

export interface SignedZone {
  name: string;
  key: ZoneKey;
  /** The signed zone file NSD serves. */
  file: string;
  nsd: DnsDaemon;
  close(): Promise<void>;
}

export interface SignOptions {
  /** NSEC3 with 0 extra iterations and an empty salt (RFC 9276 §3.1) instead of NSEC. */
  nsec3?: boolean;
}

/** An algorithm 13 key for `zone`, made by ldns-keygen in `dir`. */
export function makeZoneKey(dir: string, zone: string): ZoneKey {
  const base = execFileSync('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', zone], { cwd: dir, encoding: 'utf8' }).trim();
  const read = (ext: string) => readFileSync(path.join(dir, `${base}.${ext}`), 'utf8').replace(/\s*;.*$/gm, '').trim();
  return { base: path.join(dir, base), ds: read('ds'), dnskey: read('key') };
}

/**
 * Writes `zone`'s file (SOA and NS added; `records` are zone-file lines, owners relative to the apex
 * or absolute) and signs it with `key`. Inception is back-dated an hour so that a resolver whose
 * clock is a little behind still accepts the signatures. Returns the signed file's path.
 */
export function signZone(dir: string, zone: string, records: string[], key: ZoneKey, options: SignOptions = {}): string {
  const file = path.join(dir, `${zone}.zone`);
  writeFileSync(
    file,
    [`$ORIGIN ${zone}.`, '$TTL 300', '@ IN SOA ns1 hostmaster 1 3600 600 86400 300', '@ IN NS ns1', 'ns1 IN A 127.0.0.1', ...records, ''].join('\n'),
  );
  const inception = Math.floor(Date.now() / 1000) - 3600;
  const signed = `${file}.signed`;
  const nsec3 = options.nsec3 ? ['-n', '-t', '0', '-s', ''] : [];
  execFileSync('ldns-signzone', ['-i', String(inception), ...nsec3, '-f', signed, file, key.base], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  return signed;
}

/** Makes a key for `zone`, signs `records` with it and serves the zone from NSD on a loopback port. */
export async function serveSignedZone(zone: string, records: string[], options: SignOptions = {}): Promise<SignedZone> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-signed-zone-'));
  try {
    const key = makeZoneKey(dir, zone);
    const file = signZone(dir, zone, records, key, options);
    const nsd = await startNsd(dir, [{ name: zone, file }]);
    return {
      name: zone,
      key,
      file,
      nsd,
      async close() {
        await nsd.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
