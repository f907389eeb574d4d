#!/usr/bin/env node
// Retrieval quality and latency on the shared real-text set (Debian package descriptions,
// 22,051 docs, 1,000 dev queries, MiniLM embeddings): MRR@10, R@10, R@100 and per-query
// latency for text (BM25), vector (HNSW and exact) and hybrid (RRF, weighted) modes.
// usage: node benches/ir.mjs [--data ../shared/data/ir] [--ref]   (--ref also runs bm25s, a
// Lucene-variant BM25 in Python, on the same data, if `python3 -c "import bm25s"` works)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from '../ts/dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf('--' + n); return i >= 0 ? argv[i + 1] : d; };
const dataDir = path.resolve(opt('data', path.join(here, '..', '..', 'shared', 'data', 'ir')));

function readNpy(file) {
  const buf = fs.readFileSync(file);
  const hlen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + hlen).toString('latin1');
  const shape = header.match(/'shape': \((\d+), (\d+)\)/);
  const [rows, dim] = [Number(shape[1]), Number(shape[2])];
  const off = 10 + hlen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + rows * dim * 4));
  return { rows, dim, row: (i) => data.subarray(i * dim, (i + 1) * dim) };
}
const lines = (f) => fs.readFileSync(f, 'utf8').trim().split('\n');

const corpus = lines(path.join(dataDir, 'corpus.jsonl')).map((l) => JSON.parse(l));
const queries = lines(path.join(dataDir, 'queries-dev.jsonl')).map((l) => JSON.parse(l));
const cids = lines(path.join(dataDir, 'emb', 'corpus.ids.txt'));
const qids = lines(path.join(dataDir, 'emb', 'queries-dev.ids.txt'));
const cemb = readNpy(path.join(dataDir, 'emb', 'corpus.f32.npy'));
const qemb = readNpy(path.join(dataDir, 'emb', 'queries-dev.f32.npy'));
const cpos = new Map(cids.map((id, i) => [id, i]));
const qpos = new Map(qids.map((id, i) => [id, i]));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hektor-ir-'));
const db = await open(dir);
const col = await db.createCollection('ir', { dimension: cemb.dim });
let t = performance.now();
await col.upsert(corpus.map((d) => ({ id: d.id, text: `${d.title}\n${d.text}`, vector: cemb.row(cpos.get(d.id)) })));
await col.flush();
console.log(`indexed ${corpus.length} docs (BM25 + HNSW) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
async function evaluate(name, mk) {
  let mrr = 0, r10 = 0, r100 = 0;
  const lat = [];
  for (const q of queries.slice(0, 50)) await col.search(mk(q, 100)); // warm-up
  for (const q of queries) {
    const s = performance.now();
    const hits = await col.search(mk(q, 100));
    lat.push(performance.now() - s);
    const rank = hits.findIndex((h) => q.relevant.includes(h.id));
    if (rank >= 0 && rank < 10) { mrr += 1 / (rank + 1); r10++; }
    if (rank >= 0) r100++;
  }
  lat.sort((a, b) => a - b);
  const n = queries.length;
  const row = { mode: name, mrr10: +(mrr / n).toFixed(4), r10: +(r10 / n).toFixed(3), r100: +(r100 / n).toFixed(3),
    mean_ms: +(lat.reduce((a, b) => a + b, 0) / n).toFixed(3), p50_ms: +pct(lat, 50).toFixed(3), p99_ms: +pct(lat, 99).toFixed(3) };
  console.log(`| ${row.mode} | ${row.mrr10} | ${row.r10} | ${row.r100} | ${row.mean_ms} | ${row.p50_ms} | ${row.p99_ms} |`);
  return row;
}
const qv = (q) => qemb.row(qpos.get(q.qid));
console.log('\n| mode | MRR@10 | R@10 | R@100 | mean ms | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|');
await evaluate('hektor text (BM25)', (q, k) => ({ text: q.text, k, select: [] }));
await evaluate('hektor vector (HNSW, ef 128)', (q, k) => ({ vector: qv(q), k, ef: 128, select: [] }));
await evaluate('hektor vector (exact)', (q, k) => ({ vector: qv(q), k, exact: true, select: [] }));
await evaluate('hektor hybrid (RRF k=60)', (q, k) => ({ text: q.text, vector: qv(q), k, select: [] }));
await evaluate('hektor hybrid (weighted 0.5)', (q, k) => ({ text: q.text, vector: qv(q), k, fusion: { type: 'weighted', alpha: 0.5 }, select: [] }));
await evaluate('hektor hybrid (weighted 0.3)', (q, k) => ({ text: q.text, vector: qv(q), k, fusion: { type: 'weighted', alpha: 0.3 }, select: [] }));
await db.close();
fs.rmSync(dir, { recursive: true, force: true });

if (argv.includes('--ref')) {
  try {
    const out = execFileSync('python3', [path.join(here, 'ref_bm25s.py'), dataDir], { encoding: 'utf8' });
    process.stdout.write(out);
  } catch (e) {
    console.log(`(reference bm25s run failed: ${e.message.split('\n')[0]})`);
  }
}
