// Shared by the project scripts: the environment for cargo.
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
