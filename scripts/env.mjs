// Shared by the project scripts: the environment for cargo.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ensureCmake } from './ensure-cmake.mjs';

/**
 * process.env for cargo: CARGO_TARGET_DIR defaults to $HOME/.cache/hektor-target (outside
 * the clone, so fresh clones and CI build incrementally), and CMAKE points at a CMake new
 * enough for the static HDF5 build (installed from PyPI into a cache when needed).
 */
export async function cargoEnv() {
  const env = { ...process.env };
  if (!env.CARGO_TARGET_DIR) env.CARGO_TARGET_DIR = path.join(os.homedir(), '.cache', 'hektor-target');
  if (!env.CMAKE) {
    const cmake = await ensureCmake({ quiet: true });
    if (cmake) env.CMAKE = cmake;
    else console.error('warning: no CMake >= 3.26 could be found or installed; the HDF5 source will not build');
  }
  return env;
}

/**
 * The host's Rust target triple (`rustc -vV`). `napi build` always passes `--target <triple>`,
 * which puts its output under `<target dir>/<triple>/<profile>`; `cargo test` given the same
 * triple, profile and feature set (see native/node/Cargo.toml) reuses every compiled crate
 * instead of building the dependency tree a second time under `<target dir>/<profile>`.
 */
export function hostTriple() {
  if (process.env.CARGO_BUILD_TARGET) return process.env.CARGO_BUILD_TARGET;
  const out = execFileSync('rustc', ['-vV'], { encoding: 'utf8' });
  const m = /^host: (\S+)$/m.exec(out);
  if (!m) throw new Error(`could not read the host triple from 'rustc -vV':\n${out}`);
  return m[1];
}
