// Configuration mistakes are reported before anything listens: exit 2, one line per problem, each
// naming its variable in our words (README "Configuration").
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openTestDatabase } from '../support/database.js';
import { runKeypost, startServe } from '../support/keypost-process.js';

const database = await openTestDatabase({ migrate: false });
const scratch = mkdtempSync(path.join(tmpdir(), 'kp-conf-'));
const aFile = path.join(scratch, 'a-file');
writeFileSync(aFile, 'not a directory\n');
after(async () => {
  await database.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Every listener on port 0 and the info level, so a listener that did bind would log it. */
const serveEnv = {
  ...database.env,
  KEYPOST_DNS_LISTEN: '127.0.0.1:0',
  KEYPOST_HTTP_LISTEN: '127.0.0.1:0',
  KEYPOST_SMTP_LISTEN: '127.0.0.1:0',
  KEYPOST_LOG_LEVEL: 'info',
};

// [variable, bad value, what the line must say]
const BAD: [string, string, RegExp][] = [
  ['KEYPOST_RELAY_DOMAINS', 'not a domain', /not a relay domain/],
  ['KEYPOST_RELAY_DOMAINS', 'example.net=ftp://x', /not a next hop/],
  ['KEYPOST_RELAY_SMARTHOST', 'nonsense', /not a mail host/],
  ['KEYPOST_MAIL_SUBMISSION_URL', 'http://x', /expected a URL like smtp:/],
  ['KEYPOST_PUBLIC_URL', 'keys.example.org', /expected a URL like https:/],
  ['KEYPOST_SMTP_HOSTNAME', 'bad host name', /not a host name/],
  ['KEYPOST_MAIL_FROM', 'notanaddress', /not a mail address/],
  ['KEYPOST_SMTP_EXEMPT_NETWORKS', '10.0.0.0/33', /not an IP address or range/],
  ['KEYPOST_SMTP_AUTH_USERS', path.join(scratch, 'missing-users'), /no such file/],
  ['KEYPOST_DATA_DIR', aFile, /not a directory/],
  ['KEYPOST_DATA_DIR', path.join(scratch, 'x'.repeat(120)), /path too long/],
  ['KEYPOST_DNS_LISTEN', '127.0.0.1:99999', /port out of range/],
  ['KEYPOST_HTTP_LISTEN', 'nowhere', /expected host:port/],
  ['KEYPOST_SUBMISSION_MAX_BITS', '41', /must be a whole number from 0 to 40, got "41"/],
  ['KEYPOST_LOG_LEVEL', 'loud', /must be one of fatal, error/],
  ['KEYPOST_RELAY_ENABLED', 'yes', /must be one of true, false/],
];

for (const [variable, value, says] of BAD) {
  test(`serve with ${variable}=${value.length > 40 ? `${value.slice(0, 40)}...` : value} exits 2 naming the variable before anything listens`, async () => {
    const env: Record<string, string> = { ...serveEnv, [variable]: value };
    // The data directory matters only on the embedded database (an empty value means unset).
    if (variable === 'KEYPOST_DATA_DIR') env.DATABASE_URL = '';
    const result = await runKeypost(['serve'], env);
    assert.equal(result.code, 2, result.stderr);
    // One line per problem ('not a domain' is three entries of a list, so three lines).
    const lines = result.stderr.trim().split('\n');
    for (const line of lines) assert.ok(line.startsWith(`keypost: ${variable}: `), line);
    assert.match(lines[0], says);
    assert.doesNotMatch(result.stdout + result.stderr, /listening on/);
  });
}

test('a missing TLS file names its variable', async () => {
  const result = await runKeypost(['serve'], {
    ...serveEnv,
    KEYPOST_SMTP_TLS_CERT: path.join(scratch, 'cert.pem'),
    KEYPOST_SMTP_TLS_KEY: path.join(scratch, 'key.pem'),
  });
  assert.equal(result.code, 2);
  assert.deepEqual(result.stderr.trim().split('\n'), [
    `keypost: KEYPOST_SMTP_TLS_CERT: no such file: ${path.join(scratch, 'cert.pem')}`,
    `keypost: KEYPOST_SMTP_TLS_KEY: no such file: ${path.join(scratch, 'key.pem')}`,
  ]);
});

test('every problem is reported at once, one line each', async () => {
  const env = Object.fromEntries(BAD.filter(([v]) => v !== 'KEYPOST_DATA_DIR').map(([v, value]) => [v, value]));
  // Two entries share a variable; the last one wins in the object, so count distinct variables.
  const result = await runKeypost(['serve'], { ...serveEnv, ...env });
  assert.equal(result.code, 2);
  const named = new Set(result.stderr.trim().split('\n').map((line) => /^keypost: (\w+): /.exec(line)?.[1]));
  assert.deepEqual([...named].sort(), Object.keys(env).sort());
});

test('a port in use names the variable', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const { port } = holder.address() as { port: number };
  try {
    const result = await runKeypost(['serve', '--only', 'gateway'], { ...serveEnv, KEYPOST_SMTP_LISTEN: `127.0.0.1:${port}` });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`^keypost: KEYPOST_SMTP_LISTEN: 127\\.0\\.0\\.1:${port} is already in use$`, 'm'));
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  } finally {
    holder.close();
  }
});

test('a port held by another keypost says so', async () => {
  const first = await startServe(['--only', 'api'], database.env);
  try {
    const result = await runKeypost(['serve', '--only', 'api'], { ...serveEnv, KEYPOST_HTTP_LISTEN: first.addresses.api });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^keypost: KEYPOST_HTTP_LISTEN: \S+ is already in use; another keypost .* likely holds it$/m);
  } finally {
    assert.equal(await first.stop(), 0);
  }
});
