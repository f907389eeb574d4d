// Helpers shared by the retrieval benches on the shared real-text set (benches/ir.mjs,
// benches/text-peers.mjs): command-line options, reading the set (JSONL documents and queries,
// .npy embeddings), the document text every system indexes, and the quality and latency
// summaries (MRR@10, R@10, R@100, mean / p50 / p99 ms) computed the same way for every system.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** `--name value` options and `--flag` switches of an argument list. */
export function args(argv = process.argv.slice(2)) {
  return {
    argv,
    opt: (n, d) => { const i = argv.indexOf('--' + n); return i >= 0 && i + 1 < argv.length ? argv[i + 1] : d; },
    flag: (n) => argv.includes('--' + n),
  };
}

/** The shared IR set beside this repository (../shared/data/ir), resolved from this file. */
export const defaultDataDir = path.join(here, '..', '..', 'shared', 'data', 'ir');

/** The non-empty lines of a text file. */
export const lines = (f) => fs.readFileSync(f, 'utf8').trim().split('\n');

/** A little-endian float32 2-d .npy file: { rows, dim, row(i) } (rows are views, not copies). */
export function readNpy(file) {
  const buf = fs.readFileSync(file);
  const hlen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + hlen).toString('latin1');
  const shape = header.match(/'shape': \((\d+), (\d+)\)/);
  const [rows, dim] = [Number(shape[1]), Number(shape[2])];
  const off = 10 + hlen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + rows * dim * 4));
  return { rows, dim, row: (i) => data.subarray(i * dim, (i + 1) * dim) };
}

/** corpus.jsonl ({ id, title, text }) and queries-dev.jsonl ({ qid, text, relevant: [id] }). */
export function loadIr(dataDir) {
  return {
    corpus: lines(path.join(dataDir, 'corpus.jsonl')).map((l) => JSON.parse(l)),
    queries: lines(path.join(dataDir, 'queries-dev.jsonl')).map((l) => JSON.parse(l)),
  };
}

/** The one text field every system indexes: title and text (ref_*.py join them the same way). */
export const docText = (d) => `${d.title}\n${d.text}`;

/** 0-based rank of the first relevant id among the hit ids, -1 if none is there. */
export const rankOf = (ids, relevant) => ids.findIndex((id) => relevant.includes(id));

/** Value at quantile `q` (0-1) of an ascending array (nearest rank: the ceil(q n)-th value). */
export const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];

/** The 1, 5 and 15 minute load averages, as /proc/loadavg prints them. */
export const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** The p-th percentile of ascending `xs` (nearest rank, as in the Python references). */
export const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/**
 * Quality and latency of one run: `ranks[i]` is the rank of query i's relevant document (-1 if
 * not in the hits), `lat[i]` its latency in ms. Returns { queries, mrr10, r10, r100, mean_ms,
 * p50_ms, p99_ms }.
 */
export function summarize(ranks, lat) {
  const n = ranks.length;
  let mrr = 0, r10 = 0, r100 = 0;
  for (const rank of ranks) {
    if (rank >= 0 && rank < 10) { mrr += 1 / (rank + 1); r10++; }
    if (rank >= 0 && rank < 100) r100++;
  }
  const s = [...lat].sort((a, b) => a - b);
  return {
    queries: n, mrr10: +(mrr / n).toFixed(4), r10: +(r10 / n).toFixed(3), r100: +(r100 / n).toFixed(3),
    mean_ms: +(s.reduce((a, b) => a + b, 0) / n).toFixed(3), p50_ms: +pct(s, 50).toFixed(3), p99_ms: +pct(s, 99).toFixed(3),
  };
}

/**
 * Installs the npm packages (`name` or `name@version`) missing from the peers folder `dir`
 * (created when needed); false when one is still missing after the install.
 */
export function installPeer(dir, pkgs) {
  fs.mkdirSync(dir, { recursive: true });
  const loads = (p) => {
    const [, name, version] = /^(@?[^@]+)(?:@(.+))?$/.exec(p);
    const manifest = path.join(dir, 'node_modules', name, 'package.json');
    return fs.existsSync(manifest) && (!version || JSON.parse(fs.readFileSync(manifest, 'utf8')).version === version);
  };
  const missing = pkgs.filter((p) => !loads(p));
  if (!missing.length) return true;
  if (!fs.existsSync(path.join(dir, 'package.json'))) fs.writeFileSync(path.join(dir, 'package.json'), '{"private":true}');
  console.error(`installing ${missing.join(' ')} into ${dir}`);
  spawnSync('npm', ['install', '--no-audit', '--no-fund', '--save-exact', ...missing], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'] });
  return missing.every(loads);
}

/** Imports package `name` as installed in the peers folder `dir`. */
export async function loadPeer(dir, name) {
  const { createRequire } = await import('node:module');
  const { pathToFileURL } = await import('node:url');
  const require = createRequire(path.join(dir, 'package.json'));
  return import(pathToFileURL(require.resolve(name)).href);
}
