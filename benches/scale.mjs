#!/usr/bin/env node
// hektor at scale (hektor only; `node benches/run.mjs --n 1000000` runs it after the ANN part):
//
//   node benches/scale.mjs [--n 1000000 | --data DIR] [--scratch DIR] [--work DIR]
//        [--builds upsert,parquet,sq8] [--efs 16,24,32,48,64,96,128] [--filter-queries 200] [--keep]
//
// Data: gen_dataset.py's clustered, L2-normalised 384-d vectors (../shared/bench; generated into
// SCRATCH/data/synth-<N/1000>k when --data is not given), every record with the metadata
// { bucket: i % 100 }. Each step runs in its own child process (this script with --child), so
// RSS and the event loop are that step's alone:
//   build      into a fresh collection (cosine, M 16, efConstruction 200), one per --builds entry:
//                upsert   `col.upsert` of 10,000 records a call (the SDK's default 2,000-record
//                         atomic batches), read from base.fvecs 10,000 rows at a time (the next
//                         read overlaps the upsert), so the process never holds all the vectors
//                parquet  `col.ingest(sources.parquet(...))` (default batch size) of a Parquet file
//                         of id (string) + vector (fixed_size_list<float32>) + bucket, written once
//                         from base.fvecs by pyarrow (pip-installed into SCRATCH/py when python3
//                         lacks it)
//                sq8      as upsert, into a collection with quantization: 'sq8'
//              ingest rate = vectors / time until the last upsert (or the ingest) returned (the
//              graph is built behind the writes by the background indexer); build time = until
//              `waitForIndex` and then `flush` returned; CPU seconds (all threads), peak RSS (VmHWM); the
//              event loop's delay over the whole ingest + flush: perf_hooks.monitorEventLoopDelay
//              with a 10 ms resolution, max and p99 of the intervals between its ticks (so an
//              idle loop reads ~10 ms; a 40 ms block reads ~50 ms), beside the max of the same
//              histogram over 2 s of an idle loop just before (on a loaded machine the main
//              thread also waits for a core)
//   serve      per collection (upsert f32, sq8): open + db.collection (reopen ms, warm page cache),
//              first query, 1,000 warm-up queries (default ef), then the process RSS (goal at 1M:
//              < 4 GB f32, < 1 GB sq8); an ef sweep, one query at a time over the 1,000 queries
//              (recall@10 vs gt.ivecs, wall and CPU-time QPS, p50 / p99 latency); then at the
//              first ef reaching recall 0.95, the wall QPS of one query at a time against 16
//              `col.search` calls kept in flight (a sliding window: each finished call starts the
//              next), each for >= 2 s
//   filter     recall@10 of filtered search, { bucket: { $lt: 1 } } (1 % of the records) and
//              { $lt: 10 } (10 %), for the first --filter-queries queries at ef 64 (the default)
//              and 128, and with exact: true (which checks the ground truth), against the exact
//              filtered top 10 computed here by brute force (dot products: the vectors are
//              normalised) and cached in the data dir
// The summary compares with the HEKTOR roadmap targets for 1M vectors (ingest > 500 vectors/s,
// index build < 5 minutes, > 1,000 QPS at < 1 ms, < 4 GB RAM) as measured / target / factor
// (factor > 1: the target is met). On this 2-core machine a 1M run takes hours (three builds of
// ~30 min or more each: the build is ~2-3 ms of CPU per vector); --builds upsert does one.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { args, loadavg, quantile } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { opt, flag } = args();
const sdkUrl = pathToFileURL(path.join(here, '..', 'ts', 'dist', 'index.js')).href;
const cpuS = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const statusMiB = (key) => { const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp('^' + key + ':\\s+(\\d+)', 'm')); return m ? +(m[1] / 1024).toFixed(1) : 0; };
const rssMiB = () => +(process.memoryUsage().rss / 1048576).toFixed(1);
const META = (i) => ({ bucket: i % 100 });
const SELECTIVITY = [1, 10]; // percent: bucket < s

/** A TEXMEX .fvecs / .ivecs file read whole: { data (rows copied out), n, d }. */
function readVecs(file, Ctor) {
  const buf = fs.readFileSync(file);
  const d = buf.readInt32LE(0), row = 4 * (d + 1), n = buf.length / row;
  const src = new Ctor(buf.buffer, buf.byteOffset, buf.length / 4), out = new Ctor(n * d);
  for (let i = 0; i < n; i++) out.set(src.subarray(i * (d + 1) + 1, (i + 1) * (d + 1)), i * d);
  return { data: out, n, d, row: (i) => out.subarray(i * d, (i + 1) * d) };
}
/** Rows and dimension of base.fvecs from its size and first word. */
function baseShape(data) {
  const file = path.join(data, 'base.fvecs');
  const fd = fs.openSync(file, 'r'), b = Buffer.alloc(4);
  fs.readSync(fd, b, 0, 4, 0); fs.closeSync(fd);
  const d = b.readInt32LE(0);
  return { file, d, n: fs.statSync(file).size / (4 * (d + 1)) };
}
const recallAt10 = (ids, truth) => { let hit = 0; for (const id of ids.slice(0, 10)) if (truth.includes(Number(id))) hit++; return hit / 10; };
const emit = (o) => process.stdout.write(JSON.stringify(o) + '\n');

// ------------------------------------------------------------------------------ children
async function childBuild() {
  const { open, sources } = await import(sdkUrl);
  const data = opt('data'), dir = opt('dir'), source = opt('source'), quant = opt('quant', 'none');
  const { file, n, d } = baseShape(data);
  fs.rmSync(dir, { recursive: true, force: true });
  const db = await open(dir);
  const col = await db.createCollection('bench', { dimension: d, metric: 'cosine', hnsw: { m: 16, efConstruction: 200 }, quantization: quant });
  const rssStart = rssMiB();
  const tag = `[scale build ${source}/${quant}]`;
  let shown = 0;
  const progress = (done, t0) => {
    if (done < shown + n / 10 && done < n) return;
    shown = done;
    console.error(`${tag} ${done} / ${n}, ${(done / ((performance.now() - t0) / 1000)).toFixed(0)} vectors/s, load ${loadavg()}`);
  };
  // control: the same histogram over 2 s of an idle loop (on a loaded machine the main thread
  // also waits for a core, and that shows up here as well as during the ingest)
  const idle = monitorEventLoopDelay({ resolution: 10 });
  idle.enable();
  await new Promise((r) => setTimeout(r, 2000));
  idle.disable();
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const c0 = cpuS();
  lag.enable();
  const t0 = performance.now();
  if (source === 'parquet') {
    const report = await col.ingest(sources.parquet(opt('parquet'), { id: 'id', vector: 'vector', metadata: ['bucket'] }), { onProgress: (p) => progress(p.rows, t0) });
    if (report.upserted !== n) throw new Error(`${tag} ingested ${report.upserted} of ${n} rows`);
  } else {
    const fh = await fs.promises.open(file, 'r');
    const row = 4 * (d + 1), B = 10000;
    const read = async (s) => {
      const buf = Buffer.allocUnsafeSlow(Math.min(B, n - s) * row); // own ArrayBuffer: offsets stay 4-aligned
      await fh.read(buf, 0, buf.length, s * row);
      return buf;
    };
    let next = read(0);
    for (let s = 0; s < n; s += B) {
      const buf = await next;
      if (s + B < n) next = read(s + B);
      const len = buf.length / row, recs = new Array(len);
      for (let j = 0; j < len; j++) recs[j] = { id: String(s + j), vector: new Float32Array(buf.buffer, j * row + 4, d), metadata: META(s + j) };
      await col.upsert(recs);
      progress(s + len, t0);
    }
    await fh.close();
  }
  const t1 = performance.now();
  // writes return once durable; the graph is built by the background indexer
  await col.waitForIndex();
  await col.flush();
  const t2 = performance.now();
  lag.disable();
  const cpu = cpuS() - c0;
  const st = await col.stats();
  const tc = performance.now();
  await db.close();
  const ms = (x) => +(x / 1e6).toFixed(1);
  emit({ step: 'build', source, quant, n, ingest_s: +((t1 - t0) / 1000).toFixed(2), rate: Math.round(n / ((t1 - t0) / 1000)),
    flush_s: +((t2 - t1) / 1000).toFixed(2), build_s: +((t2 - t0) / 1000).toFixed(2), cpu_s: +cpu.toFixed(1), close_ms: +(performance.now() - tc).toFixed(0),
    rss_start_mib: rssStart, hwm_mib: statusMiB('VmHWM'), lag_max_ms: ms(lag.max), lag_p99_ms: ms(lag.percentile(99)), lag_mean_ms: ms(lag.mean), idle_max_ms: ms(idle.max),
    disk_mib: +(st.diskBytes / 1048576).toFixed(1), indexed: st.indexedVectors, quantized: st.quantizedVectors ?? 0, load: loadavg() });
}

async function childServe() {
  const { open } = await import(sdkUrl);
  const data = opt('data'), dir = opt('dir'), efs = opt('efs').split(',').map(Number);
  const Q = readVecs(path.join(data, 'query.fvecs'), Float32Array), G = readVecs(path.join(data, 'gt.ivecs'), Int32Array);
  const nq = Q.n;
  const rssBefore = rssMiB();
  let t = performance.now();
  const db = await open(dir);
  const col = await db.collection('bench');
  const reopenMs = performance.now() - t;
  t = performance.now();
  await col.search({ vector: Q.row(0), k: 10, select: [] });
  const firstMs = performance.now() - t;
  for (let i = 0; i < 1000; i++) await col.search({ vector: Q.row(i % nq), k: 10, select: [] });
  const rssWarm = rssMiB();
  const st = await col.stats();
  const sweep = [];
  for (const ef of efs) {
    for (let i = 0; i < 100; i++) await col.search({ vector: Q.row(i % nq), k: 10, ef, select: [] });
    const lat = [];
    let rec = 0, total = 0;
    const c = cpuS(), t0 = performance.now();
    do {
      rec = 0;
      for (let i = 0; i < nq; i++) {
        const s = performance.now();
        const hits = await col.search({ vector: Q.row(i), k: 10, ef, select: [] });
        lat.push(performance.now() - s);
        rec += recallAt10(hits.map((h) => h.id), G.row(i).subarray(0, 10));
      }
      total += nq;
    } while (performance.now() - t0 < 1000);
    const wall = (performance.now() - t0) / 1000, cpu = cpuS() - c;
    lat.sort((a, b) => a - b);
    sweep.push({ ef, recall: +(rec / nq).toFixed(4), qps: Math.round(total / wall), cpu_qps: Math.round(total / cpu),
      p50_ms: +quantile(lat, 0.5).toFixed(3), p99_ms: +quantile(lat, 0.99).toFixed(3) });
    console.error(`[scale serve ${path.basename(dir)}] ef ${ef}: recall ${sweep.at(-1).recall}, ${sweep.at(-1).qps} QPS wall, ${sweep.at(-1).cpu_qps} CPU-QPS, p50 ${sweep.at(-1).p50_ms} ms`);
  }
  const efC = (sweep.find((s) => s.recall >= 0.95) ?? sweep.at(-1)).ef;
  const throughput = async (inflight, secs = 2) => {
    let next = 0, done = 0;
    const c = cpuS(), t0 = performance.now(), end = t0 + secs * 1000;
    const worker = async () => {
      while (performance.now() < end) {
        const i = next++ % nq;
        await col.search({ vector: Q.row(i), k: 10, ef: efC, select: [] });
        done++;
      }
    };
    await Promise.all(Array.from({ length: inflight }, worker));
    const wall = (performance.now() - t0) / 1000;
    return { qps: Math.round(done / wall), cpu_qps: Math.round(done / (cpuS() - c)) };
  };
  const one = await throughput(1), many = await throughput(16);
  await db.close();
  emit({ step: 'serve', dir: path.basename(dir), quant: st.config.quantization, reopen_ms: +reopenMs.toFixed(1), first_query_ms: +firstMs.toFixed(2),
    rss_before_mib: rssBefore, rss_mib: rssWarm, hwm_mib: statusMiB('VmHWM'), disk_mib: +(st.diskBytes / 1048576).toFixed(1),
    sweep, conc_ef: efC, one, many, load: loadavg() });
}

/** Exact filtered top 10 (ids) of the first `nq` queries for each selectivity, cached in the data dir. */
function filteredTruth(data, nq) {
  const cache = path.join(data, `filtered-gt-${nq}.json`);
  if (fs.existsSync(cache)) return JSON.parse(fs.readFileSync(cache, 'utf8'));
  const t = performance.now();
  const buf = fs.readFileSync(path.join(data, 'base.fvecs'));
  const d = buf.readInt32LE(0), stride = d + 1, n = buf.length / (4 * stride);
  const B = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const Q = readVecs(path.join(data, 'query.fvecs'), Float32Array);
  const out = {};
  for (const s of SELECTIVITY) {
    out[s] = [];
    for (let qi = 0; qi < nq; qi++) {
      const q = Q.row(qi);
      const topId = [], topSc = []; // ascending by score, at most 10
      for (let i = 0; i < n; i++) {
        if (i % 100 >= s) continue;
        let dot = 0;
        const o = i * stride + 1;
        for (let j = 0; j < d; j++) dot += q[j] * B[o + j];
        if (topSc.length === 10 && dot <= topSc[0]) continue;
        let p = 0;
        while (p < topSc.length && topSc[p] < dot) p++;
        topSc.splice(p, 0, dot); topId.splice(p, 0, i);
        if (topSc.length > 10) { topSc.shift(); topId.shift(); }
      }
      out[s].push(topId.reverse());
    }
  }
  fs.writeFileSync(cache, JSON.stringify(out));
  console.error(`[scale filter] exact filtered top 10 of ${nq} queries over ${n} vectors in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return out;
}

async function childFilter() {
  const { open } = await import(sdkUrl);
  const data = opt('data'), dirs = opt('dirs').split(','), nq = Number(opt('queries', 200));
  const truth = filteredTruth(data, nq);
  const Q = readVecs(path.join(data, 'query.fvecs'), Float32Array);
  const rows = [];
  for (const dir of dirs) {
    const db = await open(dir, { readOnly: true });
    const col = await db.collection('bench');
    for (const s of SELECTIVITY) {
      const filter = { bucket: { $lt: s } };
      for (const ef of [64, 128, 'exact']) {
        const q = (i) => ({ vector: Q.row(i), k: 10, filter, select: [], ...(ef === 'exact' ? { exact: true } : { ef }) });
        for (let i = 0; i < Math.min(20, nq); i++) await col.search(q(i));
        const lat = [];
        let rec = 0;
        for (let i = 0; i < nq; i++) {
          const t = performance.now();
          const hits = await col.search(q(i));
          lat.push(performance.now() - t);
          rec += recallAt10(hits.map((h) => h.id), truth[s][i]);
        }
        lat.sort((a, b) => a - b);
        rows.push({ dir: path.basename(dir), selectivity: s, ef, recall: +(rec / nq).toFixed(4), p50_ms: +quantile(lat, 0.5).toFixed(3), p99_ms: +quantile(lat, 0.99).toFixed(3) });
      }
    }
    await db.close();
  }
  emit({ step: 'filter', queries: nq, rows });
}

// ------------------------------------------------------------------------------ parent
const PYARROW = 'pyarrow==26.0.1'; // the pin of __test__/fixtures/python-fixtures.mjs and benches/ingest.mjs
const PARQUET_SCRIPT = `
import os, sys, numpy as np, pyarrow as pa, pyarrow.parquet as pq
src, out = sys.argv[1], sys.argv[2]
raw = np.memmap(src, dtype=np.float32, mode='r')
d = int(raw[:1].view(np.int32)[0])
m = raw.reshape(-1, d + 1)
schema = pa.schema([('id', pa.string()), ('vector', pa.list_(pa.float32(), d)), ('bucket', pa.int32())])
with pq.ParquetWriter(out + '.tmp', schema) as w:
    for s in range(0, m.shape[0], 65536):
        e = min(m.shape[0], s + 65536)
        vec = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(m[s:e, 1:]).reshape(-1)), d)
        ids = pa.array([str(i) for i in range(s, e)])
        w.write_table(pa.Table.from_arrays([ids, vec, pa.array(np.arange(s, e, dtype=np.int32) % 100)], schema=schema))
os.replace(out + '.tmp', out)
print(pa.__version__)
`;

/** The Parquet copy of base.fvecs (written once), or null when pyarrow cannot be had. */
function parquetFile(data, scratch) {
  const out = path.join(data, 'base.parquet');
  if (fs.existsSync(out)) return out;
  const tryImport = (p) => spawnSync('python3', ['-c', 'import pyarrow'], { env: { ...process.env, PYTHONPATH: p } }).status === 0;
  let py = '';
  if (!tryImport('')) {
    py = path.join(scratch, 'py');
    if (!tryImport(py)) {
      console.error(`[scale] installing ${PYARROW} into ${py}`);
      spawnSync('python3', ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--only-binary', ':all:', '--target', py, PYARROW], { stdio: ['ignore', 'ignore', 'inherit'] });
      if (!tryImport(py)) return null;
    }
  }
  const t = performance.now();
  const r = spawnSync('python3', ['-c', PARQUET_SCRIPT, path.join(data, 'base.fvecs'), out], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: py } });
  if (r.status !== 0) { console.error(`[scale] writing Parquet failed:\n${r.stderr}`); return null; }
  console.error(`[scale] wrote ${out} (pyarrow ${r.stdout.trim()}, ${(fs.statSync(out).size / 1048576).toFixed(0)} MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return out;
}

function child(name, args) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', name, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  const line = (r.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (r.status !== 0 || !line) { console.log(`scale: step ${name} ${args.join(' ')} failed (exit ${r.status ?? r.signal}); going on`); return null; }
  return JSON.parse(line);
}

async function parent() {
  const scratch = path.resolve(opt('scratch', path.join(os.tmpdir(), 'hektor-bench')));
  const n = Number(opt('n', 1000000));
  const data = path.resolve(opt('data', path.join(scratch, 'data', `synth-${n / 1000}k`)));
  if (!fs.existsSync(path.join(data, 'gt.ivecs'))) {
    console.error(`generating ${n} vectors into ${data} (needs python3 with numpy)`);
    execFileSync('python3', [path.join(here, '..', '..', 'shared', 'bench', 'gen_dataset.py'), String(n), data], { stdio: 'inherit' });
  }
  const N = baseShape(data).n;
  const work = path.resolve(opt('work', path.join(scratch, 'work', 'scale')));
  const builds = opt('builds', 'upsert,parquet,sq8').split(',').filter(Boolean);
  const started = performance.now();
  console.log(`hektor at scale: ${N} x ${baseShape(data).d} vectors from ${data}; load average at start ${loadavg()}\n`);
  fs.mkdirSync(work, { recursive: true });

  const B = {};
  for (const b of builds) {
    const dir = path.join(work, b);
    if (b === 'parquet') {
      const file = parquetFile(data, scratch);
      if (!file) { console.log('scale: no pyarrow, the Parquet ingest is left out'); continue; }
      B[b] = child('build', ['--data', data, '--dir', dir, '--source', 'parquet', '--parquet', file]);
      if (!flag('keep')) fs.rmSync(dir, { recursive: true, force: true }); // only its ingest rate is reported
    } else if (b === 'upsert' || b === 'sq8') {
      B[b] = child('build', ['--data', data, '--dir', dir, '--source', 'upsert', '--quant', b === 'sq8' ? 'sq8' : 'none']);
    } else {
      console.log(`scale: unknown build ${b} (upsert, parquet, sq8)`);
    }
  }
  const served = ['upsert', 'sq8'].filter((b) => B[b]);
  const S = {};
  for (const b of served) S[b] = child('serve', ['--data', data, '--dir', path.join(work, b), '--efs', opt('efs', '16,24,32,48,64,96,128')]);
  const F = served.length ? child('filter', ['--data', data, '--dirs', served.map((b) => path.join(work, b)).join(','), '--queries', opt('filter-queries', '200')]) : null;
  if (!flag('keep')) for (const b of served) fs.rmSync(path.join(work, b), { recursive: true, force: true });

  // ------------------------------------------------------------------ tables
  const label = { upsert: 'f32, col.upsert', parquet: 'f32, sources.parquet', sq8: 'sq8, col.upsert' };
  const gb = (mib) => mib && (mib * 1048576) / 1e9; // decimal GB, as the targets are written
  console.log('\nBuild (ingest = until the last upsert / the ingest returned; build = until waitForIndex + flush returned; event-loop delay over ingest + flush, ticks every 10 ms, and in brackets the max over 2 s of an idle loop just before):\n');
  console.log('| collection | vectors | ingest s | vectors/s | index + flush s | build s | CPU s | peak RSS MiB | loop delay max / p99 ms (idle max) | on disk MiB | load at end |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const [b, r] of Object.entries(B)) if (r) {
    console.log(`| ${label[b]} | ${r.n} | ${r.ingest_s} | ${r.rate} | ${r.flush_s} | ${r.build_s} | ${r.cpu_s} | ${r.hwm_mib} | ${r.lag_max_ms} / ${r.lag_p99_ms} (${r.idle_max_ms}) | ${r.disk_mib} | ${r.load} |`);
  }
  if (served.length) {
    console.log('\nServing (reopen = open + db.collection, warm page cache; RSS of the process after reopen + 1,000 queries; in brackets, before the open):\n');
    console.log('| collection | reopen ms | first query ms | RSS MiB | on disk MiB | one at a time QPS wall (CPU) | 16 in flight QPS wall (CPU) | ratio (wall) | at ef |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const b of served) if (S[b]) {
      const s = S[b];
      console.log(`| ${label[b]} | ${s.reopen_ms} | ${s.first_query_ms} | ${s.rss_mib} (${s.rss_before_mib}) | ${s.disk_mib} | ${s.one.qps} (${s.one.cpu_qps}) | ${s.many.qps} (${s.many.cpu_qps}) | ${(s.many.qps / s.one.qps).toFixed(2)} | ${s.conc_ef} |`);
    }
    console.log('\nOne query at a time, k = 10, the 1,000 queries:\n');
    console.log('| collection | ef | recall@10 | QPS wall | QPS CPU | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|');
    for (const b of served) if (S[b]) for (const r of S[b].sweep) console.log(`| ${label[b]} | ${r.ef} | ${r.recall} | ${r.qps} | ${r.cpu_qps} | ${r.p50_ms} | ${r.p99_ms} |`);
  }
  if (F) {
    console.log(`\nFiltered search, recall@10 against the exact filtered top 10, ${F.queries} queries:\n`);
    console.log('| collection | filter | ef | recall@10 | p50 ms | p99 ms |\n|---|---|---|---|---|---|');
    const byDir = Object.fromEntries(served.map((b) => [b, label[b]]));
    for (const r of F.rows) console.log(`| ${byDir[r.dir] ?? r.dir} | bucket < ${r.selectivity} (${r.selectivity} %) | ${r.ef} | ${r.recall} | ${r.p50_ms} | ${r.p99_ms} |`);
  }

  // ------------------------------------------------------------------ roadmap targets
  const T = [];
  const more = (name, v, target, unit, d = 0) => v != null && T.push([name, `${v.toFixed(d)} ${unit}`, `> ${target} ${unit}`, (v / target).toFixed(2)]);
  const less = (name, v, target, unit, d = 0) => v != null && T.push([name, `${v.toFixed(d)} ${unit}`, `< ${target} ${unit}`, (target / v).toFixed(2)]);
  more('ingest rate, col.upsert (f32)', B.upsert?.rate, 500, 'vectors/s');
  more('ingest rate, sources.parquet (f32)', B.parquet?.rate, 500, 'vectors/s');
  more('ingest rate, col.upsert (sq8)', B.sq8?.rate, 500, 'vectors/s');
  less('index build, upsert until the index is ready (f32)', B.upsert && B.upsert.build_s / 60, 5, 'min', 1);
  less('index build, upsert until the index is ready (sq8)', B.sq8 && B.sq8.build_s / 60, 5, 'min', 1);
  for (const b of served) {
    const s = S[b]?.sweep.find((r) => r.recall >= 0.95);
    if (!s) continue;
    more(`QPS one at a time, wall, ${label[b]} (ef ${s.ef}, recall ${s.recall})`, s.qps, 1000, 'QPS');
    less(`latency p50 at that ef, ${label[b]}`, s.p50_ms, 1, 'ms', 3);
    less(`latency p99 at that ef, ${label[b]}`, s.p99_ms, 1, 'ms', 3);
  }
  less('RAM serving f32 (RSS after reopen + 1,000 queries)', gb(S.upsert?.rss_mib), 4, 'GB', 2);
  less('RAM peak while building f32 (VmHWM)', gb(B.upsert?.hwm_mib), 4, 'GB', 2);
  less('RAM serving sq8 (RSS after reopen + 1,000 queries)', gb(S.sq8?.rss_mib), 1, 'GB', 2);
  for (const b of served) less(`reopen, ${label[b]}`, S[b]?.reopen_ms, 200, 'ms', 1);
  for (const b of Object.keys(B)) less(`event-loop delay max during ingest, ${label[b]}`, B[b]?.lag_max_ms, 50, 'ms', 1);
  for (const b of served) more(`16 in flight / one at a time, ${label[b]}`, S[b] && S[b].many.qps / S[b].one.qps, 2, 'x', 2);
  console.log(`\nAgainst the HEKTOR roadmap targets for 1M vectors${N === 1000000 ? '' : ` (this run has ${N}: indicative only)`} (factor > 1: met):\n`);
  console.log('| target | measured | target | factor |\n|---|---|---|---|');
  for (const r of T) console.log(`| ${r.join(' | ')} |`);
  console.log(`\nscale: ${((performance.now() - started) / 60000).toFixed(1)} min; load average at end ${loadavg()} (GB = 10^9 bytes)`);
}

const which = opt('child');
if (which === 'build') await childBuild();
else if (which === 'serve') await childServe();
else if (which === 'filter') await childFilter();
else await parent();
