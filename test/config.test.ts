import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../src/config.js';
import { loadSecretKey } from '../src/secrets/key-file.js';

test('defaults match the documented configuration table', () => {
  const config = loadConfig({});
  assert.equal(config.database.url, undefined);
  assert.equal(config.database.dataDir, './data');
  assert.deepEqual(config.listen.dns, { host: '127.0.0.1', port: 5300 });
  assert.deepEqual(config.listen.http, { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(config.listen.smtp, { host: '127.0.0.1', port: 2525 });
  assert.equal(config.log.level, 'info');
  assert.deepEqual(config.http.trustedProxies, [], 'X-Forwarded-For is trusted from no one by default');
  // hashcash 1.22 defaults: 28 days validity, 2 days grace.
  assert.equal(config.pow.validitySeconds, 28 * 86400);
  assert.equal(config.pow.graceSeconds, 2 * 86400);
});

test('listen addresses accept IPv6 literals in brackets and port 0', () => {
  const config = loadConfig({ KEYPOST_DNS_LISTEN: '[::1]:0', KEYPOST_HTTP_LISTEN: '0.0.0.0:80' });
  assert.deepEqual(config.listen.dns, { host: '::1', port: 0 });
  assert.deepEqual(config.listen.http, { host: '0.0.0.0', port: 80 });
});

const invalid: [string, Record<string, string>, RegExp][] = [
  ['listen without port', { KEYPOST_HTTP_LISTEN: 'localhost' }, /KEYPOST_HTTP_LISTEN/],
  ['port out of range', { KEYPOST_SMTP_LISTEN: '127.0.0.1:70000' }, /KEYPOST_SMTP_LISTEN/],
  ['non-postgres database URL', { DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
  ['unknown log level', { KEYPOST_LOG_LEVEL: 'loud' }, /KEYPOST_LOG_LEVEL/],
  ['stamp price above 40 bits', { KEYPOST_POW_DEFAULT_BITS: '41' }, /KEYPOST_POW_DEFAULT_BITS/],
  ['trusted proxy that is a host name', { KEYPOST_TRUSTED_PROXIES: 'proxy.example' }, /KEYPOST_TRUSTED_PROXIES/],
  ['trusted proxy prefix too long', { KEYPOST_TRUSTED_PROXIES: '10.0.0.0/33' }, /KEYPOST_TRUSTED_PROXIES/],
];
for (const [name, env, message] of invalid) {
  test(`invalid configuration is a ConfigError naming the variable: ${name}`, () => {
    assert.throws(() => loadConfig(env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
  });
}

test('the configuration is frozen', () => {
  const config = loadConfig({});
  assert.throws(() => {
    (config.listen.http as { port: number }).port = 1;
  }, TypeError);
});

test('KEYPOST_SECRET_KEY_FILE: the data directory by default, made when missing; a path that is set must exist', () => {
  const byDefault = loadConfig({ KEYPOST_DATA_DIR: '/var/lib/keypost' });
  assert.deepEqual(byDefault.secrets, { keyFile: '/var/lib/keypost/secret.key', createIfMissing: true });
  const set = loadConfig({ KEYPOST_SECRET_KEY_FILE: '/etc/keypost/kek' });
  assert.deepEqual(set.secrets, { keyFile: '/etc/keypost/kek', createIfMissing: false });
  assert.throws(() => loadSecretKey({ keyFile: '/nonexistent/keypost-kek', createIfMissing: false }), (err: Error) => err instanceof ConfigError && /does not exist/.test(err.message));
});
