#!/usr/bin/env node
// The per-call cost of crossing into the addon, in CPU microseconds per call (process.cpuUsage:
// every thread of the process, so the libuv / engine threads' work counts too):
//
//   node benches/overhead.mjs [--calls 20000] [--reps 3]
//
//   count()          `col.count()` on a collection of 10 records: an N-API call that does
//                    almost nothing in the engine (promise, libuv work item, result back)
//   search           `col.search({ vector, k: 10, select: [] })` on 1,000 x 384-d vectors (cosine,
//                    HNSW with the default efSearch 64), --calls sequential awaited calls cycling
//                    over 1,000 query vectors
//   searchBatch      the same queries through `col.searchBatch`, 1,000 a call, CPU divided by the
//                    number of queries: the engine's time per query with the per-call costs
//                    (N-API, promise, work item, one JSON request and reply) spread over 1,000
//   overhead         search - searchBatch per query: what one query pays for being its own call
//   tiny search      `col.search({ vector, k: 10, select: [] })` on a collection of 16 x 384-d
//                    vectors (the engine's share is ~1 us: 16 dot products): the whole per-call
//                    cost of a search measured directly, without the batch estimate
//   k=100 vectors    `col.search({ vector, k: 100, select: ['vector'], exact: true })` against the same
//                    with `select: []`: what carrying 100 hits' 384-d vectors back costs
// Each figure is the median of --reps runs of --calls calls (searchBatch: --calls queries), after
// a warm-up of a tenth as many. Wall microseconds are shown beside; searchBatch spreads its
// queries over the cores, so its wall time per query is below its CPU time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from '../ts/dist/index.js';
import { args, loadavg } from './lib.mjs';

const { opt } = args();
const CALLS = Number(opt('calls', 20000)), REPS = Number(opt('reps', 3)), DIM = 384, N = 1000, BATCH = 1000;

// seeded unit vectors (xorshift32 + Box-Muller), the queries near the stored vectors
let seed = 0x9e3779b9;
const rnd = () => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return (seed + 0.5) / 4294967296; };
const gauss = () => Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd());
const unit = (v) => { let s = 0; for (const x of v) s += x * x; s = Math.sqrt(s); return v.map((x) => x / s); };
const base = Array.from({ length: N }, () => unit(Float32Array.from({ length: DIM }, gauss)));
const queries = base.map((b) => unit(b.map((x) => x + 0.05 * gauss())));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hektor-overhead-'));
const db = await open(dir);
const small = await db.createCollection('small', { dimension: 4 });
await small.upsert(Array.from({ length: 10 }, (_, i) => ({ id: String(i), vector: [1, i, 2, 3] })));
const tiny = await db.createCollection('tiny', { dimension: DIM, metric: 'cosine' });
await tiny.upsert(base.slice(0, 16).map((vector, i) => ({ id: String(i), vector })));
const col = await db.createCollection('c1k', { dimension: DIM, metric: 'cosine' });
await col.upsert(base.map((vector, i) => ({ id: String(i), vector })));
await col.flush();

const cpuUs = () => { const u = process.cpuUsage(); return u.user + u.system; };
/** CPU and wall microseconds per unit of `n` calls of `fn(i)` (each awaited), each counting `per` units. */
async function measure(fn, n, per = 1) {
  for (let i = 0; i < Math.ceil(n / 10); i++) await fn(i);
  const c = cpuUs(), t = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return { cpu: (cpuUs() - c) / (n * per), wall: ((performance.now() - t) * 1000) / (n * per) };
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function median3(fn, n, per) {
  const runs = [];
  for (let r = 0; r < REPS; r++) runs.push(await measure(fn, n, per));
  return { cpu: median(runs.map((r) => r.cpu)), wall: median(runs.map((r) => r.wall)) };
}

const batch = queries.slice(0, BATCH).map((vector) => ({ vector, k: 10, select: [] }));
const count = await median3(() => small.count(), CALLS);
const single = await median3((i) => col.search({ vector: queries[i % N], k: 10, select: [] }), CALLS);
const batched = await median3(() => col.searchBatch(batch), Math.max(1, Math.round(CALLS / BATCH)), BATCH);
const tinySearch = await median3((i) => tiny.search({ vector: queries[i % N], k: 10, select: [] }), CALLS);
// the result conversion: 100 hits with their 384-d vectors, exact (no graph walk)
const wide = await median3((i) => col.search({ vector: queries[i % N], k: 100, select: ['vector'], exact: true }), Math.max(1, Math.round(CALLS / 10)));
const wideBare = await median3((i) => col.search({ vector: queries[i % N], k: 100, select: [], exact: true }), Math.max(1, Math.round(CALLS / 10)));
await db.close();
fs.rmSync(dir, { recursive: true, force: true });

const f = (x) => x.toFixed(1);
console.log(`N-API call cost, ${CALLS} sequential awaited calls, median of ${REPS} (load average ${loadavg()})\n`);
console.log('| call | CPU us / call | wall us / call |\n|---|---|---|');
console.log(`| count() on 10 records | ${f(count.cpu)} | ${f(count.wall)} |`);
console.log(`| search k=10, select [] (1,000 x 384-d, ef 64) | ${f(single.cpu)} | ${f(single.wall)} |`);
console.log(`| searchBatch of ${BATCH}, per query (engine estimate) | ${f(batched.cpu)} | ${f(batched.wall)} |`);
console.log(`| overhead per search call (search - searchBatch per query) | ${f(single.cpu - batched.cpu)} | ${f(single.wall - batched.wall)} |`);
console.log(`| search k=10, select [] on 16 vectors (per-call cost measured directly) | ${f(tinySearch.cpu)} | ${f(tinySearch.wall)} |`);
console.log(`| search k=100 exact, select ['vector'] (1,000 x 384-d) | ${f(wide.cpu)} | ${f(wide.wall)} |`);
console.log(`| search k=100 exact, select [] (the same without the vectors) | ${f(wideBare.cpu)} | ${f(wideBare.wall)} |`);
console.log(`| cost of returning 100 vectors (the two above) | ${f(wide.cpu - wideBare.cpu)} | ${f(wide.wall - wideBare.wall)} |`);
