#!/usr/bin/env node
// Brings a fresh clone to a runnable state: installs npm dev dependencies when missing,
// builds the native addon (cargo is incremental: a no-op rebuild takes seconds) and
// compiles the TypeScript SDK. Used by `npm test`, `npm run demo` and `npm run bench`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`setup: '${cmd} ${args.join(' ')}' failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

function hasTools() {
  return ['@napi-rs/cli', 'typescript'].every((p) => existsSync(path.join(root, 'node_modules', p, 'package.json')));
}

if (!hasTools()) {
  console.error('setup: installing npm dev dependencies');
  // `npm install`, not `npm ci`: npm leaves the other platforms' optional packages of
  // @napi-rs/cli's dependencies out of the lock file, which `npm ci` then rejects.
  run(npm, ['install', '--no-audit', '--no-fund']);
}
// the `ci` profile (no LTO) unless HEKTOR_PROFILE says otherwise; see scripts/build.mjs
const pi = process.argv.indexOf('--profile');
const profile = pi >= 0 ? process.argv[pi + 1] : (process.env.HEKTOR_PROFILE ?? 'ci');
run(process.execPath, [path.join(root, 'scripts', 'build.mjs'), '--profile', profile]);
