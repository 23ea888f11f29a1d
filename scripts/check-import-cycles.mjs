#!/usr/bin/env node
// Fails when the modules under src/ import each other in a cycle. A cycle means neither module can
// be understood, tested or loaded without the other (ES modules then see half-initialised
// bindings), and it is how one room ends up reaching into another's internals. Type-only imports
// count too: they are erased at run time, but the dependency between the files is the same.
//
//   node scripts/check-import-cycles.mjs [dir]     (default: src)
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? 'src');

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.(ts|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

// import ... from '...', export ... from '...', import '...', import('...') with a literal.
const SPECIFIER = /(?:^|[^\w$.])(?:import|export)\s*(?:type\s+)?(?:[\w$*{}\s,]+?\s*from\s*)?(['"])([^'"]+)\1|import\(\s*(['"])([^'"]+)\3\s*\)/gm;

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

function resolveImport(from, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

const modules = files(root);
const edges = new Map(modules.map((m) => [m, new Set()]));
for (const module of modules) {
  const text = stripComments(readFileSync(module, 'utf8'));
  for (const match of text.matchAll(SPECIFIER)) {
    const target = resolveImport(module, match[2] ?? match[4]);
    if (target && edges.has(target)) edges.get(module).add(target);
  }
}

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
