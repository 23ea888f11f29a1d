#!/usr/bin/env node
// Fails when a room of src/ loads, directly or through any chain of imports, a room it must not
// depend on. The sender's client (src/client/, `keypost send` / `keypost check`) runs on a
// sender's machine against public DNS and public HTTP APIs: it shares only the neutral modules
// (src/protocol/ codecs, the key policy in src/keys/) with the server, never the server's rooms
// and their database, so it cannot come to rely on server internals or pull a database driver
// into a sender's process. Transitive, because a neutral-looking module that itself imports
// src/db/ brings the database along just the same.
//
//   node scripts/check-room-boundaries.mjs [dir]     (default: src)
import { relative, resolve, sep } from 'node:path';
import { importGraph } from './import-graph.mjs';

/** room → rooms it must not reach, each a top-level folder of the checked directory. */
const FORBIDDEN = {
  client: ['directory', 'dns', 'gateway', 'http', 'db'],
  // The gateway gets what it uses of the client (the signature verifier) from the composition
  // root, so a server room never grows a dependency on the sender's library.
  gateway: ['client', 'lists'],
  // The mailing lists (src/lists/) sit on top: they publish through the directory's publish path,
  // queue through the gateway's queue, find members' keys and check signatures with the client's
  // lookup, and seal their keys with src/secrets/; their owner routes share the owner API's token
  // check. They answer no DNS query and serve no page; the rooms they build on never load them
  // (their worker and routes are wired in src/main.ts).
  lists: ['dns', 'web'],
  directory: ['lists'],
  dns: ['lists'],
};

const root = resolve(process.argv[2] ?? 'src');
const edges = importGraph(root);
const roomOf = (module) => relative(root, module).split(sep)[0];
const name = (module) => relative(process.cwd(), module);

const violations = [];
for (const [room, forbidden] of Object.entries(FORBIDDEN)) {
  // Breadth-first from every module of the room, remembering how each module was reached, so a
  // violation names the shortest import chain that causes it.
  const cameFrom = new Map();
  const queue = [...edges.keys()].filter((m) => roomOf(m) === room);
  for (const m of queue) cameFrom.set(m, undefined);
  while (queue.length > 0) {
    const module = queue.shift();
    for (const target of edges.get(module)) {
      if (cameFrom.has(target)) continue;
      cameFrom.set(target, module);
      if (forbidden.includes(roomOf(target))) {
        const chain = [target];
        for (let m = module; m !== undefined; m = cameFrom.get(m)) chain.unshift(m);
        violations.push({ room, reached: roomOf(target), chain });
      } else {
        queue.push(target);
      }
    }
  }
}

if (violations.length) {
  console.error(`room boundaries crossed under ${name(root)}: ${violations.length}`);
  for (const v of violations) console.error(`- ${v.room} reaches ${v.reached}: ${v.chain.map(name).join(' -> ')}`);
  process.exit(1);
}
console.log(`room boundaries hold among ${edges.size} modules under ${name(root)}: ${Object.entries(FORBIDDEN).map(([r, f]) => `${r} reaches none of ${f.join(', ')}`).join('; ')}`);
