#!/usr/bin/env node
// `npm run bench`: hektor beside its peers on the same data in one run.
//   1. text/hybrid quality + latency on the shared real-text set (benches/ir.mjs, with the
//      bm25s reference when Python has bm25s + PyStemmer);
//   2. ANN on N clustered 384-d vectors (default 100k) through the shared harness
//      (../shared/bench: gen_dataset.py, bench-node.mjs): hektor (benches/hektor-adapter.mjs)
//      and hnswlib-node, one library per process, same data, same machine;
//   3. ingest throughput of CSV, JSONL and Parquet (benches/ingest.mjs, default 200k rows) beside
//      csv-parse, readline + JSON.parse and hyparquet.
// usage: npm run bench [-- --n 100000] [--scratch DIR] [--shared ../shared] [--ingest-rows 200000]
//                      [--skip-ir] [--skip-ann] [--skip-ingest]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf('--' + n); return i >= 0 ? argv[i + 1] : d; };
const shared = path.resolve(opt('shared', path.join(here, '..', '..', 'shared')));
const scratch = path.resolve(opt('scratch', path.join(os.tmpdir(), 'hektor-bench')));
const n = Number(opt('n', 100000));

if (!argv.includes('--skip-ir')) {
  console.log('## Text and hybrid retrieval (Debian package descriptions, 22,051 docs, 1,000 queries)\n');
  spawnSync(process.execPath, [path.join(here, 'ir.mjs'), '--data', path.join(shared, 'data', 'ir'), '--ref'], { stdio: 'inherit' });
}
if (!argv.includes('--skip-ann')) {
  const bench = path.join(shared, 'bench');
  const data = path.join(scratch, 'data', `synth-${n / 1000}k`);
  const peers = path.join(scratch, 'peers');
  fs.mkdirSync(peers, { recursive: true });
  if (!fs.existsSync(path.join(data, 'gt.ivecs'))) {
    console.error(`generating ${n} vectors (needs python3 with numpy)`);
    execFileSync('python3', [path.join(bench, 'gen_dataset.py'), String(n), data], { stdio: 'inherit' });
  }
  if (!fs.existsSync(path.join(peers, 'node_modules', 'hnswlib-node'))) {
    if (!fs.existsSync(path.join(peers, 'package.json'))) fs.writeFileSync(path.join(peers, 'package.json'), '{"private":true}');
    spawnSync('npm', ['install', '--no-audit', '--no-fund', 'hnswlib-node'], { cwd: peers, stdio: 'inherit' });
  }
  console.log(`\n## ANN: ${n} x 384 clustered vectors, M=16, efConstruction=200, k=10, one query at a time\n`);
  const rows = [];
  for (const lib of [path.join(here, 'hektor-adapter.mjs'), 'hnswlib-node']) {
    const work = path.join(scratch, 'work', path.basename(lib, '.mjs'));
    fs.rmSync(work, { recursive: true, force: true });
    const r = spawnSync(process.execPath, [path.join(bench, 'bench-node.mjs'), '--lib', lib, '--data', data, '--peers', peers, '--work', work,
      '--efs', '10,16,24,32,48,64,96,128'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
    rows.push(...r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)));
  }
  const libs = [...new Set(rows.filter((r) => r.phase === 'build').map((r) => r.lib))];
  const at = (lib, target, mode = 'single') => rows.find((r) => r.lib === lib && r.phase === 'search' && r.mode === mode && r.recall >= target);
  console.log('| library | build s wall / CPU | QPS@0.90 (cpu) | QPS@0.95 (cpu) | QPS@0.99 (cpu) | batch QPS@0.95 (wall) |\n|---|---|---|---|---|---|');
  for (const lib of libs) {
    const b = rows.find((r) => r.lib === lib && r.phase === 'build');
    const cell = (t) => { const r = at(lib, t); return r ? `${Math.round(r.cpu_qps)} (ef ${r.ef}, r ${r.recall})` : 'n/a'; };
    const bt = at(lib, 0.95, 'batch');
    console.log(`| ${lib} ${b.version} | ${b.build_s} / ${b.build_cpu_s} | ${cell(0.9)} | ${cell(0.95)} | ${cell(0.99)} | ${bt ? Math.round(bt.qps) : 'n/a'} |`);
  }
  const h = (lib, t) => at(lib, t)?.cpu_qps;
  if (libs.length === 2) {
    for (const t of [0.9, 0.95, 0.99]) if (h(libs[0], t) && h(libs[1], t)) console.log(`ratio hektor / ${libs[1]} CPU-QPS @${t}: ${(h(libs[0], t) / h(libs[1], t)).toFixed(2)}`);
    const b0 = rows.find((r) => r.lib === libs[0] && r.phase === 'build'), b1 = rows.find((r) => r.lib === libs[1] && r.phase === 'build');
    console.log(`ratio build CPU: ${(b0.build_cpu_s / b1.build_cpu_s).toFixed(2)}, build wall: ${(b0.build_s / b1.build_s).toFixed(2)}`);
  }
  const reopen = rows.find((r) => r.phase === 'reopen');
  if (reopen) console.log(`hektor reopen: ${reopen.reopen_ms} ms, on disk ${reopen.disk_mib} MiB`);
}
if (!argv.includes('--skip-ingest')) {
  console.log('\n## Ingest throughput: CSV, JSONL, Parquet, no embedding\n');
  spawnSync(process.execPath, [path.join(here, 'ingest.mjs'), '--rows', opt('ingest-rows', '200000')], { stdio: 'inherit' });
}
