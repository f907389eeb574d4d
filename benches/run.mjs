#!/usr/bin/env node
// `npm run bench`: hektor beside its peers on the same data in one run.
//   1. text/hybrid quality + latency on the shared real-text set (benches/ir.mjs, with the
//      bm25s reference when Python has bm25s + PyStemmer), then BM25 beside MiniSearch, Orama and
//      tantivy on the same set (benches/text-peers.mjs, when present);
//   2. ANN on N clustered 384-d vectors (default 100k) through the shared harness
//      (../shared/bench: gen_dataset.py, bench-node.mjs), one library per process, same data:
//      hektor (f32), hektor with quantization 'sq8' (benches/hektor-adapter.mjs), hnswlib-node,
//      usearch and LanceDB HNSW_SQ (benches/peer-adapter.mjs: the harness's peer code plus the
//      per-query latency and save / reopen timing that every library gets the same way). Printed:
//      one table of absolute numbers per library (build wall and CPU, peak RSS, CPU-time QPS with
//      p50 / p99 latency at the first sweep point reaching recall@10 0.90 / 0.95 / 0.99, batch QPS,
//      on-disk size, save and reopen time) and one of ratios hektor / peer;
//   3. the per-call cost of the N-API crossing (benches/overhead.mjs);
//   4. with --n 1000000 (or --scale): hektor at scale (benches/scale.mjs: ingest rates, build,
//      reopen, RSS, filtered recall, event-loop lag, concurrency, against the roadmap targets);
//   5. ingest throughput of CSV, JSONL and Parquet (benches/ingest.mjs, default 200k rows) beside
//      csv-parse, readline + JSON.parse and hyparquet.
// Peers are npm-installed on demand into SCRATCH/peers; a library that fails to install, crashes
// or runs past --timeout-min prints a line and the run goes on. The load average is printed at
// the start and the end (and each library's at its build): compare CPU-time figures when it is
// above ~1 on this 2-core machine.
// usage: npm run bench [-- --n 100000] [--scratch DIR] [--shared ../shared] [--ingest-rows 200000]
//          [--libs hektor,hektor-sq8,hnswlib-node,usearch,lancedb-hnsw-sq] [--efs 10,16,...]
//          [--timeout-min M (per library; default 15 per 100k vectors)] [--keep (the indexes)] [--json FILE (ANN rows)]
//          [--skip-ir] [--skip-text] [--skip-ann] [--skip-overhead] [--scale | --skip-scale]
//          [--skip-ingest]
// --skip-ir skips the whole text part (ir.mjs and text-peers.mjs), --skip-text only text-peers.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { args, loadavg } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const { opt, flag } = args();
const shared = path.resolve(opt('shared', path.join(here, '..', '..', 'shared')));
const scratch = path.resolve(opt('scratch', path.join(os.tmpdir(), 'hektor-bench')));
const n = Number(opt('n', 100000));
const peers = path.join(scratch, 'peers');
const data = path.join(scratch, 'data', `synth-${n / 1000}k`);
const started = performance.now();
console.log(`# hektor benchmarks, ${new Date().toISOString().slice(0, 16)} UTC, ${os.cpus().length} cores, Node ${process.versions.node}, load average at start: ${loadavg()}\n`);

if (!flag('skip-ir')) {
  console.log('## Text and hybrid retrieval (Debian package descriptions, 22,051 docs, 1,000 queries)\n');
  spawnSync(process.execPath, [path.join(here, 'ir.mjs'), '--data', path.join(shared, 'data', 'ir'), '--ref'], { stdio: 'inherit' });
  const textPeers = path.join(here, 'text-peers.mjs');
  if (flag('skip-text')) {
    // nothing
  } else if (fs.existsSync(textPeers)) {
    console.log('\n## BM25 beside MiniSearch, Orama and tantivy (same set)\n');
    const r = spawnSync(process.execPath, [textPeers, '--data', path.join(shared, 'data', 'ir'), '--peers', peers], { stdio: 'inherit' });
    if (r.status !== 0) console.log(`text-peers.mjs failed (exit ${r.status ?? r.signal}); going on`);
  } else {
    console.log('\n(benches/text-peers.mjs is not there: text peers skipped)');
  }
}

function ensureData() {
  if (!fs.existsSync(path.join(data, 'gt.ivecs'))) {
    console.error(`generating ${n} vectors into ${data} (needs python3 with numpy)`);
    execFileSync('python3', [path.join(shared, 'bench', 'gen_dataset.py'), String(n), data], { stdio: 'inherit' });
  }
}

// ---------------------------------------------------------------------------------- ANN
const LIBS = {
  hektor: { lib: path.join(here, 'hektor-adapter.mjs'), env: { HEKTOR_BENCH_QUANTIZATION: 'none' } },
  'hektor-sq8': { lib: path.join(here, 'hektor-adapter.mjs'), env: { HEKTOR_BENCH_QUANTIZATION: 'sq8' } },
  'hnswlib-node': { lib: path.join(here, 'peer-adapter.mjs'), env: { HEKTOR_BENCH_PEER: 'hnswlib-node' }, npm: ['hnswlib-node'] },
  usearch: { lib: path.join(here, 'peer-adapter.mjs'), env: { HEKTOR_BENCH_PEER: 'usearch' }, npm: ['usearch'] },
  // LANCEDB_LOG=error: LanceDB 0.37 logs a deprecation warning to stderr on every query otherwise
  'lancedb-hnsw-sq': { lib: path.join(here, 'peer-adapter.mjs'), env: { HEKTOR_BENCH_PEER: 'lancedb-hnsw-sq', LANCEDB_LOG: 'error' }, npm: ['@lancedb/lancedb', 'apache-arrow'] },
};
const TARGETS = [0.9, 0.95, 0.99];

function runAnn() {
  ensureData();
  fs.mkdirSync(peers, { recursive: true });
  const names = opt('libs', Object.keys(LIBS).join(',')).split(',').filter(Boolean);
  const efs = opt('efs', '10,16,24,32,48,64,96,128,192,256');
  const timeoutMin = Number(opt('timeout-min', Math.max(15, (15 * n) / 100000)));
  console.log(`\n## ANN: ${n} x 384 clustered vectors, M=16, efConstruction=200, k=10, one query at a time\n`);
  const rows = [];
  const wall = {};
  for (const name of names) {
    const spec = LIBS[name];
    if (!spec) { console.log(`unknown library ${name} (known: ${Object.keys(LIBS).join(', ')})`); continue; }
    if (spec.npm && !installPeer(peers, spec.npm)) { console.log(`${name}: npm install of ${spec.npm.join(' ')} failed: skipped`); continue; }
    const work = path.join(scratch, 'work', name);
    fs.rmSync(work, { recursive: true, force: true });
    const t = performance.now();
    const r = spawnSync(process.execPath, [path.join(shared, 'bench', 'bench-node.mjs'), '--lib', spec.lib, '--data', data, '--peers', peers, '--work', work, '--efs', efs], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 28, env: { ...process.env, ...spec.env }, timeout: timeoutMin * 60000, killSignal: 'SIGKILL',
    });
    wall[name] = (performance.now() - t) / 1000;
    for (const line of (r.stdout ?? '').split('\n')) {
      if (!line.startsWith('{')) continue;
      try { rows.push(JSON.parse(line)); } catch { /* a library's own stdout noise */ }
    }
    if (r.error || r.status !== 0) {
      const why = r.error?.code === 'ETIMEDOUT' ? `stopped after the ${timeoutMin}-minute limit` : `exit ${r.status ?? r.signal}${r.error ? ' ' + r.error.message : ''}`;
      console.log(`${name}: ${why}; its rows so far are kept, the run goes on`);
    }
    console.error(`[run] ${name}: ${wall[name].toFixed(0)} s, load average ${loadavg()}`);
    if (!flag('keep')) fs.rmSync(work, { recursive: true, force: true });
  }
  if (opt('json')) fs.writeFileSync(opt('json'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  printAnn(rows, wall);
}

/** Tables of one ANN run (the JSON lines of bench-node.mjs and our adapters). */
function printAnn(rows, wall) {
  const libs = [...new Set(rows.filter((r) => r.phase === 'build').map((r) => r.lib))];
  const one = (lib, phase) => rows.find((r) => r.lib === lib && r.phase === phase);
  const at = (lib, target, mode = 'single') => rows.find((r) => r.lib === lib && r.phase === 'search' && r.mode === mode && r.recall >= target);
  const S = {};
  for (const lib of libs) {
    const b = one(lib, 'build'), re = one(lib, 'reopen');
    const single = rows.filter((r) => r.lib === lib && r.phase === 'search' && r.mode === 'single');
    const t = {};
    for (const target of TARGETS) {
      const s = at(lib, target);
      const l = s && rows.find((r) => r.lib === lib && r.phase === 'latency' && r.ef === s.ef);
      t[target] = s && { qps: s.cpu_qps, ef: s.ef, recall: s.recall, p50: l?.p50_ms, p99: l?.p99_ms };
    }
    S[lib] = {
      version: b.version, buildS: b.build_s, buildCpu: b.build_cpu_s, hwm: b.hwm_mib, net: +(b.hwm_mib - b.rss_before_build_mib).toFixed(1),
      disk: re?.disk_mib, save: re?.save_ms, reopen: re ? +(re.reopen_ms + re.first_query_ms).toFixed(1) : undefined, re,
      t, batch: at(lib, 0.95, 'batch'), maxRecall: Math.max(...single.map((r) => r.recall)), load: b.loadavg1,
    };
  }
  const num = (x, d = 0) => (x == null || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
  const cell = (s, target) => {
    const x = s.t[target];
    if (!x) return `n/a (max ${num(s.maxRecall, 3)})`;
    return `${Math.round(x.qps)} (ef ${x.ef}, ${x.recall.toFixed(3)}) ${num(x.p50, 3)} / ${num(x.p99, 3)}`;
  };
  console.log('Absolute. QPS = queries per CPU-second, one query at a time, at the first ef reaching the recall@10 target, with its p50 / p99 latency in ms; '
    + 'peak RSS = VmHWM at the end of the build (in brackets: minus the RSS before the build, which holds the base vectors); '
    + 'reopen = open from disk + first query; save: n/a where the build already wrote the index (hektor flushes, LanceDB writes as it builds).\n');
  console.log('| library | build s wall / CPU | peak RSS MiB | QPS @0.90, p50 / p99 ms | QPS @0.95, p50 / p99 ms | QPS @0.99, p50 / p99 ms | batch QPS @0.95 (wall) | on disk MiB | save ms | reopen ms (open + 1st query) | load at build |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const lib of libs) {
    const s = S[lib];
    const reo = s.re ? `${num(s.reopen, 1)} (${num(s.re.reopen_ms, 1)} + ${num(s.re.first_query_ms, 1)})` : 'n/a';
    console.log(`| ${lib} ${s.version} | ${num(s.buildS, 1)} / ${num(s.buildCpu, 1)} | ${num(s.hwm)} (${num(s.net)}) | ${cell(s, 0.9)} | ${cell(s, 0.95)} | ${cell(s, 0.99)} | `
      + `${s.batch ? `${Math.round(s.batch.qps)} (ef ${s.batch.ef})` : 'n/a'} | ${num(s.disk, 1)} | ${num(s.save)} | ${reo} | ${s.load} |`);
  }
  const ours = libs.filter((l) => l.startsWith('hektor'));
  const theirs = libs.filter((l) => !l.startsWith('hektor'));
  const pairs = [];
  for (const h of ours) for (const p of theirs) pairs.push([h, p]);
  if (S.hektor && S['hektor-sq8']) pairs.push(['hektor-sq8', 'hektor']);
  if (pairs.length) {
    const r = (a, b) => (a == null || b == null || !b ? 'n/a' : (a / b).toFixed(2));
    const tr = (h, p, k) => TARGETS.map((t) => r(S[h].t[t]?.[k], S[p].t[t]?.[k])).join(' | ');
    console.log('\nRatios hektor / peer (QPS above 1, and times and sizes below 1, favour hektor; peak RSS net of the data; n/a where one side did not reach the target):\n');
    console.log('| hektor / peer | build wall | build CPU | peak RSS | on disk | reopen | QPS @0.90 | @0.95 | @0.99 | p50 @0.90 | @0.95 | @0.99 | p99 @0.90 | @0.95 | @0.99 |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const [h, p] of pairs) {
      const a = S[h], b = S[p];
      console.log(`| ${h} / ${p} | ${r(a.buildS, b.buildS)} | ${r(a.buildCpu, b.buildCpu)} | ${r(a.net, b.net)} | ${r(a.disk, b.disk)} | ${r(a.reopen, b.reopen)} | `
        + `${tr(h, p, 'qps')} | ${tr(h, p, 'p50')} | ${tr(h, p, 'p99')} |`);
    }
  }
  console.log(`\nWall time per library (build + sweep + reopen): ${Object.entries(wall).map(([l, s]) => `${l} ${s.toFixed(0)} s`).join(', ')}`);
}

if (!flag('skip-ann')) runAnn();
if (!flag('skip-overhead')) {
  console.log('\n## N-API overhead per call\n');
  spawnSync(process.execPath, [path.join(here, 'overhead.mjs')], { stdio: 'inherit' });
}
if ((n >= 1000000 && !flag('skip-scale')) || flag('scale')) {
  ensureData();
  console.log(`\n## hektor at scale: ${n} vectors\n`);
  spawnSync(process.execPath, [path.join(here, 'scale.mjs'), '--data', data, '--scratch', scratch], { stdio: 'inherit' });
}
if (!flag('skip-ingest')) {
  console.log('\n## Ingest throughput: CSV, JSONL, Parquet, no embedding\n');
  spawnSync(process.execPath, [path.join(here, 'ingest.mjs'), '--rows', opt('ingest-rows', '200000')], { stdio: 'inherit' });
}
console.log(`\nload average at end: ${loadavg()}; total ${((performance.now() - started) / 60000).toFixed(1)} min`);
