// Writes the search kernel as WebAssembly text (WAT) from the last block's expression graph.
//
// Exports:
//   memory                one page, laid out as memory-map.ts says
//   prepare()             computes every fixed node the per-candidate code reads (scalar i32) and
//                         stores each, splatted, in its v128 slot
//   search(from, count)   tries inner counters from..from+count-1 and returns the first whose
//                         digest's first word has zeros under MASK, or -1
//   lanes()               candidates per step: 4 * groups
//   firstWords(from)      runs one step of the same code for the 4 * groups candidates from `from`
//                         (a multiple of 4 * groups) and stores their digests' first words at
//                         FIRST_WORDS, so tests can hold the kernel's arithmetic against node:crypto
//
// search() runs `groups` groups of 4 candidates (one i32x4 lane each) side by side: the groups'
// instructions are interleaved, so the CPU always has independent work while one group waits on a
// dependency. A group's lanes differ only in the last counter digit (LAST_DIGITS), and the 3 digits
// before it change once per 64 candidates, so writing the counter is one OR per group.
import { CONSTANTS, DIGITS, FIRST_WORDS, INPUTS, LAST_DIGITS, MASK, PAGE } from './memory-map.js';
import { COUNTER_ALPHABET } from './layout.js';
import { lastBlockGraph, type GraphNode } from './last-block-graph.js';

export interface KernelOptions {
  /** Groups of 4 candidates interleaved per step; 64 must be a multiple of 4 * groups. */
  groups: number;
}

export const DEFAULT_KERNEL_OPTIONS: KernelOptions = { groups: 1 };

const LANES = 4;

/** A WAT data string of raw octets. */
function dataString(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => `\\${b.toString(16).padStart(2, '0')}`).join('');
}

/** Pairs terms into a balanced tree, so a sum of n terms has depth log2(n) rather than n. */
function balanced(op: string, terms: string[]): string {
  while (terms.length > 1) {
    const next: string[] = [];
    for (let i = 0; i + 1 < terms.length; i += 2) next.push(`(${op} ${terms[i]} ${terms[i + 1]})`);
    if (terms.length % 2) next.push(terms[terms.length - 1]);
    terms = next;
  }
  return terms[0];
}

export function sha1SearchWat(options: KernelOptions = DEFAULT_KERNEL_OPTIONS): string {
  const { groups } = options;
  if (!Number.isInteger(groups) || groups < 1 || groups > 4 || 64 % (LANES * groups) !== 0) throw new Error(`unsupported group count ${groups}`);
  const { graph, counter, firstWord } = lastBlockGraph();
  const live = graph.closure([firstWord]);
  const perCandidate = live.filter((n) => n.varying && n !== counter);
  // The fixed nodes that per-candidate code reads get a v128 slot each.
  const slotOf = new Map<number, number>();
  for (const n of perCandidate) {
    for (const a of n.args) if (!a.varying && !slotOf.has(a.id)) slotOf.set(a.id, CONSTANTS + 16 * slotOf.size);
  }
  if (CONSTANTS + 16 * slotOf.size > PAGE) throw new Error('kernel constants do not fit in one page');
  const fixedRoots = live.filter((n) => slotOf.has(n.id));
  const fixed = graph.closure(fixedRoots);

  // prepare(): scalar i32 code for the fixed nodes.
  const scalar = (n: GraphNode): string => `(local.get $c${n.id})`;
  const scalarExpr = (n: GraphNode): string => {
    switch (n.op) {
      case 'input':
        return `(i32.load offset=${INPUTS + 4 * n.value} (i32.const 0))`;
      case 'literal':
        return `(i32.const ${n.value | 0})`;
      case 'add':
        return balanced('i32.add', n.args.map(scalar));
      case 'xor':
        return balanced('i32.xor', n.args.map(scalar));
      case 'rotl':
        return `(i32.rotl ${scalar(n.args[0])} (i32.const ${n.value}))`;
      case 'select': {
        const [ifOne, ifZero, mask] = n.args.map(scalar);
        return `(i32.or (i32.and ${ifOne} ${mask}) (i32.and ${ifZero} (i32.xor ${mask} (i32.const -1))))`;
      }
      default:
        throw new Error(`node ${n.id} (${n.op}) cannot be fixed`);
    }
  };
  const prepare: string[] = [];
  prepare.push(`  (func (export "prepare")`);
  for (const n of fixed) prepare.push(`    (local $c${n.id} i32)`);
  for (const n of fixed) {
    prepare.push(`    (local.set $c${n.id} ${scalarExpr(n)})`);
    const slot = slotOf.get(n.id);
    if (slot !== undefined) prepare.push(`    (v128.store offset=${slot} (i32.const 0) (i32x4.splat (local.get $c${n.id})))`);
  }
  prepare.push('  )');

  // search(): v128 code for the varying nodes, once per group.
  const vector = (n: GraphNode, g: number): string =>
    n.varying ? `(local.get $v${n.id}_${g})` : `(v128.load offset=${slotOf.get(n.id)} (i32.const 0))`;
  const vectorExpr = (n: GraphNode, g: number): string => {
    const arg = (i: number) => vector(n.args[i], g);
    switch (n.op) {
      case 'add':
        return balanced('i32x4.add', n.args.map((a) => vector(a, g)));
      case 'xor':
        return balanced('v128.xor', n.args.map((a) => vector(a, g)));
      case 'rotl':
        return `(v128.or (i32x4.shl ${arg(0)} (i32.const ${n.value})) (i32x4.shr_u ${arg(0)} (i32.const ${32 - n.value})))`;
      case 'select':
        return `(v128.bitselect ${arg(0)} ${arg(1)} ${arg(2)})`;
      default:
        throw new Error(`node ${n.id} (${n.op}) cannot vary`);
    }
  };
  const step = LANES * groups;
  // The first three inner digits of counter hi * 64 + j, in the three high octets of W12.
  const digit = (shift: number) => `(i32.load8_u offset=${DIGITS} (i32.and (i32.shr_u (local.get $hi) (i32.const ${shift})) (i32.const 63)))`;
  const setHigh = `(local.set $high (i32x4.splat (i32.or (i32.or (i32.shl ${digit(12)} (i32.const 24)) (i32.shl ${digit(6)} (i32.const 16))) (i32.shl ${digit(0)} (i32.const 8)))))`;
  const locals = [counter, ...perCandidate].flatMap((n) => Array.from({ length: groups }, (_, g) => `    (local $v${n.id}_${g} v128)`));
  /** One step: the counter words of every group, then every varying node, group after group. */
  const stepCode = (indent: number): string[] => {
    const pad = ' '.repeat(indent);
    const lines: string[] = [];
    for (let g = 0; g < groups; g++) {
      lines.push(
        `${pad}(local.set $v${counter.id}_${g} (v128.or (local.get $high) (v128.load offset=${LAST_DIGITS + 16 * g} (i32.shl (local.get $j) (i32.const 2)))))`,
      );
    }
    for (const n of perCandidate) for (let g = 0; g < groups; g++) lines.push(`${pad}(local.set $v${n.id}_${g} ${vectorExpr(n, g)})`);
    return lines;
  };
  const search: string[] = [];
  search.push(`  (func (export "search") (param $from i32) (param $count i32) (result i32)`);
  search.push('    (local $end i32) (local $hi i32) (local $hiEnd i32) (local $j i32) (local $bits i32) (local $found i32)');
  search.push('    (local $high v128) (local $mask v128)');
  search.push(...locals);
  search.push('    (local.set $end (i32.add (local.get $from) (local.get $count)))');
  search.push(`    (local.set $mask (v128.load offset=${MASK} (i32.const 0)))`);
  search.push('    (local.set $hi (i32.shr_u (local.get $from) (i32.const 6)))');
  search.push('    (local.set $hiEnd (i32.shr_u (i32.add (local.get $end) (i32.const 63)) (i32.const 6)))');
  search.push('    (block $done');
  search.push('      (loop $outer');
  search.push('        (br_if $done (i32.ge_u (local.get $hi) (local.get $hiEnd)))');
  search.push(`        ${setHigh}`);
  search.push('        (local.set $j (i32.const 0))');
  search.push('        (loop $inner');
  search.push(...stepCode(10));
  // The zero-bit test on the first word; lanes in counter order, groups in counter order.
  for (let g = 0; g < groups; g++) {
    search.push(
      `          (local.set $bits (i32x4.bitmask (i32x4.eq (v128.and (local.get $v${firstWord.id}_${g}) (local.get $mask)) (v128.const i32x4 0 0 0 0))))`,
    );
    search.push('          (block $none');
    search.push('            (loop $lanes');
    search.push('              (br_if $none (i32.eqz (local.get $bits)))');
    search.push(
      `              (local.set $found (i32.add (i32.add (i32.shl (local.get $hi) (i32.const 6)) (local.get $j)) (i32.add (i32.const ${LANES * g}) (i32.ctz (local.get $bits)))))`,
    );
    // Lanes before `from` or from `end` on lie outside the range asked for.
    search.push(
      '              (if (i32.and (i32.ge_u (local.get $found) (local.get $from)) (i32.lt_u (local.get $found) (local.get $end))) (then (return (local.get $found))))',
    );
    search.push('              (local.set $bits (i32.and (local.get $bits) (i32.sub (local.get $bits) (i32.const 1))))');
    search.push('              (br $lanes)))');
  }
  search.push(`          (local.set $j (i32.add (local.get $j) (i32.const ${step})))`);
  search.push('          (br_if $inner (i32.lt_u (local.get $j) (i32.const 64))))');
  search.push('        (local.set $hi (i32.add (local.get $hi) (i32.const 1)))');
  search.push('        (br $outer)))');
  search.push('    (i32.const -1))');

  const firstWords: string[] = [];
  firstWords.push(`  (func (export "firstWords") (param $from i32)`);
  firstWords.push('    (local $hi i32) (local $j i32) (local $high v128)');
  firstWords.push(...locals);
  firstWords.push('    (local.set $hi (i32.shr_u (local.get $from) (i32.const 6)))');
  firstWords.push('    (local.set $j (i32.and (local.get $from) (i32.const 63)))');
  firstWords.push(`    ${setHigh}`);
  firstWords.push(...stepCode(4));
  for (let g = 0; g < groups; g++) firstWords.push(`    (v128.store offset=${FIRST_WORDS + 16 * g} (i32.const 0) (local.get $v${firstWord.id}_${g}))`);
  firstWords.push('  )');

  const digits = new TextEncoder().encode(COUNTER_ALPHABET);
  const lastDigits = new Uint8Array(256);
  for (let j = 0; j < 64; j++) lastDigits[4 * j] = digits[j];
  return [
    ';; SHA-1 stamp search kernel, generated by sha1-search-wat.ts: do not edit.',
    `;; ${perCandidate.length} vector operations per group and step, ${fixed.length} fixed values, ${slotOf.size} slots.`,
    '(module',
    '  (memory (export "memory") 1)',
    `  (func (export "lanes") (result i32) (i32.const ${step}))`,
    `  (data (i32.const ${DIGITS}) "${dataString(digits)}")`,
    `  (data (i32.const ${LAST_DIGITS}) "${dataString(lastDigits)}")`,
    ...prepare,
    ...search,
    ...firstWords,
    ')',
    '',
  ].join('\n');
}
