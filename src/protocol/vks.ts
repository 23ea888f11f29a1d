// The VKS key-fetch paths (keys.openpgp.org's API, https://keys.openpgp.org/about/api), written once
// for the route that serves them and for the records that point at them (PKA's CERT IPGP URL).

export const VKS_BY_FINGERPRINT_PATH = '/vks/v1/by-fingerprint/';

/** Where a directory at `baseUrl` serves the key with `fingerprint` (hex; VKS spells it uppercase). */
export function vksByFingerprintUrl(baseUrl: string, fingerprint: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${VKS_BY_FINGERPRINT_PATH}${fingerprint.toUpperCase()}`;
}
