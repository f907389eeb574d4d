#!/usr/bin/env node
// Builds the native addon (release, via @napi-rs/cli) and compiles the TypeScript SDK.
// usage: node scripts/build.mjs [--native] [--ts] [--profile release|ci|dev] [--target <rust triple>]   (no flag = both)
// The default profile is `release` (LTO, what ships); `npm test` and `npm run demo` build the
// `ci` profile (no LTO), whose compiled dependencies the Rust tests reuse.
// The cargo target dir defaults to $HOME/.cache/hektor-target (outside the clone) so
// fresh clones, CI runs and later sessions rebuild incrementally.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { cargoEnv } from './env.mjs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const only = (f) => args.includes(f);
const doNative = only('--native') || !only('--ts');
const doTs = only('--ts') || !only('--native');


const env = await cargoEnv();

/** Runs a command; `after(ok)` runs before a failure exits the build. */
function run(cmd, argv, after = () => {}) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: 'inherit', env });
  after(r.status === 0);
  if (r.status !== 0) {
    console.error(`build: '${cmd} ${argv.join(' ')}' failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

const bin = (name) => path.join(root, 'node_modules', '.bin', name + (process.platform === 'win32' ? '.cmd' : ''));

if (doNative) {
  const napiArgs = ['build', '--platform', '--manifest-path', 'native/node/Cargo.toml', '--package-json-path', 'package.json',
    '--output-dir', 'ts/native', '--js', 'index.js', '--dts', 'index.d.ts'];
  const i = args.indexOf('--profile');
  const profile = i >= 0 ? args[i + 1] : (process.env.HEKTOR_PROFILE ?? 'release');
  if (profile === 'release') napiArgs.push('--release');
  else if (profile !== 'dev') napiArgs.push('--profile', profile);
  const t = args.indexOf('--target');
  if (t >= 0) napiArgs.push('--target', args[t + 1]); // cross builds (the release workflow)
  // Move the current addon aside instead of letting the build overwrite it in place: a
  // running process (a benchmark, a test) maps that file, and truncating it under the
  // process kills it with SIGBUS. The renamed file lives on while mapped; it is put back if
  // the build fails, deleted otherwise.
  const dir = path.join(root, 'ts', 'native');
  const aside = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')).map((f) => path.join(dir, f)) : [];
  for (const f of aside) renameSync(f, `${f}.old`);
  run(bin('napi'), napiArgs, (ok) => {
    for (const f of aside) {
      if (!ok || !existsSync(f)) renameSync(`${f}.old`, f);
      else {
        try {
          rmSync(`${f}.old`, { force: true });
        } catch {
          // Windows keeps a loaded DLL's file: it goes with the next build
        }
      }
    }
  });
}
if (doTs) {
  if (!existsSync(path.join(root, 'ts', 'native', 'index.d.ts'))) {
    console.error('build: ts/native/index.d.ts is missing; build the native addon first (node scripts/build.mjs --native)');
    process.exit(1);
  }
  run(bin('tsc'), ['-p', 'ts/tsconfig.json']);
}
