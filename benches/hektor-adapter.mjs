// hektor as an adapter of the shared ANN harness (../shared/bench/bench-node.mjs):
//   [HEKTOR_BENCH_QUANTIZATION=sq8] node bench-node.mjs --lib <this file> --data DIR [--work DIR]
// Builds through the public SDK (upsert in batches of 10,000, then flush), and searches one
// query at a time through the SDK (so N-API and JSON costs are included) or with searchBatch
// (parallel in Rust). HEKTOR_BENCH_QUANTIZATION sets the collection's `quantization` ('none'
// by default; 'sq8' reports the library as `hektor-sq8`).
// Wrapped by `instrument` (benches/peer-adapter.mjs), like the peers: per-query latency
// percentiles at each sweep point, and before the sweep a close + reopen of the store (reopen_ms:
// `open` + `db.collection`), the first query, and the size of the database folder.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { instrument } from './peer-adapter.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdk = await import(pathToFileURL(path.join(here, '..', 'ts', 'dist', 'index.js')).href);
const pkg = JSON.parse(fs.readFileSync(path.join(here, '..', 'package.json'), 'utf8'));
const quantization = process.env.HEKTOR_BENCH_QUANTIZATION || 'none';

export default () => {
  let db, col, ef = 64, dir;
  return instrument({
    name: quantization === 'none' ? 'hektor' : `hektor-${quantization}`, version: pkg.version,
    sweepName: 'ef', sweep: [10, 16, 24, 32, 48, 64, 96, 128, 192, 256], async: true,
    buildThreads: 'auto',
    async build(c) {
      dir = path.join(c.work, 'hektor-db');
      fs.rmSync(dir, { recursive: true, force: true });
      db = await sdk.open(dir);
      col = await db.createCollection('bench', { dimension: c.dim, metric: 'cosine', hnsw: { m: c.m, efConstruction: c.efc }, quantization });
      const B = 10000;
      for (let s = 0; s < c.n; s += B) {
        const recs = [];
        for (let i = s; i < Math.min(c.n, s + B); i++) recs.push({ id: String(i), vector: c.base.subarray(i * c.dim, (i + 1) * c.dim) });
        await col.upsert(recs);
      }
      await col.flush();
      const st = await col.stats();
      console.error(`[${this.name}] simd ${st.simd}, quantization ${st.config.quantization}, quantized vectors ${st.quantizedVectors ?? 0}`);
    },
    async persist() { // the build ends with flush: nothing more to save
      await db.close();
      const t = performance.now();
      db = await sdk.open(dir);
      col = await db.collection('bench');
      const reopenMs = performance.now() - t;
      return { saveMs: null, path: dir, reopenMs };
    },
    async setParam(v) { ef = v; },
    async searchAsync(q, k) {
      const hits = await col.search({ vector: q, k, ef, select: [] });
      return hits.map((h) => Number(h.id));
    },
    async searchBatch(Q, nq, k) {
      const qs = [];
      for (let i = 0; i < nq; i++) qs.push({ vector: Q.subarray(i * this.dim, (i + 1) * this.dim), k, ef, select: [] });
      const res = await col.searchBatch(qs);
      return res.map((hits) => hits.map((h) => Number(h.id)));
    },
  });
};
