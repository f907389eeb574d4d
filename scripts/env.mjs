// Shared by the project scripts: the environment for cargo.
import os from 'node:os';
import path from 'node:path';

/** process.env with CARGO_TARGET_DIR defaulting to $HOME/.cache/hektor-target (outside the clone). */
export function cargoEnv() {
  const env = { ...process.env };
  if (!env.CARGO_TARGET_DIR) env.CARGO_TARGET_DIR = path.join(os.homedir(), '.cache', 'hektor-target');
  return env;
}
