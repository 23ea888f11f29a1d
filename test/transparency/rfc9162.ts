// An independent reading of RFC 9162 for the tests, in another style than src/transparency/merkle.ts
// (hex strings, plain numbers, recursion straight from the definitions): MTH from §2.1.1 and the
// verification algorithms of §2.1.3.2 and §2.1.4.2 step by step, so a mistake shared by the log's
// proof generation and its own verifiers still fails a test.
import { createHash } from 'node:crypto';

export const H = (hex: string): string => createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex');
export const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** §2.1.1 MTH, recursively, straight from its definition. */
export function mth(leaves: string[]): string {
  if (leaves.length === 0) return H('');
  if (leaves.length === 1) return H('00' + leaves[0]);
  let k = 1;
  while (k << 1 < leaves.length) k <<= 1;
  return H('01' + mth(leaves.slice(0, k)) + mth(leaves.slice(k)));
}

/** §2.1.3.2, step by step. */
export function rfcVerifyInclusion(leafIndex: number, treeSize: number, hash: string, path: string[], rootHash: string): boolean {
  if (leafIndex >= treeSize) return false; // step 1
  let fn = leafIndex; // step 2
  let sn = treeSize - 1;
  let r = hash; // step 3
  for (const p of path) {
    // step 4
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = H('01' + p + r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) (fn = Math.floor(fn / 2)), (sn = Math.floor(sn / 2));
    } else {
      r = H('01' + r + p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r === rootHash; // step 5
}

/** §2.1.4.2, step by step (for first < second, as the section states it). */
export function rfcVerifyConsistency(first: number, second: number, firstHash: string, secondHash: string, path: string[]): boolean {
  if (path.length === 0) return false; // step 1
  const list = Number.isInteger(Math.log2(first)) ? [firstHash, ...path] : [...path]; // step 2
  let fn = first - 1; // step 3
  let sn = second - 1;
  while (fn % 2 === 1) (fn = Math.floor(fn / 2)), (sn = Math.floor(sn / 2)); // step 4
  let fr = list[0]; // step 5
  let sr = list[0];
  for (const c of list.slice(1)) {
    // step 6
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = H('01' + c + fr);
      sr = H('01' + c + sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) (fn = Math.floor(fn / 2)), (sn = Math.floor(sn / 2));
    } else {
      sr = H('01' + sr + c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr === firstHash && sr === secondHash && sn === 0; // step 7
}

/** MTH over leaf hashes (the recursion of §2.1.1 with the leaf hashing already done). */
export function rootFromLeafHashes(hashes: string[]): string {
  if (hashes.length === 0) return H('');
  if (hashes.length === 1) return hashes[0];
  let k = 1;
  while (k << 1 < hashes.length) k <<= 1;
  return H('01' + rootFromLeafHashes(hashes.slice(0, k)) + rootFromLeafHashes(hashes.slice(k)));
}
