// The gateway's view of a remote keypost zone (submission mode): the price and endpoint it uses for
// a foreign recipient combine the two kp1 records exactly as our own zones combine the operator's
// settings (src/protocol/precedence.ts): the address's record, else the zone's, else our default.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKeypostResolver, type KeypostResolver } from '../../src/gateway/keypost-resolver.js';
import { openpgpkeyLabel as h } from '../../src/protocol/address-hashes.js';
import { startTxtServer } from './support.js';

const FPR = '0123456789ABCDEF0123456789ABCDEF01234567';
const DEFAULT_BITS = 20;

describe('remote keypost records: address, else zone, else default', () => {
  let dns: { port: number; close(): void };
  let resolver: KeypostResolver;

  before(async () => {
    dns = await startTxtServer({
      '_keypost.remote.test': 'v=kp1; api=https://keys.remote.test; ep=smtp://zone.remote.test:25; pow=14',
      [`${h('own')}._keypost.remote.test`]: `v=kp1; fpr=${FPR}; ep=smtp://own.remote.test:25; pow=26`,
      [`${h('free')}._keypost.remote.test`]: `v=kp1; fpr=${FPR}; pow=0`,
      [`${h('plain')}._keypost.remote.test`]: `v=kp1; fpr=${FPR}`,
      '_keypost.noprice.test': 'v=kp1; ep=smtp://zone.noprice.test:25',
      [`${h('plain')}._keypost.noprice.test`]: `v=kp1; fpr=${FPR}`,
      [`${h('plain')}._keypost.nozone.test`]: `v=kp1; fpr=${FPR}; ep=smtp://own.nozone.test:25`,
      '_keypost.sealed.test': 'v=kp1; ep=smtp://zone.sealed.test:25; pow=10; req=encrypted',
      [`${h('plain')}._keypost.sealed.test`]: `v=kp1; fpr=${FPR}`,
      [`${h('postmaster')}._keypost.sealed.test`]: `v=kp1; fpr=${FPR}; req=none`,
      [`${h('strict')}._keypost.sealed.test`]: `v=kp1; fpr=${FPR}; req=encrypted,signed`,
    });
    resolver = createKeypostResolver({ server: { host: '127.0.0.1', port: dns.port }, timeoutMs: 2000, defaultBits: DEFAULT_BITS });
  });

  after(() => dns?.close());

  test("the address's own pow and ep win over the zone's", async () => {
    assert.deepEqual(await resolver.resolveRecipient('own@remote.test'), { kind: 'keypost', endpoint: 'smtp://own.remote.test:25', pow: 26, req: 'none' });
  });

  test('an address may ask for 0 bits under a zone that charges more', async () => {
    assert.deepEqual(await resolver.resolveRecipient('free@remote.test'), { kind: 'keypost', endpoint: 'smtp://zone.remote.test:25', pow: 0, req: 'none' });
  });

  test("an address record without pow or ep takes the zone's", async () => {
    assert.deepEqual(await resolver.resolveRecipient('plain@remote.test'), { kind: 'keypost', endpoint: 'smtp://zone.remote.test:25', pow: 14, req: 'none' });
  });

  test('with no pow in either record the default price applies', async () => {
    assert.deepEqual(await resolver.resolveRecipient('plain@noprice.test'), { kind: 'keypost', endpoint: 'smtp://zone.noprice.test:25', pow: DEFAULT_BITS, req: 'none' });
    assert.deepEqual(await resolver.resolveRecipient('plain@nozone.test'), { kind: 'keypost', endpoint: 'smtp://own.nozone.test:25', pow: DEFAULT_BITS, req: 'none' });
  });

  test("the required protection: the address's req, else the zone's, else none", async () => {
    const req = async (address: string) => {
      const found = await resolver.resolveRecipient(address);
      return found.kind === 'keypost' ? found.req : found.kind;
    };
    assert.equal(await req('plain@sealed.test'), 'encrypted');
    assert.equal(await req('postmaster@sealed.test'), 'none');
    assert.equal(await req('strict@sealed.test'), 'encrypted,signed');
    assert.equal(await req('plain@remote.test'), 'none');
  });

  test('an address of a keypost zone with no record of its own is unpublished; a zone without kp1 is ordinary mail', async () => {
    assert.deepEqual(await resolver.resolveRecipient('nobody@remote.test'), { kind: 'unpublished' });
    assert.deepEqual(await resolver.resolveRecipient('someone@elsewhere.test'), { kind: 'none' });
  });
});
