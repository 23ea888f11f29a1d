// The log's Merkle tree against the Certificate Transparency reference vectors (the eight leaves
// of RFC 6962's test suite, carried over unchanged to RFC 9162), and every proof the log makes
// checked by a second verifier written here from the text of RFC 9162 §2.1.3.2 and §2.1.4.2, so
// a mistake shared by generation and the module's own verifier still fails.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { H, hexOf, mth, rfcVerifyConsistency, rfcVerifyInclusion, rootFromLeafHashes } from './rfc9162.js';
import {
  EMPTY_ROOT,
  appendLeaf,
  consistencyRanges,
  inclusionRanges,
  leafHash,
  rangeHash,
  verifyConsistency,
  verifyInclusion,
  type Subtree,
} from '../../src/transparency/merkle.js';

const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
// Roots of the first n leaves, n = 0..8.
const CT_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
// Audit paths (leaf index, tree size) from the same suite.
const CT_INCLUSION: [number, number, string[]][] = [
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];
const CT_CONSISTENCY: [number, number, string[]][] = [
  [1, 1, []],
  [1, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

/** A tree kept as the log keeps it: only complete subtrees, appended leaf by leaf. */
class StoredTree {
  private readonly nodes = new Map<string, Buffer>();
  private frontier: { subtree: Subtree; hash: Buffer }[] = [];
  size = 0;
  append(hash: Buffer): void {
    const { created, frontier } = appendLeaf(this.frontier, this.size, hash);
    for (const c of created) this.nodes.set(`${c.subtree.level}:${c.subtree.index}`, c.hash);
    this.frontier = frontier;
    this.size++;
  }
  private readonly get = (s: Subtree): Buffer => {
    const h = this.nodes.get(`${s.level}:${s.index}`);
    if (!h) throw new Error(`subtree ${s.level}:${s.index} is not stored`);
    return h;
  };
  root(size = this.size): Buffer {
    return rangeHash({ start: 0, end: size }, this.get);
  }
  inclusion(index: number, size = this.size): Buffer[] {
    return inclusionRanges(index, size).map((r) => rangeHash(r, this.get));
  }
  consistency(first: number, second = this.size): Buffer[] {
    return consistencyRanges(first, second).map((r) => rangeHash(r, this.get));
  }
}

const ctTree = () => {
  const tree = new StoredTree();
  for (const leaf of CT_LEAVES) tree.append(leafHash(leaf));
  return tree;
};

describe('RFC 9162 §2.1 tree hashing', () => {
  test('the empty tree and every prefix of the CT reference leaves have the reference roots', () => {
    assert.equal(hexOf(EMPTY_ROOT), CT_ROOTS[0]);
    const tree = ctTree();
    for (let n = 0; n <= CT_LEAVES.length; n++) {
      assert.equal(hexOf(tree.root(n)), CT_ROOTS[n], `root of size ${n}`);
      assert.equal(mth(CT_LEAVES.slice(0, n).map((l) => l.toString('hex'))), CT_ROOTS[n], `independent MTH of size ${n}`);
    }
  });

  test('audit paths are the CT reference paths, and both verifiers accept them', () => {
    const tree = ctTree();
    for (const [index, size, expected] of CT_INCLUSION) {
      const path = tree.inclusion(index, size);
      assert.deepEqual(path.map(hexOf), expected, `path of leaf ${index} in size ${size}`);
      const leaf = leafHash(CT_LEAVES[index]);
      assert.ok(verifyInclusion(index, size, leaf, path, Buffer.from(CT_ROOTS[size], 'hex')));
      assert.ok(rfcVerifyInclusion(index, size, hexOf(leaf), expected, CT_ROOTS[size]));
    }
  });

  test('consistency proofs are the CT reference proofs, and both verifiers accept them', () => {
    const tree = ctTree();
    for (const [first, second, expected] of CT_CONSISTENCY) {
      const proof = tree.consistency(first, second);
      assert.deepEqual(proof.map(hexOf), expected, `proof ${first} → ${second}`);
      assert.ok(verifyConsistency(first, second, proof, Buffer.from(CT_ROOTS[first], 'hex'), Buffer.from(CT_ROOTS[second], 'hex')));
      if (first < second) assert.ok(rfcVerifyConsistency(first, second, CT_ROOTS[first], CT_ROOTS[second], expected));
    }
  });

  // Every shape of the recursion: all sizes up to 70 (past 64, a power of two), every leaf, every pair.
  const N = 70;
  const leaves = Array.from({ length: N }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));
  const tree = new StoredTree();
  for (const leaf of leaves) tree.append(leaf);
  const hexLeaves = leaves.map(hexOf);

  test('stored-subtree roots equal the recursive definition for every size', () => {
    for (let n = 0; n <= N; n++) assert.equal(hexOf(tree.root(n)), rootFromLeafHashes(hexLeaves.slice(0, n)), `size ${n}`);
  });

  test('every inclusion proof verifies with the independent verifier, and fails when anything is changed', () => {
    for (let size = 1; size <= N; size++) {
      const root = hexOf(tree.root(size));
      for (let i = 0; i < size; i++) {
        const path = tree.inclusion(i, size).map(hexOf);
        assert.ok(rfcVerifyInclusion(i, size, hexLeaves[i], path, root), `leaf ${i} of ${size}`);
        assert.ok(verifyInclusion(i, size, leaves[i], path.map((p) => Buffer.from(p, 'hex')), Buffer.from(root, 'hex')));
        const other = hexLeaves[(i + 1) % N];
        assert.equal(rfcVerifyInclusion(i, size, other, path, root), false);
        assert.equal(verifyInclusion(i, size, Buffer.from(other, 'hex'), path.map((p) => Buffer.from(p, 'hex')), Buffer.from(root, 'hex')), false);
        if (size > 1) assert.equal(verifyInclusion((i + 1) % size, size, leaves[i], path.map((p) => Buffer.from(p, 'hex')), Buffer.from(root, 'hex')), false);
      }
    }
  });

  test('every consistency proof verifies with the independent verifier, and a rewritten history fails', () => {
    const forked = new StoredTree();
    for (const [i, leaf] of leaves.entries()) forked.append(i === 3 ? leafHash(Buffer.from('rewritten')) : leaf);
    for (let first = 1; first <= N; first++) {
      for (let second = first + 1; second <= N; second++) {
        const proof = tree.consistency(first, second).map(hexOf);
        const a = hexOf(tree.root(first));
        const b = hexOf(tree.root(second));
        assert.ok(rfcVerifyConsistency(first, second, a, b, proof), `${first} → ${second}`);
        assert.ok(verifyConsistency(first, second, proof.map((p) => Buffer.from(p, 'hex')), Buffer.from(a, 'hex'), Buffer.from(b, 'hex')));
        if (first > 3) {
          // A client that saw the honest head of size `first` and is shown the forked log.
          const forkedProof = forked.consistency(first, second);
          assert.equal(verifyConsistency(first, second, forkedProof, Buffer.from(a, 'hex'), forked.root(second)), false);
          assert.equal(rfcVerifyConsistency(first, second, a, hexOf(forked.root(second)), forkedProof.map(hexOf)), false);
        }
      }
    }
  });

  test('out-of-range requests are refused, not answered', () => {
    assert.throws(() => inclusionRanges(5, 5), RangeError);
    assert.throws(() => consistencyRanges(6, 5), RangeError);
    assert.equal(verifyInclusion(5, 5, leaves[0], [], EMPTY_ROOT), false);
    assert.equal(verifyConsistency(2, 1, [], EMPTY_ROOT, EMPTY_ROOT), false);
    assert.equal(verifyConsistency(3, 7, [], tree.root(3), tree.root(7)), false);
  });
});

