// The import graph of the TypeScript/JavaScript modules under a directory, shared by the checks in
// this folder (import cycles, room boundaries). Only relative imports are edges; packages are not
// part of the graph. Type-only imports count too: they are erased at run time, but the dependency
// between the files is the same.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

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

/** Every module under `root` (absolute paths) → the modules under `root` it imports. */
export function importGraph(root) {
  const modules = files(root);
  const edges = new Map(modules.map((m) => [m, new Set()]));
  for (const module of modules) {
    const text = stripComments(readFileSync(module, 'utf8'));
    for (const match of text.matchAll(SPECIFIER)) {
      const target = resolveImport(module, match[2] ?? match[4]);
      if (target && edges.has(target)) edges.get(module).add(target);
    }
  }
  return edges;
}
