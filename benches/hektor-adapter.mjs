// hektor as an adapter of the shared ANN harness (../shared/bench/bench-node.mjs):
//   node bench-node.mjs --lib <this file> --data DIR [--work DIR]
// Builds through the public SDK (upsert in batches, then flush), reopens the store to time
// a cold open, and searches one query at a time through the SDK (so N-API and JSON costs
// are included) or with searchBatch (parallel in Rust).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const sdk = await import(pathToFileURL(path.join(here, '..', 'ts', 'dist', 'index.js')).href);
const pkg = JSON.parse(fs.readFileSync(path.join(here, '..', 'package.json'), 'utf8'));

export default () => {
  let db, col, ef = 64, dir;
  return {
    name: 'hektor', version: pkg.version, sweepName: 'ef', sweep: [10, 16, 24, 32, 48, 64, 96, 128, 192, 256], async: true,
    buildThreads: 'auto',
    async build(c) {
      dir = path.join(c.work, 'hektor-db');
      fs.rmSync(dir, { recursive: true, force: true });
      db = await sdk.open(dir);
      col = await db.createCollection('bench', { dimension: c.dim, metric: 'cosine', hnsw: { m: c.m, efConstruction: c.efc } });
      const B = 10000;
      for (let s = 0; s < c.n; s += B) {
        const recs = [];
        for (let i = s; i < Math.min(c.n, s + B); i++) recs.push({ id: String(i), vector: c.base.subarray(i * c.dim, (i + 1) * c.dim) });
        await col.upsert(recs);
      }
      await col.flush();
      await db.close();
      const t = performance.now();
      db = await sdk.open(dir);
      col = await db.collection('bench');
      const openMs = performance.now() - t;
      const t2 = performance.now();
      await col.search({ vector: c.base.subarray(0, c.dim), k: 10, select: [] });
      const st = await col.stats();
      console.error(`[hektor] reopen ${openMs.toFixed(1)} ms, first query ${(performance.now() - t2).toFixed(1)} ms, disk ${(st.diskBytes / 1048576).toFixed(0)} MiB, simd ${st.simd}`);
      process.stdout.write(JSON.stringify({ lib: 'hektor', phase: 'reopen', reopen_ms: +openMs.toFixed(1), disk_mib: +(st.diskBytes / 1048576).toFixed(1) }) + '\n');
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
  };
};
