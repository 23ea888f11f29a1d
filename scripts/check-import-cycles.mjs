#!/usr/bin/env node
// Fails when the modules under src/ import each other in a cycle. A cycle means neither module can
// be understood, tested or loaded without the other (ES modules then see half-initialised
// bindings), and it is how one room ends up reaching into another's internals. Type-only imports
// count too (scripts/import-graph.mjs).
//
//   node scripts/check-import-cycles.mjs [dir]     (default: src)
import { relative, resolve } from 'node:path';
import { importGraph } from './import-graph.mjs';

const root = resolve(process.argv[2] ?? 'src');
const edges = importGraph(root);
const modules = [...edges.keys()];

// Tarjan's strongly connected components: every component of more than one module (or a module
// importing itself) is a cycle.
let index = 0;
const stack = [];
const state = new Map();
const cycles = [];
function connect(v) {
  state.set(v, { index, low: index, onStack: true });
  index++;
  stack.push(v);
  for (const w of edges.get(v)) {
    if (!state.has(w)) {
      connect(w);
      state.get(v).low = Math.min(state.get(v).low, state.get(w).low);
    } else if (state.get(w).onStack) {
      state.get(v).low = Math.min(state.get(v).low, state.get(w).index);
    }
  }
  if (state.get(v).low === state.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || edges.get(v).has(v)) cycles.push(component);
  }
}
for (const v of modules) if (!state.has(v)) connect(v);

const name = (m) => relative(process.cwd(), m);
if (cycles.length) {
  console.error(`import cycles under ${name(root)}: ${cycles.length}`);
  for (const component of cycles) {
    const members = new Set(component);
    console.error(`- ${component.length} modules:`);
    for (const m of component.sort()) {
      const inCycle = [...edges.get(m)].filter((t) => members.has(t)).map(name);
      console.error(`    ${name(m)} -> ${inCycle.join(', ')}`);
    }
  }
  process.exit(1);
}
console.log(`no import cycles among ${modules.length} modules under ${name(root)}`);
