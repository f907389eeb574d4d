#!/usr/bin/env node
// Text search (BM25) beside MiniSearch, Orama and tantivy on the shared real-text set (Debian
// package descriptions, 22,051 docs, 1,000 dev queries with one relevant document each), in one
// run on the same machine.
//
//   node benches/text-peers.mjs [--data ../shared/data/ir] [--json OUT.jsonl] [--peers DIR]
//        [--max-queries 1000] [--orama-queries 100] [--warmup 50]
//        [--systems hektor,minisearch,orama,tantivy]
//
// Every system indexes one text field, title + '\n' + text (benches/lib.mjs docText), and gets
// the query text as it is:
//   hektor      the SDK (ts/dist): createCollection without vectors, upsert of all documents +
//               flush; search { text, k: 100, mode: 'text', select: [] } (as benches/ir.mjs)
//   MiniSearch  new MiniSearch({ fields: ['text'], storeFields: [] }) + addAll, defaults
//               otherwise (no prefix, no fuzzy, OR); search(text), the first 100 results
//   Orama       create({ schema: { text: 'string' } }) + insert per document, full-text
//               defaults (BM25, prefix matching, tolerance 0); search(db, { term, limit: 100 })
//   tantivy     the Python binding (benches/ref_tantivy.py): en_stem tokenizer, BM25; query
//               words parsed leniently as a disjunction; timed inside Python
// Peers come from npm / PyPI on demand, into a scratch dir (--peers, default
// os.tmpdir()/hektor-bench/peers, the dir benches/run.mjs installs hnswlib-node into):
// `npm install --no-audit --no-fund minisearch @orama/orama` there, and for tantivy (unless
// python3 already imports it) `pip install --target DIR/py tantivy`; a peer that cannot be
// installed is skipped with a message.
//
// Each system runs in its own process (this script with --child NAME, or python3 for tantivy),
// so the peak RSS (getrusage maxrss) is that library's alone, with the data loaded (the RSS after
// loading the data, before indexing, is shown beside it). Measured per system:
//   build       wall and CPU seconds (all threads) to index the 22,051 documents, docs/s (wall)
//   quality     MRR@10, R@10, R@100 of the top 100 (exactly one relevant document per query)
//   latency     ms per query, one query at a time (each awaited before the next), mean / p50 /
//               p99, after a warm-up of the first --warmup queries; the timed part is the call
//               that returns the top-100 ids (query parsing included)
// Orama takes ~0.5 s a query, so only its first --orama-queries (default 100) are run; its
// ratio and MRR difference compare with hektor on the same first queries. The ratio column is
// hektor's mean (p50) latency over the peer's: below 1 means hektor is faster.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { args, defaultDataDir, docText, loadIr, rankOf, summarize } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const { opt } = args();
const dataDir = path.resolve(opt('data', defaultDataDir));
const peersDir = path.resolve(opt('peers', path.join(os.tmpdir(), 'hektor-bench', 'peers')));
const maxQueries = Number(opt('max-queries', 1000));
const oramaQueries = Number(opt('orama-queries', 100));
const warmup = Number(opt('warmup', 50));
const jsonOut = opt('json');
const systems = opt('systems', 'hektor,minisearch,orama,tantivy').split(',').filter(Boolean);
const child = opt('child');
const ALL = ['hektor', 'minisearch', 'orama', 'tantivy'];
if (![maxQueries, oramaQueries, warmup].every((n) => Number.isInteger(n) && n >= 0) || maxQueries < 1 || systems.some((s) => !ALL.includes(s))) {
  console.error('usage: node benches/text-peers.mjs [--data DIR] [--json OUT.jsonl] [--peers DIR] [--max-queries N] [--orama-queries N] [--warmup N] [--systems hektor,minisearch,orama,tantivy]');
  process.exit(2);
}
const NPM_PEERS = { minisearch: 'minisearch', orama: '@orama/orama' };
const pkgVersion = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;

// ---------------------------------------------------------------------------------------------
// The JS systems, each run in a child process: { version, build(), search(text) -> ids, close() }.
// search returns the ids synchronously where the library does (MiniSearch, Orama).

const peerRequire = () => createRequire(path.join(peersDir, 'package.json'));
const peerVersion = (pkg) => pkgVersion(path.join(peersDir, 'node_modules', ...pkg.split('/')));

const SYSTEMS = {
  async hektor(corpus) {
    const { open } = await import('../ts/dist/index.js'); // loaded here only, so peers never load the addon
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hektor-text-'));
    const db = await open(dir);
    const col = await db.createCollection('text');
    return {
      version: pkgVersion(path.join(here, '..')),
      async build() {
        await col.upsert(corpus.map((d) => ({ id: d.id, text: docText(d) })));
        await col.flush();
      },
      search: async (text) => (await col.search({ text, k: 100, mode: 'text', select: [] })).map((h) => h.id),
      async close() { await db.close(); fs.rmSync(dir, { recursive: true, force: true }); },
    };
  },
  async minisearch(corpus) {
    const mod = peerRequire()('minisearch');
    const MiniSearch = mod.default ?? mod;
    let ms;
    return {
      version: peerVersion('minisearch'),
      build() {
        ms = new MiniSearch({ fields: ['text'], storeFields: [] });
        ms.addAll(corpus.map((d) => ({ id: d.id, text: docText(d) })));
      },
      search: (text) => ms.search(text).slice(0, 100).map((r) => r.id),
    };
  },
  async orama(corpus) {
    const { create, insert, search } = peerRequire()('@orama/orama');
    let db;
    return {
      version: peerVersion('@orama/orama'),
      async build() {
        db = create({ schema: { text: 'string' } });
        for (const d of corpus) {
          const r = insert(db, { id: d.id, text: docText(d) });
          if (r instanceof Promise) await r;
        }
      },
      search(text) {
        const r = search(db, { term: text, limit: 100 });
        return r instanceof Promise ? r.then((x) => x.hits.map((h) => h.id)) : r.hits.map((h) => h.id);
      },
    };
  },
};

/** One system, in this (child) process; writes { version, build_s, ..., ranks, lat_ms, rss } to stdout. */
async function runChild(name, nq) {
  const { corpus, queries } = loadIr(dataDir);
  const qs = queries.slice(0, nq);
  const sys = await SYSTEMS[name](corpus);
  const loadedRss = process.resourceUsage().maxRSS * 1024;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sys.build();
  const build_s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const run = async (q) => { const r = sys.search(q.text); return r instanceof Promise ? await r : r; };
  for (const q of qs.slice(0, warmup)) await run(q);
  const ranks = [], lat = [];
  for (const q of qs) {
    const s = performance.now();
    const ids = await run(q);
    lat.push(performance.now() - s);
    ranks.push(rankOf(ids, q.relevant));
  }
  await sys.close?.();
  process.stdout.write(JSON.stringify({
    system: name, version: sys.version, docs: corpus.length, build_s, build_cpu_s: (c.user + c.system) / 1e6,
    ranks, lat_ms: lat, loaded_rss_bytes: loadedRss, rss_bytes: process.resourceUsage().maxRSS * 1024,
  }));
}

if (child) {
  await runChild(child, Number(opt('queries', maxQueries)));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Installing the peers

function ensureNpmPeers(names) {
  const missing = names.filter((n) => !fs.existsSync(path.join(peersDir, 'node_modules', ...NPM_PEERS[n].split('/'), 'package.json')));
  if (missing.length === 0) return;
  fs.mkdirSync(peersDir, { recursive: true });
  if (!fs.existsSync(path.join(peersDir, 'package.json'))) fs.writeFileSync(path.join(peersDir, 'package.json'), '{"private":true}');
  const pkgs = missing.map((n) => NPM_PEERS[n]);
  console.error(`text-peers: npm install ${pkgs.join(' ')} into ${peersDir}`);
  spawnSync('npm', ['install', '--no-audit', '--no-fund', ...pkgs], { cwd: peersDir, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** PYTHONPATH under which python3 imports tantivy ('' when it does already), or null. */
function tantivyPath() {
  const tryImport = (p) => spawnSync('python3', ['-c', 'import tantivy'], { env: { ...process.env, PYTHONPATH: p }, stdio: 'ignore' }).status === 0;
  if (tryImport(process.env.PYTHONPATH ?? '')) return process.env.PYTHONPATH ?? '';
  const target = path.join(peersDir, 'py');
  if (tryImport(target)) return target;
  console.error(`text-peers: python3 cannot import tantivy: pip install --target ${target} tantivy`);
  const r = spawnSync('python3', ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--only-binary', ':all:', '--target', target, 'tantivy'],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  return r.status === 0 && tryImport(target) ? target : null;
}

// ---------------------------------------------------------------------------------------------
// Run

const started = new Date();
const load0 = os.loadavg();
const results = [];
const fail = (name, why) => console.error(`text-peers: ${name} skipped: ${why}`);
ensureNpmPeers(systems.filter((s) => NPM_PEERS[s]));
for (const name of systems) {
  const nq = Math.min(maxQueries, name === 'orama' ? oramaQueries : maxQueries);
  if (nq === 0) { fail(name, 'no queries to run'); continue; }
  console.error(`text-peers: ${name}, ${nq} queries ...`);
  let r;
  if (name === 'tantivy') {
    const py = tantivyPath();
    if (py === null) { fail(name, '`python3 -c "import tantivy"` fails and pip could not install it'); continue; }
    r = spawnSync('python3', [path.join(here, 'ref_tantivy.py'), dataDir, String(nq), String(warmup)], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PYTHONPATH: py }, maxBuffer: 1 << 26,
    });
  } else if (NPM_PEERS[name] && !fs.existsSync(path.join(peersDir, 'node_modules', ...NPM_PEERS[name].split('/')))) {
    fail(name, `npm could not install ${NPM_PEERS[name]} into ${peersDir}`);
    continue;
  } else {
    r = spawnSync(process.execPath, [self, '--child', name, '--queries', String(nq), '--warmup', String(warmup), '--data', dataDir, '--peers', peersDir], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26,
    });
  }
  if (r.status !== 0) { fail(name, `its process failed (exit ${r.status ?? r.signal})`); continue; }
  const m = JSON.parse(r.stdout);
  results.push({ ...m, ...summarize(m.ranks, m.lat_ms) });
}
const load1 = os.loadavg();

const label = { hektor: 'hektor', minisearch: 'MiniSearch', orama: 'Orama', tantivy: 'tantivy-py' };
const hek = results.find((r) => r.system === 'hektor');
const mib = (b) => (b / 1048576).toFixed(0);
const signed = (x) => (x >= 0 ? '+' : '') + x.toFixed(4);
const rows = results.map((r) => {
  // hektor on the same (first) queries as the peer
  const same = hek && summarize(hek.ranks.slice(0, r.queries), hek.lat_ms.slice(0, r.queries));
  return {
    system: r.system, version: r.version, docs: r.docs, build_s: +r.build_s.toFixed(3), build_cpu_s: +r.build_cpu_s.toFixed(3),
    docs_per_s: Math.round(r.docs / r.build_s), queries: r.queries, warmup: Math.min(warmup, r.queries),
    mrr10: r.mrr10, r10: r.r10, r100: r.r100, mean_ms: r.mean_ms, p50_ms: r.p50_ms, p99_ms: r.p99_ms,
    rss_mib: +mib(r.rss_bytes), loaded_rss_mib: r.loaded_rss_bytes ? +mib(r.loaded_rss_bytes) : undefined,
    hektor_over_peer_mean: same ? +(same.mean_ms / r.mean_ms).toFixed(4) : undefined,
    hektor_over_peer_p50: same ? +(same.p50_ms / r.p50_ms).toFixed(4) : undefined,
    mrr10_hektor_minus_peer: same ? +(same.mrr10 - r.mrr10).toFixed(4) : undefined,
    hektor_same_queries: same && r.queries < hek.queries ? same : undefined,
    node: process.version, cores: os.cpus().length, date: started.toISOString(), loadavg: [load0[0], load1[0]].map((l) => +l.toFixed(2)),
  };
});

const ir = loadIr(dataDir);
const total = ir.queries.length;
console.log(`\ntext-peers: ${ir.corpus.length.toLocaleString('en-US')} docs, k = 100, one query at a time after ${warmup} warm-up queries; ` +
  `node ${process.version}, ${os.cpus().length} cores, ${started.toISOString().slice(0, 10)}, load average (1 min) ${load0[0].toFixed(2)} before, ${load1[0].toFixed(2)} after\n`);
console.log('| system | queries | build s wall / CPU | docs/s | MRR@10 | R@10 | R@100 | mean ms | p50 ms | p99 ms | peak RSS MiB (data loaded) | hektor / peer latency, mean (p50) | MRR@10 hektor - peer |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const q = r.queries < total ? `first ${r.queries}` : String(r.queries);
  const ratio = r.hektor_over_peer_mean === undefined ? 'n/a' : `${r.hektor_over_peer_mean.toPrecision(2)} (${r.hektor_over_peer_p50.toPrecision(2)})`;
  const diff = r.mrr10_hektor_minus_peer === undefined ? 'n/a' : signed(r.mrr10_hektor_minus_peer);
  console.log(`| ${label[r.system]} ${r.version} | ${q} | ${r.build_s.toFixed(2)} / ${r.build_cpu_s.toFixed(2)} | ${r.docs_per_s.toLocaleString('en-US')} | ` +
    `${r.mrr10.toFixed(4)} | ${r.r10.toFixed(3)} | ${r.r100.toFixed(3)} | ${r.mean_ms.toFixed(3)} | ${r.p50_ms.toFixed(3)} | ${r.p99_ms.toFixed(3)} | ` +
    `${r.rss_mib}${r.loaded_rss_mib !== undefined ? ` (${r.loaded_rss_mib})` : ''} | ${ratio} | ${diff} |`);
}
for (const r of rows) {
  if (r.hektor_same_queries && r.queries < (hek?.queries ?? 0)) {
    const s = r.hektor_same_queries;
    console.log(`\n${label[r.system]}: only the first ${r.queries} queries were run; on those hektor has MRR@10 ${s.mrr10.toFixed(4)}, mean ${s.mean_ms.toFixed(3)} ms, p50 ${s.p50_ms.toFixed(3)} ms (the ratio and difference use these).`);
  }
}
if (rows.length === 0) {
  console.error('text-peers: no system ran');
  process.exit(1);
}
if (jsonOut) {
  fs.writeFileSync(jsonOut, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
  console.log(`\nwrote ${rows.length} JSON lines to ${jsonOut}`);
}
