// The SHA-1 compression of a stamp's last block (FIPS 180-4 §6.1.2) as an expression graph in which
// only one word, W12 (the inner counter digits), varies between candidates.
//
// Every node knows whether it depends on W12. The WAT generator computes the nodes that do not
// once per block, in prepare(), and the nodes that do once per candidate, in search(). Which work is
// shared therefore follows from the data flow instead of being written out by hand: rounds 0-11,
// the message words W16-W19 and many later ones, and the fixed terms of every round's sum all land
// in prepare(). Only the first word of the digest is built, since the zero-bit test reads only that
// word (up to 32 bits); a hit on more bits is confirmed with a full SHA-1 by the host.
import { INPUT_MIDSTATE, INPUT_WORDS } from './memory-map.js';
import { COUNTER_WORD } from './layout.js';
import { roundConstant } from './sha1-core.js';

export type GraphOp = 'input' | 'counter' | 'literal' | 'add' | 'xor' | 'rotl' | 'select';

export interface GraphNode {
  readonly id: number;
  readonly op: GraphOp;
  readonly args: readonly GraphNode[];
  /** input: the u32 input slot; literal: the value; rotl: the rotation. */
  readonly value: number;
  /** True when the node depends on the counter word. */
  readonly varying: boolean;
}

export class Graph {
  readonly nodes: GraphNode[] = [];

  private node(op: GraphOp, args: GraphNode[], value = 0): GraphNode {
    const varying = op === 'counter' || args.some((a) => a.varying);
    const n: GraphNode = { id: this.nodes.length, op, args, value, varying };
    this.nodes.push(n);
    return n;
  }

  input(slot: number): GraphNode {
    return this.node('input', [], slot);
  }

  counter(): GraphNode {
    return this.node('counter', []);
  }

  literal(value: number): GraphNode {
    return this.node('literal', [], value >>> 0);
  }

  /** A sum or xor of several terms; the fixed terms are gathered into one fixed node. */
  private gather(op: 'add' | 'xor', terms: GraphNode[]): GraphNode {
    const fixed = terms.filter((t) => !t.varying);
    const varying = terms.filter((t) => t.varying);
    if (varying.length === 0 || fixed.length <= 1) return terms.length === 1 ? terms[0] : this.node(op, [...varying, ...fixed]);
    return this.node(op, [...varying, this.node(op, fixed)]);
  }

  add(...terms: GraphNode[]): GraphNode {
    return this.gather('add', terms);
  }

  xor(...terms: GraphNode[]): GraphNode {
    return this.gather('xor', terms);
  }

  rotl(x: GraphNode, n: number): GraphNode {
    return this.node('rotl', [x], n);
  }

  /** Bitwise: where `mask` is 1 take `ifOne`, else `ifZero` (wasm's v128.bitselect). */
  select(ifOne: GraphNode, ifZero: GraphNode, mask: GraphNode): GraphNode {
    return this.node('select', [ifOne, ifZero, mask]);
  }

  /** The nodes `root` depends on, itself included, in creation (hence dependency) order. */
  closure(roots: GraphNode[]): GraphNode[] {
    const seen = new Set<number>();
    const stack = [...roots];
    while (stack.length) {
      const n = stack.pop()!;
      if (seen.has(n.id)) continue;
      seen.add(n.id);
      stack.push(...n.args);
    }
    return this.nodes.filter((n) => seen.has(n.id));
  }
}

/** f_t of §4.1.1 in select form: Ch(b,c,d) takes c where b is set; Maj takes c where b and d differ. */
function roundFunction(g: Graph, t: number, b: GraphNode, c: GraphNode, d: GraphNode): GraphNode {
  if (t < 20) return g.select(c, d, b);
  if (t >= 40 && t < 60) return g.select(c, b, g.xor(b, d));
  return g.xor(b, c, d);
}

export interface LastBlockGraph {
  graph: Graph;
  /** The node of W12, filled per candidate. */
  counter: GraphNode;
  /** The digest's first word: H0 + a after round 79. */
  firstWord: GraphNode;
}

export function lastBlockGraph(): LastBlockGraph {
  const g = new Graph();
  const h = Array.from({ length: 5 }, (_, i) => g.input(INPUT_MIDSTATE + i));
  const counter = g.counter();
  const w: GraphNode[] = [];
  for (let t = 0; t < 16; t++) w.push(t === COUNTER_WORD ? counter : g.input(INPUT_WORDS + t));
  // §6.1.2 step 1: the message schedule.
  for (let t = 16; t < 80; t++) w.push(g.rotl(g.xor(w[t - 3], w[t - 8], w[t - 14], w[t - 16]), 1));
  let [a, b, c, d, e] = h;
  for (let t = 0; t < 80; t++) {
    const temp = g.add(g.rotl(a, 5), roundFunction(g, t, b, c, d), e, g.literal(roundConstant(t)), w[t]);
    e = d;
    d = c;
    c = g.rotl(b, 30);
    b = a;
    a = temp;
  }
  return { graph: g, counter, firstWord: g.add(a, h[0]) };
}
