// The public log API over a real listener: the signed head follows publishes, entries rebuild its
// root, and every proof the API hands out verifies with the independent RFC 9162 verifier
// (test/transparency/rfc9162.ts); bad parameters are 400s with stable codes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openpgpkeyLabel } from '../../src/protocol/address-hashes.js';
import { leafHash } from '../../src/transparency/merkle.js';
import { parseTreeHeadText, verifyTreeHead, type SignedTreeHead } from '../../src/transparency/sth.js';
import { openTestDatabase, type TestDatabase } from '../support/database.js';
import { addDomain, makeKey, ownerPublish, startApi, type RunningApi } from '../directory/write-side.js';
import { waitFor } from '../dns/support/server.js';
import { rfcVerifyConsistency, rfcVerifyInclusion, rootFromLeafHashes } from './rfc9162.js';

const ZONE = 'log.example';
let testDb: TestDatabase;
let api: RunningApi;
let token: string;
let singleToken: string;

before(async () => {
  testDb = await openTestDatabase();
  token = await addDomain(testDb.db, ZONE);
  await addDomain(testDb.db, 'empty.example');
  singleToken = await addDomain(testDb.db, 'single.example');
  api = await startApi(testDb);
});

after(async () => {
  await api?.close();
  await testDb?.close();
});

async function get(path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${api.baseUrl}${path}`);
  return { status: response.status, body: await response.json() };
}

const hex = (b64: string) => Buffer.from(b64, 'base64').toString('hex');

function headOf(body: any): SignedTreeHead {
  return {
    zone: body.zone,
    size: body.tree_size,
    time: body.timestamp,
    root: Buffer.from(body.root_hash, 'base64'),
    signature: Buffer.from(body.signature, 'base64'),
    publicKey: Buffer.from(body.log_key, 'base64'),
  };
}

/** Waits until the signed head covers `size` leaves (the signer batches changes). */
async function headCovering(size: number): Promise<any> {
  return waitFor(`a head of ${size} leaves`, async () => {
    const { status, body } = await get(`/v1/log/${ZONE}/sth`);
    return status === 200 && body.tree_size >= size ? body : undefined;
  });
}

describe('the log API', () => {
  let firstHead: any;

  test('in a log of one leaf the proof is the empty path, and the leaf hash is the root', async () => {
    const key = await makeKey(['solo@single.example']);
    await ownerPublish(api.baseUrl, 'single.example', singleToken, 'solo@single.example', key.publicKey);
    const { status, body } = await waitFor('a proof for solo', async () => {
      const r = await get('/v1/log/single.example/proof/inclusion?address=solo@single.example');
      return r.status === 200 ? r : undefined;
    });
    assert.equal(status, 200);
    assert.deepEqual([body.leaf_index, body.tree_size, body.inclusion_path], [0, 1, []]);
    assert.equal(body.leaf_hash, leafHash(Buffer.from(body.leaf, 'base64')).toString('base64'));
    assert.equal(body.leaf_hash, body.sth.root_hash);
    assert.ok(rfcVerifyInclusion(0, 1, hex(body.leaf_hash), [], hex(body.sth.root_hash)));
  });

  test('a zone without changes has a signed head of the empty tree', async () => {
    const { status, body } = await waitFor('the empty head', async () => {
      const r = await get('/v1/log/empty.example/sth');
      return r.status === 200 ? r : undefined;
    });
    assert.equal(status, 200);
    assert.equal(body.tree_size, 0);
    assert.equal(hex(body.root_hash), rootFromLeafHashes([]));
    assert.ok(verifyTreeHead(headOf(body)));
  });

  test('publishes reach a signed head; the TXT form carries the same head; entries rebuild its root', async () => {
    const keys = await Promise.all(['ann', 'ben', 'cat'].map((l) => makeKey([`${l}@${ZONE}`])));
    await ownerPublish(api.baseUrl, ZONE, token, `ann@${ZONE}`, keys[0].publicKey);
    firstHead = await headCovering(1);
    await ownerPublish(api.baseUrl, ZONE, token, `ben@${ZONE}`, keys[1].publicKey);
    await ownerPublish(api.baseUrl, ZONE, token, `cat@${ZONE}`, keys[2].publicKey, { pow: 25 });
    await ownerPublish(api.baseUrl, ZONE, token, `ann@${ZONE}`, keys[0].publicKey, { endpoint: 'smtp://mx.log.example:25' });
    const body = await headCovering(4);
    assert.equal(body.tree_size, 4);
    const head = headOf(body);
    assert.ok(verifyTreeHead(head));
    assert.equal(verifyTreeHead({ ...head, size: 5 }), false);
    assert.equal(verifyTreeHead(head, headOf(firstHead).publicKey), true, 'one log key per zone');
    assert.deepEqual(parseTreeHeadText(ZONE, body.txt), head);

    const { status, body: listed } = await get(`/v1/log/${ZONE}/entries?start=0&end=3`);
    assert.equal(status, 200);
    assert.deepEqual(listed.entries.map((e: any) => e.index), [0, 1, 2, 3]);
    assert.deepEqual(listed.entries.map((e: any) => [e.label, e.sequence, e.action]), [
      [openpgpkeyLabel('ann'), 1, 'publish'],
      [openpgpkeyLabel('ben'), 1, 'publish'],
      [openpgpkeyLabel('cat'), 1, 'publish'],
      [openpgpkeyLabel('ann'), 2, 'publish'],
    ]);
    assert.equal(listed.entries[2].pow, 25);
    assert.equal(listed.entries[3].endpoint, 'smtp://mx.log.example:25');
    assert.equal(listed.entries[0].fingerprint, keys[0].fingerprint);
    const rebuilt = rootFromLeafHashes(listed.entries.map((e: any) => leafHash(Buffer.from(e.leaf, 'base64')).toString('hex')));
    assert.equal(rebuilt, head.root.toString('hex'));
  });

  test('the inclusion proof of an address is its latest leaf, verified against the head', async () => {
    const { status, body } = await get(`/v1/log/${ZONE}/proof/inclusion?address=ANN@${ZONE}`);
    assert.equal(status, 200);
    assert.equal(body.leaf_index, 3);
    const leaf = Buffer.from(body.leaf, 'base64');
    assert.equal(hex(body.leaf_hash), leafHash(leaf).toString('hex'));
    assert.ok(rfcVerifyInclusion(body.leaf_index, body.tree_size, hex(body.leaf_hash), body.inclusion_path.map(hex), hex(body.sth.root_hash)));
    assert.ok(verifyTreeHead(headOf(body.sth)));

    // By leaf hash, in an earlier tree size.
    const ben = await get(`/v1/log/${ZONE}/proof/inclusion?address=ben@${ZONE}`);
    const byHash = await get(`/v1/log/${ZONE}/proof/inclusion?leaf_hash=${encodeURIComponent(ben.body.leaf_hash)}&tree_size=3`);
    assert.equal(byHash.status, 200);
    assert.equal(byHash.body.leaf_index, 1);
    const root3 = rootFromLeafHashes(
      (await get(`/v1/log/${ZONE}/entries?start=0&end=2`)).body.entries.map((e: any) => leafHash(Buffer.from(e.leaf, 'base64')).toString('hex')),
    );
    assert.ok(rfcVerifyInclusion(1, 3, hex(ben.body.leaf_hash), byHash.body.inclusion_path.map(hex), root3));
  });

  test('a consistency proof joins the first head seen to the latest one', async () => {
    const latest = (await get(`/v1/log/${ZONE}/sth`)).body;
    const { status, body } = await get(`/v1/log/${ZONE}/proof/consistency?first=${firstHead.tree_size}&second=${latest.tree_size}`);
    assert.equal(status, 200);
    assert.ok(rfcVerifyConsistency(firstHead.tree_size, latest.tree_size, hex(firstHead.root_hash), hex(latest.root_hash), body.consistency_path.map(hex)));
  });

  test('bad parameters are 400s with stable codes; unknown zones and leaves are 404s', async () => {
    const cases: [string, number, string][] = [
      [`/v1/log/${ZONE}/entries?start=2&end=1`, 400, 'LOG_RANGE_INVALID'],
      [`/v1/log/${ZONE}/entries?start=0&end=99`, 400, 'LOG_RANGE_INVALID'],
      [`/v1/log/${ZONE}/entries?start=-1&end=2`, 400, 'LOG_PARAMETER_INVALID'],
      [`/v1/log/${ZONE}/entries?start=0`, 400, 'LOG_PARAMETER_INVALID'],
      [`/v1/log/${ZONE}/entries?start=1e3&end=2`, 400, 'LOG_PARAMETER_INVALID'],
      [`/v1/log/${ZONE}/entries?start=0&end=1&extra=1`, 400, 'REQUEST_INVALID'],
      [`/v1/log/${ZONE}/proof/inclusion`, 400, 'LOG_PARAMETER_INVALID'],
      [`/v1/log/${ZONE}/proof/inclusion?address=not-an-address`, 400, 'LOG_PARAMETER_INVALID'],
      [`/v1/log/${ZONE}/proof/inclusion?address=ann@other.example`, 400, 'LOG_PARAMETER_INVALID'],
      [`/v1/log/${ZONE}/proof/inclusion?address=nobody@${ZONE}`, 404, 'LOG_LEAF_NOT_FOUND'],
      [`/v1/log/${ZONE}/proof/inclusion?leaf_hash=abc&tree_size=1`, 400, 'LOG_PARAMETER_INVALID'],
      [`/v1/log/${ZONE}/proof/inclusion?leaf_hash=${'00'.repeat(32)}&tree_size=99`, 400, 'LOG_RANGE_INVALID'],
      [`/v1/log/${ZONE}/proof/inclusion?leaf_hash=${'00'.repeat(32)}&tree_size=2`, 404, 'LOG_LEAF_NOT_FOUND'],
      [`/v1/log/${ZONE}/proof/consistency?first=3&second=2`, 400, 'LOG_RANGE_INVALID'],
      [`/v1/log/${ZONE}/proof/consistency?first=1&second=99`, 400, 'LOG_RANGE_INVALID'],
      [`/v1/log/${ZONE}/proof/consistency?first=x&second=2`, 400, 'LOG_PARAMETER_INVALID'],
      ['/v1/log/nowhere.example/sth', 404, 'LOG_ZONE_UNKNOWN'],
    ];
    for (const [path, status, code] of cases) {
      const r = await get(path);
      assert.equal(r.status, status, path);
      assert.equal(r.body.code, code, path);
    }
  });
});
