#!/usr/bin/env node
// Concurrency soak: one writer and many searchers on one collection, checking every answer.
//
//   node benches/soak.mjs [--seconds 180] [--searchers 6] [--pool 20000] [--no-reader] [--dir DIR]
//
// In one process, on one collection of 32-d vectors with text and metadata:
//   writer     upserts batches of 200 records drawn from a fixed pool of ids (new versions of
//              existing ids, and ids deleted earlier), deletes 50 ids every 4th batch, flushes
//              every 20th and compacts every 20th (after the flush);
//   searchers  N loops of vector (HNSW and exact), text and hybrid searches, each with one of
//              a set of filters, and searchBatch calls of 8 such queries;
//   reader     (unless --no-reader) a second process that opens the database readOnly and
//              searches it while it follows the writer, reopening it every 2 s.
// Every hit is checked: its id was written, its metadata and text are those of that id and
// satisfy the query's filter, and `get` finds it (unless the writer deleted it meanwhile;
// the reader's snapshot must find every hit). At the end the writer stops and the whole
// collection is compared with what was acknowledged. RSS is sampled every second.
// Prints the length, writes/s, searches/s, errors (must be 0), wrong results (must be 0),
// RSS min/max/last and the slope after warm-up; exits 1 when errors or wrong results occurred.
//
// `soak(options)` is what __test__/soak.test.mjs runs for ~15 s.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from '../ts/dist/index.js';
import { rng } from '../__test__/helpers.mjs';

const here = fileURLToPath(import.meta.url);
const DIM = 32;
const NAME = 'soak';
const GROUPS = 8;


/** The fixed part of id n's metadata (the writer adds the version `v`). */
const metaOf = (n) => ({ group: n % GROUPS, score: n, tags: [`t${n % 5}`, `u${n % 3}`], nested: { even: n % 2 === 0 } });
/** True when `m` is id n's metadata (any version). */
function isMetaOf(m, n) {
  const e = metaOf(n);
  return !!m && Object.keys(m).length === 5 && m.group === e.group && m.score === e.score && Number.isInteger(m.v)
    && JSON.stringify(m.tags) === JSON.stringify(e.tags) && JSON.stringify(m.nested) === JSON.stringify(e.nested);
}
/** The text of id n: searchable words tied to the id. */
const textOf = (n) => `item ${n} group${n % GROUPS} word${n % 13} kind${n % 7} common`;
/** A unit vector for version v of id n, near its group's direction. */
function vectorOf(n, v) {
  const r = rng(n * 7919 + v * 104729 + 1);
  const out = new Float32Array(DIM);
  for (let j = 0; j < DIM; j++) out[j] = Math.sin((n % GROUPS) * 1.7 + j * 0.9) + 0.6 * (r() - 0.5);
  const norm = Math.hypot(...out);
  return out.map((x) => x / norm);
}
const idNum = (id) => (/^r\d+$/.test(id) ? Number(id.slice(1)) : -1);

/** Filters with the predicate each must imply on a hit's metadata. */
const FILTERS = [
  [undefined, () => true],
  [{ group: 3 }, (m) => m.group === 3],
  [{ score: { $gte: 5000, $lt: 9000 } }, (m) => m.score >= 5000 && m.score < 9000],
  [{ tags: 't2' }, (m) => m.tags.includes('t2')],
  [{ $or: [{ group: 1 }, { 'nested.even': true }] }, (m) => m.group === 1 || m.nested.even === true],
  [{ group: { $in: [2, 4, 6] }, 'nested.even': false }, (m) => [2, 4, 6].includes(m.group) && m.nested.even === false],
  [{ $not: { group: 0 } }, (m) => m.group !== 0],
  [{ score: { $lt: 50 } }, (m) => m.score < 50],
];

/** A random query: [search options, filter predicate]. */
function randomQuery(r, pool) {
  const [filter, pred] = FILTERS[Math.floor(r() * FILTERS.length)];
  const n = Math.floor(r() * pool);
  const k = 1 + Math.floor(r() * 20);
  const text = `group${n % GROUPS} word${Math.floor(r() * 13)}`;
  const vector = vectorOf(n, Math.floor(r() * 5));
  const q = [
    () => ({ vector, k, filter }),
    () => ({ vector, k, filter, exact: true }),
    () => ({ text, k, filter }),
    () => ({ vector, text, k, filter }),
    () => ({ vector, text, k, filter, fusion: { type: 'weighted', alpha: 0.5 } }),
  ][Math.floor(r() * 5)]();
  return [q, pred];
}

/**
 * Checks the hits of one query. `exists(id)` says whether a missing `get` is acceptable
 * (the id was deleted meanwhile). Returns a list of problems (empty when all is right).
 */
async function checkHits(col, q, pred, hits, mayBeGone) {
  const bad = [];
  if (hits.length > q.k) bad.push(`${hits.length} hits for k=${q.k}`);
  if (new Set(hits.map((h) => h.id)).size !== hits.length) bad.push('duplicate hit ids');
  for (const h of hits) {
    const n = idNum(h.id);
    if (n < 0) bad.push(`hit ${h.id} was never written`);
    else {
      if (!isMetaOf(h.metadata, n)) bad.push(`hit ${h.id} has metadata ${JSON.stringify(h.metadata)}`);
      else if (!pred(h.metadata)) bad.push(`hit ${h.id} does not satisfy the filter ${JSON.stringify(q.filter)}`);
      if (h.text !== textOf(n)) bad.push(`hit ${h.id} has text ${JSON.stringify(h.text)}`);
    }
  }
  const got = await col.get(hits.map((h) => h.id), ['metadata']);
  got.forEach((rec, i) => {
    const id = hits[i].id;
    if (rec === null) {
      if (!mayBeGone(id)) bad.push(`hit ${id} is not found by get`);
    } else if (idNum(id) >= 0 && !pred(rec.metadata)) bad.push(`get(${id}) does not satisfy the filter`);
  });
  return bad;
}

/** Least-squares slope of ys over xs. */
function slope(xs, ys) {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den ? num / den : 0;
}

/**
 * Runs the soak and resolves with its numbers:
 * `{ seconds, writes, writeBatches, deletes, compactions, searches, errors, wrong, problems,
 *    rss: { min, max, last, warm, slopeMBPerMin, slopeLateMBPerMin, heapLast }, reader }` (MB).
 * @param {object} [o]
 * @param {number} [o.seconds=180] duration of the concurrent phase
 * @param {number} [o.searchers=6] concurrent search loops
 * @param {number} [o.pool=20000] size of the id pool the writer draws from
 * @param {boolean} [o.reader=true] also search from a second, readOnly process
 * @param {string} [o.dir] database directory (default: a temp dir, removed afterwards)
 * @param {number} [o.warmup] seconds before the RSS baseline (default a quarter, at most 30)
 * @param {number} [o.compactEvery=20] compact after every this many write batches
 * @param {(line: string) => void} [o.log] progress lines (default: none)
 */
export async function soak(o = {}) {
  const seconds = o.seconds ?? 180;
  const searchers = o.searchers ?? 6;
  const pool = o.pool ?? 20000;
  const warmup = o.warmup ?? Math.min(30, seconds / 4);
  const compactEvery = o.compactEvery ?? 20;
  const log = o.log ?? (() => {});
  const ownDir = !o.dir;
  const dir = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hektor-soak-'));
  const problems = [];
  let errors = 0;
  let wrong = 0;
  const fail = (what, e) => {
    errors++;
    if (problems.length < 20) problems.push(`${what}: ${e?.code ?? ''} ${e?.message ?? e}`);
  };
  const wrongResult = (list) => {
    wrong += list.length;
    for (const p of list) if (problems.length < 20) problems.push(p);
  };

  const db = await open(dir);
  const col = await db.createCollection(NAME, { dimension: DIM });
  // acknowledged state: id -> version (absent: deleted or never written)
  const live = new Map();
  const everDeleted = new Set();
  const version = new Array(pool).fill(0);
  const record = (n) => ({ id: `r${n}`, vector: vectorOf(n, version[n]), text: textOf(n), metadata: { ...metaOf(n), v: version[n] } });
  for (let start = 0; start < pool / 2; start += 2000) {
    const ns = Array.from({ length: Math.min(2000, pool / 2 - start) }, (_, i) => start + i);
    await col.upsert(ns.map(record));
    for (const n of ns) live.set(n, 0);
  }
  await col.flush();

  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const running = () => performance.now() < deadline;
  let writes = 0;
  let writeBatches = 0;
  let deletes = 0;
  let compactions = 0;
  let searches = 0;

  // RSS, every second
  const samples = [];
  const sample = () => {
    const m = process.memoryUsage();
    samples.push({ t: (performance.now() - t0) / 1000, mb: m.rss / 2 ** 20, heap: (m.heapUsed + m.external) / 2 ** 20 });
  };
  sample();
  const timer = setInterval(() => {
    sample();
    const s = samples.at(-1);
    if (samples.length % 10 === 1) log(`  ${s.t.toFixed(0)} s: ${writes} writes, ${searches} searches, ${errors} errors, ${wrong} wrong, rss ${s.mb.toFixed(0)} MB (JS heap + external ${s.heap.toFixed(0)} MB)`);
  }, 1000);

  async function writer() {
    const r = rng(7);
    for (let i = 0; running(); i++) {
      try {
        const batch = new Set();
        while (batch.size < 200) batch.add(Math.floor(r() * pool));
        const ns = [...batch];
        for (const n of ns) version[n]++;
        await col.upsert(ns.map(record));
        for (const n of ns) live.set(n, version[n]);
        writes += ns.length;
        writeBatches++;
        if (i % 4 === 3) {
          const ids = [];
          while (ids.length < 50) ids.push(Math.floor(r() * pool));
          for (const n of ids) everDeleted.add(`r${n}`); // before the call: a search may miss them from now on
          const { deleted } = await col.delete(ids.map((n) => `r${n}`));
          const expected = new Set(ids.filter((n) => live.has(n))).size;
          if (deleted !== expected) wrongResult([`delete reported ${deleted}, expected ${expected}`]);
          for (const n of ids) live.delete(n);
          deletes += deleted;
        }
        if (i % 20 === 19) await col.flush();
        if (i % compactEvery === compactEvery - 1) {
          await col.compact();
          compactions++;
        }
      } catch (e) {
        fail('writer', e);
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  }

  async function searcher(seed) {
    const r = rng(seed);
    while (running()) {
      try {
        if (r() < 0.15) {
          const qs = Array.from({ length: 8 }, () => randomQuery(r, pool));
          const res = await col.searchBatch(qs.map(([q]) => q));
          searches += qs.length;
          for (const [i, [q, pred]] of qs.entries()) wrongResult(await checkHits(col, q, pred, res[i], (id) => everDeleted.has(id)));
        } else {
          const [q, pred] = randomQuery(r, pool);
          const hits = await col.search(q);
          searches++;
          wrongResult(await checkHits(col, q, pred, hits, (id) => everDeleted.has(id)));
        }
      } catch (e) {
        fail('search', e);
      }
    }
  }

  const readerDone = o.reader === false ? Promise.resolve(null) : runReader(dir, seconds, pool);
  await Promise.all([writer(), ...Array.from({ length: searchers }, (_, i) => searcher(100 + i))]);
  const elapsed = (performance.now() - t0) / 1000;
  clearInterval(timer);
  sample();
  const reader = await readerDone;
  if (reader) {
    errors += reader.errors;
    wrong += reader.wrong;
    for (const p of reader.problems) if (problems.length < 20) problems.push(`reader: ${p}`);
  }

  // the final state is exactly what was acknowledged, in this handle and after a reopen
  try {
    const check = async (c, where) => {
      const count = await c.count();
      if (count !== live.size) wrongResult([`${where}: count ${count}, expected ${live.size}`]);
      const ns = Array.from({ length: pool }, (_, n) => n);
      for (let i = 0; i < ns.length; i += 2000) {
        const part = ns.slice(i, i + 2000);
        const got = await c.get(part.map((n) => `r${n}`), ['metadata', 'text']);
        part.forEach((n, j) => {
          const rec = got[j];
          if (!live.has(n)) {
            if (rec) wrongResult([`${where}: deleted r${n} is present`]);
          } else if (!rec || rec.metadata.v !== live.get(n) || rec.text !== textOf(n)) {
            wrongResult([`${where}: r${n} is ${rec ? `version ${rec.metadata.v}` : 'missing'}, expected version ${live.get(n)}`]);
          }
        });
      }
    };
    await check(col, 'final');
    await db.close();
    const db2 = await open(dir);
    await check(await db2.collection(NAME), 'reopened');
    await db2.close();
  } catch (e) {
    fail('final check', e);
  }
  if (ownDir) fs.rmSync(dir, { recursive: true, force: true });

  const mbs = samples.map((s) => s.mb);
  const after = samples.filter((s) => s.t >= warmup);
  const warm = after[0]?.mb ?? mbs.at(-1);
  return {
    seconds: elapsed,
    writes,
    writeBatches,
    deletes,
    compactions,
    searches,
    errors,
    wrong,
    problems,
    rss: {
      min: Math.min(...mbs),
      max: Math.max(...mbs),
      last: mbs.at(-1),
      warm,
      slopeMBPerMin: slope(after.map((s) => s.t), after.map((s) => s.mb)) * 60,
      // the second half of the run, where a leak shows and warm-up growth does not
      slopeLateMBPerMin: slope(samples.filter((s) => s.t >= seconds / 2).map((s) => s.t), samples.filter((s) => s.t >= seconds / 2).map((s) => s.mb)) * 60,
      heapLast: samples.at(-1).heap,
    },
    reader,
  };
}

/** Starts the readOnly reader process; resolves with its result. */
function runReader(dir, seconds, pool) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [here, '--child-reader', dir, String(seconds), String(pool)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)));
      } catch {
        resolve({ errors: 1, wrong: 0, searches: 0, reopens: 0, problems: [`reader process exited with ${code} and no result`] });
      }
    });
  });
}

/**
 * The reader process: searches a readOnly handle, which follows the writer (its reads see the
 * writer's acknowledged writes within 100 ms), reopened every 2 s; prints its result as JSON.
 * `followed` counts the times a handle's record count changed while it was open.
 */
async function childReader(dir, seconds, pool) {
  const deadline = performance.now() + seconds * 1000;
  const r = rng(999);
  const res = { errors: 0, wrong: 0, searches: 0, reopens: 0, followed: 0, problems: [] };
  const note = (p) => res.problems.length < 10 && res.problems.push(p);
  while (performance.now() < deadline) {
    let db;
    try {
      db = await open(dir, { readOnly: true });
      const col = await db.collection(NAME);
      res.reopens++;
      const until = Math.min(deadline, performance.now() + 2000);
      let count = await col.count();
      while (performance.now() < until) {
        const [q, pred] = randomQuery(r, pool);
        const hits = await col.search(q);
        res.searches++;
        // the handle follows the writer: a hit may be deleted before the get after it; its
        // text and metadata must still be right
        const bad = await checkHits(col, q, pred, hits, () => true);
        const now = await col.count();
        if (now !== count) res.followed++;
        count = now;
        res.wrong += bad.length;
        bad.forEach(note);
      }
    } catch (e) {
      res.errors++;
      note(`${e?.code ?? ''} ${e?.message ?? e}`);
      await new Promise((done) => setTimeout(done, 100));
    } finally {
      await db?.close().catch((e) => {
        res.errors++;
        note(`close: ${e?.message ?? e}`);
      });
    }
  }
  process.stdout.write(`${JSON.stringify(res)}\n`);
}

/** One-line summary of a result. */
export function summary(res) {
  const f = (x) => x.toFixed(0);
  const rd = res.reader ? `, reader ${res.reader.searches} searches over ${res.reader.reopens} opens, following the writer (${res.reader.followed} count changes seen)` : '';
  return [
    `length ${res.seconds.toFixed(1)} s; writes ${f(res.writes / res.seconds)} records/s (${res.writeBatches} batches, ${res.deletes} deleted, ${res.compactions} compactions); searches ${f(res.searches / res.seconds)}/s${rd}`,
    `errors ${res.errors}; wrong results ${res.wrong}`,
    `RSS MB: min ${f(res.rss.min)}, max ${f(res.rss.max)}, last ${f(res.rss.last)}, after warm-up ${f(res.rss.warm)}; slope after warm-up ${res.rss.slopeMBPerMin.toFixed(1)} MB/min, over the second half ${res.rss.slopeLateMBPerMin.toFixed(1)} MB/min; JS heap + external at the end ${f(res.rss.heapLast)} MB`,
    ...res.problems.map((p) => `  ${p}`),
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === here) {
  const args = process.argv.slice(2);
  if (args[0] === '--child-reader') {
    await childReader(args[1], Number(args[2]), Number(args[3]));
  } else {
    const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
    const seconds = Number(opt('--seconds', 180));
    console.log(`soak: ${seconds} s, ${opt('--searchers', 6)} searchers, pool ${opt('--pool', 20000)}${args.includes('--no-reader') ? '' : ', plus a readOnly reader process'}`);
    const res = await soak({
      seconds,
      searchers: Number(opt('--searchers', 6)),
      pool: Number(opt('--pool', 20000)),
      reader: !args.includes('--no-reader'),
      dir: opt('--dir', undefined),
      log: (l) => console.log(l),
    });
    console.log(summary(res));
    process.exitCode = res.errors || res.wrong ? 1 : 0;
  }
}
