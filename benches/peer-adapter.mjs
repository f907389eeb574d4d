// The ANN peers as adapters of the shared harness (../shared/bench/bench-node.mjs), with the
// measurements the harness does not make, taken the same way for every library (hektor's own
// adapter, benches/hektor-adapter.mjs, goes through the same `instrument` wrapper):
//   HEKTOR_BENCH_PEER=hnswlib-node|usearch|lancedb-hnsw-sq \
//     node bench-node.mjs --lib benches/peer-adapter.mjs --data DIR --peers DIR --work DIR
//
// The build and search code of each peer is the harness's built-in adapter, copied (the harness
// does not export its adapters): hnswlib-node ('ip' space, one addPoint per vector, one thread),
// usearch (IP, f32, add with all threads; expansion_search is set by reloading the saved index
// with a new config), LanceDB HNSW_SQ (dot, numPartitions 1; search through the async query
// builder). One difference: usearch's index is saved after the build (at the first sweep point,
// timed as "save") instead of inside it, so that no library's build time includes a save.
//
// `instrument(adapter)` adds, as extra JSON lines on stdout beside the harness's:
//   { phase: 'latency', ef, p50_ms, p99_ms, mean_ms, calls } per sweep point: the wall time of
//     each single-query call the harness makes (search, or searchAsync until its promise
//     settles), after dropping the harness's 200 warm-up calls; the harness's own timing loop
//     runs unchanged around it (two performance.now() calls a query are added to its QPS);
//   { phase: 'reopen', save_ms, disk_mib, reopen_ms, first_query_ms } once, between the build
//     and the first sweep point (so outside the harness's build timing): the adapter's
//     `persist(ctx)` writes the index to disk if the library has not already (save_ms; null for
//     hektor, whose build ends with flush, and LanceDB, which writes while it builds), drops it
//     and opens it again from disk (reopen_ms: until the library hands back a searchable handle;
//     LanceDB loads its index lazily, hnswlib-node and usearch read the whole file, hektor maps
//     its files); then one query (base vector 0, k 10) is timed (first_query_ms); disk_mib is
//     the size of every file the library wrote (files on disk, recursively).
// The reopened index is the one the sweep then searches.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { quantile } from './lib.mjs';

const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const WARMUP = 200; // bench-node.mjs: warm-up calls at each sweep point before the timed passes

/** Bytes of every file under `p` (or of the file `p`). */
export function diskBytes(p) {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const e of fs.readdirSync(p)) total += diskBytes(path.join(p, e));
  return total;
}


/**
 * Wraps a harness adapter (see bench-node.mjs) to time every single-query call and to time a
 * save + reopen + first query before the sweep; see the top of this file for what is emitted.
 * The adapter may have `persist(ctx) -> Promise<{ saveMs, path, reopenMs }>`.
 */
export function instrument(ad) {
  let lat = null, param, ctx, persisted = false;
  const flush = () => {
    if (!lat) return;
    const s = lat.slice(WARMUP).sort((a, b) => a - b);
    lat = null;
    if (!s.length) return;
    const r3 = (x) => +x.toFixed(3);
    emit({ lib: ad.name, phase: 'latency', ef: param, p50_ms: r3(quantile(s, 0.5)), p99_ms: r3(quantile(s, 0.99)),
      mean_ms: r3(s.reduce((a, b) => a + b, 0) / s.length), calls: s.length });
  };
  process.on('exit', flush);
  const w = {
    name: ad.name, version: ad.version, sweepName: ad.sweepName, sweep: ad.sweep, async: ad.async, prepQuery: ad.prepQuery,
    get buildThreads() { return ad.buildThreads; },
    get dim() { return ad.dim; },
    set dim(d) { ad.dim = d; },
    async build(c) { ctx = c; return ad.build(c); },
    async setParam(p) {
      flush();
      if (!persisted && ad.persist) {
        persisted = true;
        const r = await ad.persist(ctx);
        await ad.setParam(p); // before the first query: LanceDB's query needs an ef
        let q = ctx.base.subarray(0, ctx.dim);
        if (ad.prepQuery) q = ad.prepQuery(q);
        const t = performance.now();
        if (ad.async) await ad.searchAsync(q, 10); else ad.search(q, 10);
        const firstMs = performance.now() - t;
        const row = { lib: ad.name, phase: 'reopen', save_ms: r.saveMs == null ? null : +r.saveMs.toFixed(1),
          disk_mib: +(diskBytes(r.path) / 1048576).toFixed(1), reopen_ms: +r.reopenMs.toFixed(1), first_query_ms: +firstMs.toFixed(2) };
        emit(row);
        console.error(`[${ad.name}] save ${row.save_ms ?? '-'} ms, on disk ${row.disk_mib} MiB, reopen ${row.reopen_ms} ms, first query ${row.first_query_ms} ms`);
      } else {
        await ad.setParam(p);
      }
      param = p;
      lat = [];
    },
  };
  if (ad.async) {
    w.searchAsync = async (q, k) => {
      const t = performance.now();
      const r = await ad.searchAsync(q, k);
      lat?.push(performance.now() - t);
      return r;
    };
  } else {
    w.search = (q, k) => {
      const t = performance.now();
      const r = ad.search(q, k);
      lat?.push(performance.now() - t);
      return r;
    };
  }
  if (ad.searchBatch) w.searchBatch = (Q, nq, k) => { flush(); return ad.searchBatch(Q, nq, k); };
  return w;
}

// ------------------------------------------------------------------ the peers (from bench-node.mjs)
const DEFAULT_EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];

function peers(req, pkgVersion) {
  return {
    'hnswlib-node': () => {
      const { HierarchicalNSW } = req('hnswlib-node');
      let idx, dim;
      return {
        name: 'hnswlib-node', version: pkgVersion('hnswlib-node'), sweepName: 'ef', sweep: DEFAULT_EFS,
        buildThreads: 1,
        async build(c) {
          dim = c.dim; idx = new HierarchicalNSW('ip', c.dim); // vectors are L2-normalised: ip == cosine
          idx.initIndex(c.n, c.m, c.efc, 100);
          // binding only accepts plain JS arrays (number[]), one point per call, single-threaded
          for (let i = 0; i < c.n; i++) idx.addPoint(Array.from(c.base.subarray(i * c.dim, (i + 1) * c.dim)), i);
        },
        async persist(c) {
          const file = path.join(c.work, 'hnswlib.idx');
          let t = performance.now();
          idx.writeIndexSync(file);
          const saveMs = performance.now() - t;
          idx = null;
          t = performance.now();
          const fresh = new HierarchicalNSW('ip', dim);
          fresh.readIndexSync(file);
          const reopenMs = performance.now() - t;
          idx = fresh;
          return { saveMs, path: file, reopenMs };
        },
        async setParam(ef) { idx.setEf(ef); },
        prepQuery: (q) => Array.from(q),
        search(q, k) { return idx.searchKnn(q, k).neighbors; },
      };
    },
    usearch: () => {
      const us = req('usearch');
      let idx, cfg, file;
      return {
        name: 'usearch', version: pkgVersion('usearch'), sweepName: 'expansion_search', sweep: DEFAULT_EFS,
        async build(c) {
          cfg = { dimensions: c.dim, metric: us.MetricKind.IP, quantization: us.ScalarKind.F32, connectivity: c.m, expansion_add: c.efc, expansion_search: 64, multi: false };
          idx = new us.Index(cfg);
          const keys = new BigUint64Array(c.n); for (let i = 0; i < c.n; i++) keys[i] = BigInt(i);
          idx.add(keys, c.base, c.buildThreads); // 0 = all cores
          this.buildThreads = c.buildThreads || 'auto';
        },
        async persist(c) {
          file = path.join(c.work, 'usearch.idx');
          let t = performance.now();
          idx.save(file);
          const saveMs = performance.now() - t;
          idx = null;
          t = performance.now();
          const fresh = new us.Index(cfg);
          fresh.load(file);
          const reopenMs = performance.now() - t;
          idx = fresh;
          return { saveMs, path: file, reopenMs };
        },
        // JS binding has no setter for expansion_search: reopen the saved index with a new config
        async setParam(ef) { idx = new us.Index({ ...cfg, expansion_search: ef }); idx.load(file); },
        search(q, k) { return idx.search(q, k, 1).keys; },
        searchBatch(Q, nq, k) { const r = idx.search(Q, k, 0); const out = []; for (let i = 0; i < nq; i++) out.push(r.keys.subarray(i * k, (i + 1) * k)); return out; },
      };
    },
    'lancedb-hnsw-sq': () => {
      const lancedb = req('@lancedb/lancedb'); const arrow = req('apache-arrow');
      let tbl, param = 0, dir;
      return {
        name: 'lancedb-hnsw-sq', version: pkgVersion('@lancedb/lancedb'), async: true, sweepName: 'ef', sweep: DEFAULT_EFS,
        async build(c) {
          dir = path.join(c.work, 'lance');
          const db = await lancedb.connect(dir);
          const item = new arrow.Field('item', new arrow.Float32(), true);
          const vt = new arrow.FixedSizeList(c.dim, item);
          const schema = new arrow.Schema([new arrow.Field('id', new arrow.Int32(), false), new arrow.Field('vector', vt, false)]);
          const batches = [];
          for (let s = 0; s < c.n; s += 10000) {
            const e = Math.min(c.n, s + 10000), len = e - s;
            const ids = new Int32Array(len); for (let i = 0; i < len; i++) ids[i] = s + i;
            const child = arrow.makeData({ type: new arrow.Float32(), length: len * c.dim, data: c.base.slice(s * c.dim, e * c.dim) });
            const vec = arrow.makeData({ type: vt, length: len, nullCount: 0, child });
            const idd = arrow.makeData({ type: new arrow.Int32(), length: len, data: ids });
            const st = arrow.makeData({ type: new arrow.Struct(schema.fields), length: len, nullCount: 0, children: [idd, vec] });
            batches.push(new arrow.RecordBatch(schema, st));
          }
          tbl = await db.createTable('vectors', new arrow.Table(schema, batches), { mode: 'overwrite' });
          await tbl.createIndex('vector', { config: lancedb.Index.hnswSq({ distanceType: 'dot', m: c.m, efConstruction: c.efc, numPartitions: 1 }) });
        },
        async persist() { // written while building; the index is loaded by the first query
          tbl = null;
          const t = performance.now();
          const db = await lancedb.connect(dir);
          tbl = await db.openTable('vectors');
          return { saveMs: null, path: dir, reopenMs: performance.now() - t };
        },
        async setParam(v) { param = v; },
        async searchAsync(q, k) {
          const t = await tbl.query().nearestTo(q).distanceType('dot').limit(k).select(['id']).ef(param).toArrow();
          return t.getChild('id').toArray();
        },
        async searchBatch(Q, nq, k) { // concurrent async queries (LanceDB runs them on its own thread pool)
          const out = new Array(nq); const conc = 16; let next = 0;
          const worker = async () => { for (let i; (i = next++) < nq;) out[i] = await this.searchAsync(Q.subarray(i * this.dim, (i + 1) * this.dim), k); };
          await Promise.all(Array.from({ length: conc }, worker));
          return out;
        },
      };
    },
  };
}

/** The harness's entry point: the peer named by HEKTOR_BENCH_PEER, instrumented. */
export default (req) => {
  const name = process.env.HEKTOR_BENCH_PEER;
  const i = process.argv.indexOf('--peers');
  const peersDir = path.resolve(i >= 0 ? process.argv[i + 1] : path.join(os.tmpdir(), 'ann/peers')); // bench-node's default
  const pkgVersion = (p) => { try { return JSON.parse(fs.readFileSync(path.join(peersDir, 'node_modules', p, 'package.json'), 'utf8')).version; } catch { return '?'; } };
  const make = peers(req, pkgVersion)[name];
  if (!make) throw new Error(`peer-adapter: HEKTOR_BENCH_PEER must be one of ${Object.keys(peers(req, pkgVersion)).join(', ')} (got ${name})`);
  return instrument(make());
};
