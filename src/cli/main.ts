#!/usr/bin/env node
// The `keypost` executable.
import { runCli } from './run.js';

const exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
// Writes to a pipe are asynchronous: exiting at once cut `keypost dns records | ...` short after
// a few thousand lines. An empty write's callback runs once everything before it has been handed
// to the kernel.
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
// Open handles (pools, timers) must not keep a finished command alive.
process.exit(exitCode);
