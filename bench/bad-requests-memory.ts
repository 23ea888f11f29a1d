// Memory under bad input: rounds of assorted bad HTTP requests against a running `keypost serve
// --only api`, the child's resident set (VmRSS in /proc/<pid>/status) read after each round, with
// no forced garbage collection. Every bad request is answered and forgotten, so after the first
// rounds have warmed the heap and the code, the resident set must level off: growth from the end
// of round 2 to the end of the last round is at most 10% (issue 15 item 5).
//
//   npm run bench:bad-requests [-- --rounds 5 --requests 3500 --concurrency 16]
//
// Inputs are random where a cache could be keyed by them (addresses, domains, tokens, hashes), so
// an unbounded cache shows as steady growth. Uses the embedded database in a scratch data
// directory, or PostgreSQL when DATABASE_URL is set. Exits 1 when the growth is over the bound.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startServe } from '../test/support/keypost-process.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    requests: { type: 'string', default: '3500' },
    concurrency: { type: 'string', default: '16' },
  },
});
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const MAX_GROWTH = 0.1;

interface BadRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

const hex = (n: number) => randomBytes(n).toString('hex');
const word = () => randomBytes(6).toString('base64url');
const json = { 'content-type': 'application/json' };
// Past the 1 MiB upload limit (VKS: uploads ≤ 1 MiB).
const OVERSIZED = Buffer.alloc(1024 * 1024 + 4096, 0x41);

/** One of each kind of bad request, chosen by `i`; oversized bodies are one in 35. */
export function badRequest(i: number): BadRequest {
  if (i % 35 === 0) return { method: 'POST', path: '/vks/v1/upload', headers: json, body: OVERSIZED };
  const kinds: (() => BadRequest)[] = [
    // bad JSON
    () => ({ method: 'POST', path: '/vks/v1/upload', headers: json, body: `{"keytext": "${word()}` }),
    () => ({ method: 'POST', path: '/vks/v1/request-verify', headers: json, body: `[${word()}` }),
    () => ({ method: 'PATCH', path: `/v1/domains/${word()}.test`, headers: { ...json, authorization: `Bearer ${hex(16)}` }, body: '{"pow": }' }),
    // bad parameters
    () => ({ method: 'GET', path: `/v1/domains/${word()}.test?after=%00${word()}&limit=-${i}` }),
    () => ({ method: 'GET', path: `/vks/v1/by-fingerprint/${word()}` }),
    () => ({ method: 'GET', path: `/vks/v1/by-keyid/${hex(3)}zz` }),
    // unknown routes
    () => ({ method: 'GET', path: `/${word()}/${word()}?${word()}=${word()}` }),
    () => ({ method: 'DELETE', path: `/v1/${word()}` }),
    // bad tokens
    () => ({ method: 'GET', path: `/v/${hex(20)}` }),
    () => ({ method: 'POST', path: `/v/${word()}`, headers: json, body: '{}' }),
    () => ({ method: 'PUT', path: `/v1/domains/${word()}.test/addresses/a@${word()}.test`, headers: { ...json, authorization: `Bearer ${hex(24)}` }, body: '{"keytext":"x"}' }),
    // bad addresses
    () => ({ method: 'GET', path: `/v1/records/${encodeURIComponent(`${word()}@${word()}.test/junk`)}` }),
    () => ({ method: 'GET', path: `/vks/v1/by-email/${encodeURIComponent(`${word()}\u200b@${word()}.example`)}` }),
    () => ({ method: 'GET', path: `/v1/records/${word()}@${word()}.${word()}` }),
    () => ({ method: 'POST', path: '/v1/delete-request', headers: json, body: JSON.stringify({ address: `<${word()}@@${word()}>` }) }),
    // HKP garbage
    () => ({ method: 'GET', path: `/pks/lookup?op=${word()}&search=${word()}` }),
    () => ({ method: 'GET', path: `/pks/lookup?op=get&options=mr&search=0x${hex(7)}` }),
    () => ({ method: 'GET', path: `/pks/lookup?op=index&search=${encodeURIComponent(`${word()}@${word()}.test`)}` }),
    () => ({ method: 'POST', path: '/pks/add', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `keytext=${word()}` }),
    // WKD garbage
    () => ({ method: 'GET', path: `/.well-known/openpgpkey/${word()}.test/hu/${word()}?l=${word()}` }),
    () => ({ method: 'GET', path: `/.well-known/openpgpkey/hu/${hex(16)}`, headers: { host: `openpgpkey.${word()}.test` } }),
    () => ({ method: 'GET', path: `/.well-known/openpgpkey/${word()}.test/policy` }),
  ];
  return kinds[i % kinds.length]();
}

function send(agent: http.Agent, port: number, req: BadRequest): Promise<number> {
  return new Promise((resolve) => {
    const r = http.request({ host: '127.0.0.1', port, agent, method: req.method, path: req.path, headers: req.headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    // An oversized body may be cut off by the server's 413; that is an answer too.
    r.on('error', () => resolve(0));
    r.end(req.body);
  });
}

function rssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
  if (!line) throw new Error(`no VmRSS for ${pid}`);
  return Number(line[1]);
}

export interface MemoryRun {
  rss: number[];
  statuses: Map<number, number>;
  growth: number;
}

/** Runs the rounds against a fresh `keypost serve --only api`; RSS in KiB after each round. */
export async function runBadRequestRounds(options: { rounds: number; requests: number; concurrency: number; env?: Record<string, string> }): Promise<MemoryRun> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'kp-badreq-'));
  const keypost = await startServe(['--only', 'api'], { KEYPOST_DATA_DIR: dataDir, KEYPOST_LOG_LEVEL: 'info', ...options.env }, 120_000);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  try {
    const port = Number(keypost.addresses.api.split(':').pop());
    const pid = keypost.child.pid!;
    const rss: number[] = [];
    const statuses = new Map<number, number>();
    for (let round = 0; round < options.rounds; round++) {
      let next = 0;
      const worker = async () => {
        while (next < options.requests) {
          const status = await send(agent, port, badRequest(next++));
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: options.concurrency }, worker));
      if (keypost.child.exitCode !== null) throw new Error(`keypost exited during round ${round + 1}:\n${keypost.log()}`);
      rss.push(rssKiB(pid));
    }
    const growth = rss.length > 2 ? (rss[rss.length - 1] - rss[1]) / rss[1] : 0;
    return { rss, statuses, growth };
  } finally {
    agent.destroy();
    await keypost.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const run = await runBadRequestRounds({ rounds: ROUNDS, requests: REQUESTS, concurrency: CONCURRENCY });
  run.rss.forEach((kib, i) => process.stdout.write(`round ${i + 1}: VmRSS ${(kib / 1024).toFixed(1)} MiB\n`));
  process.stdout.write(`statuses: ${[...run.statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}\n`);
  process.stdout.write(`growth after round 2: ${(run.growth * 100).toFixed(1)}% (bound ${MAX_GROWTH * 100}%)\n`);
  process.exitCode = run.growth <= MAX_GROWTH ? 0 : 1;
}
