#!/usr/bin/env node
// Runs every test: the engine's Rust tests (cargo test, release profile so the
// recall and persistence tests run at real speed) and the SDK tests (node --test).
// PostgreSQL and Redis (the machine's, started if down) and a MongoDB wire-protocol server
// (nx-27017 from PyPI, on a free port) are set up by scripts/services.mjs for both steps.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cargoEnv, hostTriple } from './env.mjs';
import { startServices } from './services.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const t0 = Date.now();
// live servers for the postgres / mongodb / redis sources: started if down, env for the tests
const services = await startServices();
const env = { ...(await cargoEnv()), ...services.env };

function step(name, cmd, args) {
  const s = Date.now();
  console.log(`\n== ${name}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  console.log(`== ${name}: ${r.status === 0 ? 'ok' : 'FAILED'} in ${((Date.now() - s) / 1000).toFixed(1)} s`);
  return r.status === 0;
}

const only = process.argv[2];
const results = [];
if (!only || only === 'rust') {
  const profile = process.env.HEKTOR_PROFILE ?? 'ci';
  // Same profile, target triple and (whole-workspace) feature set as the addon build in
  // scripts/setup.mjs, so this step compiles only the workspace's own test targets.
  results.push(step('cargo test (engine, adapters)', 'cargo', ['test', '--profile', profile, '--target', hostTriple(), '--workspace']));
}
if (!only || only === 'js') {
  const files = readdirSync(path.join(root, '__test__')).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => path.join('__test__', f));
  results.push(step('node --test (SDK)', process.execPath, ['--test', '--test-concurrency=1', ...files]));
}
await services.stop();
console.log(`\nall tests: ${results.every(Boolean) ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(results.every(Boolean) ? 0 : 1);
