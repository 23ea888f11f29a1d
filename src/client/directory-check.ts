// The second opinion: the directory API the zone policy names (`api=` in `_keypost.<zone>`) is
// asked for the same address (`GET <api>/v1/records/<address>`) and must name the same key. DNS
// and the API are served from one database, so a disagreement means one of the two answers did not
// come from the zone's owner (or a change has not reached a cache yet).
import { fail, pass, skip, type Check } from './checks.js';

export interface DirectoryRecord {
  fingerprint: string;
  endpoint: string | null;
  pow: number;
  status: string;
}

export interface DirectoryCheckInput {
  api: string | undefined;
  address: string;
  /** The fingerprint DNS published (the `fpr` field), uppercase hex. */
  fingerprint: string | undefined;
  endpoint: string | undefined;
  price: number | undefined;
  timeoutMs: number;
}

function isRecord(value: unknown): value is DirectoryRecord {
  const v = value as Record<string, unknown> | null;
  return !!v && typeof v.fingerprint === 'string' && typeof v.pow === 'number' && typeof v.status === 'string';
}

export async function checkDirectory(input: DirectoryCheckInput): Promise<Check> {
  if (!input.api) return skip('directory', 'the zone policy names no directory API (api=)');
  let base: URL;
  try {
    base = new URL(input.api);
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new Error('scheme');
  } catch {
    return fail('directory', `the zone policy's api=${input.api} is not an http(s) URL`);
  }
  const url = `${input.api.replace(/\/+$/, '')}/v1/records/${encodeURIComponent(input.address)}`;
  let response: Response;
  let body: unknown;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(input.timeoutMs), headers: { accept: 'application/json' } });
    body = await response.json().catch(() => undefined);
  } catch (err) {
    return fail('directory', `${url} could not be reached: ${(err as Error).message}`);
  }
  if (response.status === 404) return fail('directory', `${url} says nothing is published for ${input.address}`);
  if (!response.ok || !isRecord(body)) return fail('directory', `${url} answered HTTP ${response.status} without a record`);
  const record = body;
  if (!input.fingerprint || record.fingerprint.toUpperCase() !== input.fingerprint) {
    return fail('directory', `${url} names key ${record.fingerprint}, DNS names ${input.fingerprint ?? 'none'}`);
  }
  if (record.status !== 'published') return fail('directory', `${url} reports the key as ${record.status}`);
  // Endpoint and price may lag behind in a cache for up to a TTL; they are reported, not judged.
  const differences: string[] = [];
  if (input.endpoint !== undefined && record.endpoint !== input.endpoint) differences.push(`endpoint ${record.endpoint ?? 'none'}`);
  if (input.price !== undefined && record.pow !== input.price) differences.push(`price ${record.pow} bits`);
  const note = differences.length ? ` (it says ${differences.join(', ')})` : '';
  return pass('directory', `${url} names the same key${note}`);
}
