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
import { args, defaultDataDir, docText, lines, loadIr, rankOf, readNpy, summarize } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { argv, opt } = args();
const dataDir = path.resolve(opt('data', defaultDataDir));

const { corpus, queries } = loadIr(dataDir);
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
await col.upsert(corpus.map((d) => ({ id: d.id, text: docText(d), vector: cemb.row(cpos.get(d.id)) })));
await col.flush();
console.log(`indexed ${corpus.length} docs (BM25 + HNSW) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

async function evaluate(name, mk) {
  const ranks = [], lat = [];
  for (const q of queries.slice(0, 50)) await col.search(mk(q, 100)); // warm-up
  for (const q of queries) {
    const s = performance.now();
    const hits = await col.search(mk(q, 100));
    lat.push(performance.now() - s);
    ranks.push(rankOf(hits.map((h) => h.id), q.relevant));
  }
  const row = { mode: name, ...summarize(ranks, lat) };
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
