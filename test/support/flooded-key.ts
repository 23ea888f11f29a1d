// A certificate-flooded public key, as in the 2019 SKS attack (CVE-2019-13050): one user ID carrying
// thousands of third-party certifications, about 1 MB armoured. Generating it takes a while, so it
// is cached in the temp dir per size; tests and bench:upload-dns share it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as openpgp from 'openpgp';

export interface FloodedKey {
  /** Armoured public key with `certifications` third-party certifications on its user ID. */
  armored: string;
  fingerprint: string;
  address: string;
}

export async function floodedKey(address: string, certifications: number): Promise<FloodedKey> {
  const file = path.join(tmpdir(), `keypost-flooded-${address.replace(/\W/g, '_')}-${certifications}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as FloodedKey;

  const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email: address }], format: 'object' });
  const { privateKey: certifier } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ email: 'flooder@attacker.example' }], format: 'object' });
  const publicKey = privateKey.toPublic();
  // One real certification, then copies with a different creation time each, so every packet is
  // distinct (a parser cannot collapse duplicates) while generation stays fast.
  const signed = await publicKey.signAllUsers([certifier]);
  const template = signed.users[0].otherCertifications[0];
  const base = template.created!.getTime();
  for (let i = 1; i < certifications; i++) {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(template)), template) as typeof template;
    copy.created = new Date(base - i * 1000);
    signed.users[0].otherCertifications.push(copy);
  }
  const flooded: FloodedKey = { armored: signed.armor(), fingerprint: signed.getFingerprint().toUpperCase(), address };
  writeFileSync(file, JSON.stringify(flooded));
  return flooded;
}
