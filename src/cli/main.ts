#!/usr/bin/env node
// The `keypost` executable.
import { runCli } from './run.js';

const exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
// Open handles (pools, timers) must not keep a finished command alive.
process.exit(exitCode);
