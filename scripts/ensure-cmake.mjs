#!/usr/bin/env node
// Finds or installs a CMake >= 3.26 for the HDF5 C build (hdf5-metno's `static` feature
// builds the bundled HDF5 with CMake, and needs a newer one than Debian 12's 3.25).
//
//   import { ensureCmake } from './ensure-cmake.mjs'
//   const cmake = await ensureCmake()        // absolute path, or null when none could be had
//   env.CMAKE = cmake                        // the cmake crate (used by hdf5-src) honours $CMAKE
//
//   node scripts/ensure-cmake.mjs            // prints the path (exit 1 and a reason on stderr if none)
//
// Order: $CMAKE if it is new enough, then `cmake` on PATH, then a copy of the PyPI `cmake`
// package kept in $HOME/.cache/hektor-tools/cmake (installed with `python3 -m pip install
// --target ...` the first time, reused afterwards). Nothing outside that cache folder is
// touched, and no dependency beyond Node itself and a Python with pip is needed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The oldest CMake that builds the HDF5 bundled by hdf5-metno-src. */
export const MIN_CMAKE = [3, 26];
/** The pip requirement installed when no suitable CMake is found (CMake 4 drops old policies). */
export const CMAKE_REQUIREMENT = 'cmake>=3.26,<4';

const exe = process.platform === 'win32' ? '.exe' : '';

/** The folder the PyPI cmake package is installed into. */
export function cmakeCacheDir() {
  return path.join(os.homedir(), '.cache', 'hektor-tools', 'cmake');
}

/** `[major, minor, patch]` of the cmake at `bin`, or null if it does not run. */
export function cmakeVersion(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) return null;
  const m = /cmake version (\d+)\.(\d+)(?:\.(\d+))?/.exec(r.stdout || '');
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] || 0)] : null;
}

function newEnough(v) {
  return !!v && (v[0] > MIN_CMAKE[0] || (v[0] === MIN_CMAKE[0] && v[1] >= MIN_CMAKE[1]));
}

function onPath(name) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name + exe);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this folder
    }
  }
  return null;
}

/** The real cmake binary inside a `pip install --target` folder (not pip's Python wrapper script). */
function binaryIn(target) {
  const data = path.join(target, 'cmake', 'data');
  const candidates = [
    path.join(data, 'bin', 'cmake' + exe), // Linux, Windows
    path.join(data, 'CMake.app', 'Contents', 'bin', 'cmake'), // macOS
  ];
  return candidates.find((p) => existsSync(p)) || null;
}

function python() {
  for (const name of ['python3', 'python']) {
    const p = onPath(name);
    if (p && spawnSync(p, ['-m', 'pip', '--version'], { stdio: 'ignore', timeout: 60_000 }).status === 0) return p;
  }
  return null;
}

/**
 * A CMake >= 3.26: `$CMAKE` or `cmake` on PATH when new enough, else the PyPI `cmake`
 * package installed (once) into `$HOME/.cache/hektor-tools/cmake`. Returns the absolute
 * path of the binary, or null (with the reason on stderr) when none could be found or installed.
 * @param {{ quiet?: boolean }} [opts] quiet: do not echo pip's output.
 * @returns {Promise<string | null>}
 */
export async function ensureCmake(opts = {}) {
  const fromEnv = process.env.CMAKE;
  if (fromEnv && newEnough(cmakeVersion(fromEnv))) return path.resolve(fromEnv);
  const system = onPath('cmake');
  if (system && newEnough(cmakeVersion(system))) return system;

  const target = cmakeCacheDir();
  const cached = binaryIn(target);
  if (cached && newEnough(cmakeVersion(cached))) return cached;

  const py = python();
  if (!py) {
    console.error('ensure-cmake: no CMake >= 3.26 found and no python3 with pip to install one; install CMake 3.26+ or set CMAKE');
    return null;
  }
  // Install into a scratch folder next to the final one, then rename: an interrupted
  // install never leaves a half-populated cache behind.
  const parent = path.dirname(target);
  mkdirSync(parent, { recursive: true });
  const scratch = `${target}.tmp-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  const r = spawnSync(
    py,
    ['-m', 'pip', 'install', '--target', scratch, '--no-input', '--disable-pip-version-check', '--no-warn-script-location', '--quiet', CMAKE_REQUIREMENT],
    {
      stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', 'inherit'],
      timeout: 15 * 60_000,
      // No "running pip as root" warning in CI containers (older pips ignore the variable).
      env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' },
    },
  );
  if (r.status !== 0) {
    rmSync(scratch, { recursive: true, force: true });
    console.error(`ensure-cmake: 'pip install ${CMAKE_REQUIREMENT}' failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`})`);
    return null;
  }
  // Another process may have finished the same install meanwhile: keep theirs.
  const theirs = binaryIn(target);
  if (theirs && newEnough(cmakeVersion(theirs))) {
    rmSync(scratch, { recursive: true, force: true });
    return theirs;
  }
  rmSync(target, { recursive: true, force: true });
  try {
    renameSync(scratch, target);
  } catch (e) {
    // Another process may have installed it meanwhile; use theirs if it works.
    rmSync(scratch, { recursive: true, force: true });
    if (!binaryIn(target)) {
      console.error(`ensure-cmake: could not move the install into ${target}: ${e.message}`);
      return null;
    }
  }
  const bin = binaryIn(target);
  const v = bin && cmakeVersion(bin);
  if (!newEnough(v)) {
    console.error(`ensure-cmake: the installed cmake in ${target} does not run or is too old (${v ? v.join('.') : 'no version'}); found: ${safeList(target).join(', ')}`);
    return null;
  }
  return bin;
}

function safeList(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bin = await ensureCmake({ quiet: true });
  if (!bin) process.exit(1);
  console.log(bin);
}
