// keypost domain add warns when a name server of the zone has no address anywhere: no glue given
// with --ns NAME=IP, none in another zone of this database, and no A or AAAA the resolver finds.
// Resolvers could never reach such a zone. The zone is still added (exit 0).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { openTestDatabase } from '../support/database.js';
import { runKeypost } from '../support/keypost-process.js';

const database = await openTestDatabase();
after(() => database.close());

const warning = (name: string) => new RegExp(`^keypost: warning: name server ${name.replace(/\./g, '\\.')} has no address`, 'm');

test('without --ns the default ns1.<zone> has no address: warned, and the zone is still added', async () => {
  const result = await runKeypost(['domain', 'add', 'nsless.test'], database.env);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^added nsless\.test/m);
  assert.match(result.stderr, warning('ns1.nsless.test'));
  assert.match(result.stderr, /--ns ns1\.nsless\.test=IP/, 'says how to give glue');
});

test('a name server with glue, or one the resolver finds, is not warned about', async () => {
  const glued = await runKeypost(['domain', 'add', 'glued.test', '--ns', 'ns1.glued.test=192.0.2.1'], database.env);
  assert.equal(glued.code, 0, glued.stderr);
  assert.equal(glued.stderr, '');
  // localhost has an address in /etc/hosts on every machine.
  const resolved = await runKeypost(['domain', 'add', 'resolved.test', '--ns', 'localhost'], database.env);
  assert.equal(resolved.code, 0, resolved.stderr);
  assert.equal(resolved.stderr, '');
});

test('glue that another zone of this database publishes counts as an address', async () => {
  const result = await runKeypost(['domain', 'add', 'shared-ns.test', '--ns', 'ns1.glued.test'], database.env);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '');
});

test('only the name servers without an address are named, at add and at set --ns', async () => {
  const added = await runKeypost(['domain', 'add', 'mixed.test', '--ns', 'ns1.mixed.test=192.0.2.2', '--ns', 'ns.nowhere.invalid'], database.env);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stderr, warning('ns.nowhere.invalid'));
  assert.doesNotMatch(added.stderr, /ns1\.mixed\.test/);
  assert.equal(added.stderr.trim().split('\n').length, 1);

  const set = await runKeypost(['domain', 'set', 'glued.test', '--ns', 'ns2.glued.test'], database.env);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stderr, warning('ns2.glued.test'));
});
