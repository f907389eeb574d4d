// Embedding throughput: hektor's `embedders.local` (all-MiniLM-L6-v2 in-process, Rust) beside
// sentence-transformers (torch) on the same model folder, the same texts and the same number
// of threads, in one run: docs/s of each and the ratio, the cosine agreement of the vectors,
// the load average and the CPU's vector extensions.
//
// Texts: ~80-word Debian package descriptions (`title\ntext`, the demo corpus in
// scripts/demo-data, or the shared IR corpus when more than its 2,997 are asked for) and short
// queries (the shared dev queries, else the demo's). The rounds alternate hektor and
// sentence-transformers so that both see the same machine; the median round is reported.
//
// usage: node benches/embed.mjs [--n 3000] [--queries 1000] [--threads 2] [--rounds 3] [--batch 32] [--precision f32,int8]
//   needs `python3 -m pip install sentence-transformers` for the reference side (else hektor only)
// API:   import { benchEmbed } from './embed.mjs'; const r = await benchEmbed({ n: 3000, threads: 2 })
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { embedders, open } from '../ts/dist/index.js';
import { fetchModels } from '../scripts/fetch-models.mjs';
import { args, defaultDataDir, docText, lines, loadavg } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');

/** The CPU's model name and the vector extensions that pick hektor's kernels. */
export function cpuInfo() {
  let text = '';
  try {
    text = fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: flags unknown
  }
  const flags = new Set((text.match(/^flags\s*:\s*(.*)$/m)?.[1] ?? '').split(/\s+/));
  const pick = ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'avx512_bf16'];
  return {
    model: text.match(/^model name\s*:\s*(.*)$/m)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    flags: pick.filter((f) => flags.has(f)),
  };
}

/** `n` document texts and `q` query texts. */
function loadTexts(n, q, dataDir) {
  const demo = zlib.gunzipSync(fs.readFileSync(path.join(root, 'scripts/demo-data/packages.jsonl.gz'))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
  const shared = fs.existsSync(path.join(dataDir, 'corpus.jsonl'));
  const docsFrom = n > demo.length && shared ? lines(path.join(dataDir, 'corpus.jsonl')).map((l) => JSON.parse(l)) : demo;
  const docs = docsFrom.slice(0, n).map(docText);
  const queriesFrom = fs.existsSync(path.join(dataDir, 'queries-dev.jsonl'))
    ? lines(path.join(dataDir, 'queries-dev.jsonl')).map((l) => JSON.parse(l).text)
    : JSON.parse(fs.readFileSync(path.join(root, 'scripts/demo-data/queries.json'), 'utf8')).map((x) => x.text);
  const queries = Array.from({ length: q }, (_, i) => queriesFrom[i % queriesFrom.length]);
  return {
    docs: { name: `docs (${docsFrom === demo ? 'demo corpus' : 'shared corpus'}, ~80 words)`, texts: docs },
    queries: { name: `queries (${queriesFrom.length > 8 ? 'shared dev' : 'demo'}, short)`, texts: queries },
  };
}

/** The sentence-transformers process: `{ info, embed(texts) -> { seconds, vectors }, close() }`, or null with a reason. */
async function startReference(modelDir, threads, batchSize, tmp) {
  const py = process.env.PYTHON || 'python3';
  const child = spawn(py, [path.join(here, 'ref_st_embed.py'), modelDir, String(threads)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), TOKENIZERS_PARALLELISM: 'false' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const out = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const r = await out.next();
    if (r.done) throw new Error(`sentence-transformers exited: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return JSON.parse(r.value);
  };
  let info;
  try {
    info = await next();
  } catch (e) {
    child.kill();
    return { error: e.message };
  }
  let k = 0;
  return {
    info,
    async embed(texts) {
      const file = path.join(tmp, `texts-${k}.json`);
      const vecs = path.join(tmp, `vectors-${k++}.f32`);
      fs.writeFileSync(file, JSON.stringify(texts));
      child.stdin.write(JSON.stringify({ texts: file, out: vecs, batchSize }) + '\n');
      const { seconds } = await next();
      const buf = fs.readFileSync(vecs);
      return { seconds, vectors: new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4) };
    },
    close() {
      child.stdin.end();
    },
  };
}

function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return d / Math.sqrt(na * nb);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Embeds the same texts with hektor (each of `precisions`: `f32`, the default, and `int8`,
 * which is f32 on CPUs without AVX-512 VNNI) and sentence-transformers on `threads` threads,
 * `rounds` times alternating, and prints a table. Resolves to `{ date, cpu, threads,
 * loadavgStart, loadavgEnd, reference, hektorLoadMs, rows: [{ set, precision, n, hektor, st,
 * ratio, hektorBest, stBest, minCosine, meanCosine }] }` (docs/s, median of the rounds; `st`,
 * `ratio` and the cosines to sentence-transformers' vectors are null when it is not installed).
 */
export async function benchEmbed({ n = 3000, threads = 2, queries = 1000, rounds = 3, batchSize = 32, precisions = ['f32', 'int8'], dataDir = defaultDataDir, print = true } = {}) {
  const loadavgStart = loadavg();
  const cpu = cpuInfo();
  const { minilm } = fetchModels();
  const sets = loadTexts(n, queries, dataDir);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hektor-embed-bench-'));
  const hektor = {};
  const loadMs = {};
  for (const p of precisions) {
    hektor[p] = embedders.local({ path: minilm, threads, batchSize, precision: p });
    loadMs[p] = (await hektor[p].ready()).loadMs;
    await hektor[p].embed(['warm up the kernels', 'a second text']);
  }
  const ref = await startReference(minilm, threads, batchSize, tmp);
  const rows = [];
  let searchBatch = null;
  try {
    for (const set of [sets.docs, sets.queries]) {
      const h = Object.fromEntries(precisions.map((p) => [p, []]));
      const got = {};
      const s = [];
      let stVectors = null;
      for (let r = 0; r < rounds; r++) {
        for (const p of precisions) {
          const t = performance.now();
          got[p] = await hektor[p].embed(set.texts);
          h[p].push(set.texts.length / ((performance.now() - t) / 1000));
        }
        if (ref.embed) {
          const { seconds, vectors } = await ref.embed(set.texts);
          s.push(set.texts.length / seconds);
          stVectors ??= vectors;
        }
      }
      const sm = s.length ? median(s) : null;
      for (const p of precisions) {
        let cos = null;
        if (stVectors) {
          const dim = got[p][0].length;
          const c = got[p].map((v, i) => cosine(v, stVectors.subarray(i * dim, (i + 1) * dim)));
          cos = { min: Math.min(...c), mean: c.reduce((a, b) => a + b, 0) / c.length };
        }
        const hm = median(h[p]);
        rows.push({
          set: set.name, precision: p, n: set.texts.length, hektor: hm, st: sm, ratio: sm ? hm / sm : null,
          hektorBest: Math.max(...h[p]), stBest: s.length ? Math.max(...s) : null,
          minCosine: cos?.min ?? null, meanCosine: cos?.mean ?? null,
        });
      }
    }
    searchBatch = await benchSearchBatch(hektor[precisions[0]], sets, tmp);
  } finally {
    ref.close?.();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const result = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    cpu, threads, batchSize, rounds, hektorLoadMs: loadMs,
    reference: ref.info ?? { error: ref.error },
    loadavgStart, loadavgEnd: loadavg(), rows, searchBatch,
  };
  if (print) printEmbed(result);
  return result;
}

/**
 * 200 hybrid text queries (embedded by the collection's embedder) one `search` at a time vs
 * one `searchBatch`, over 1,000 of the documents (stored with their vectors): ms of each.
 */
async function benchSearchBatch(embedder, sets, tmp) {
  const db = await open(path.join(tmp, 'db'));
  const col = await db.createCollection('docs', { embedder });
  const docs = sets.docs.texts.slice(0, 1000);
  const vectors = await embedder.embed(docs);
  await col.upsert(docs.map((text, i) => ({ id: `d${i}`, text, vector: vectors[i] })));
  const queries = sets.queries.texts.slice(0, 200).map((text) => ({ text, k: 10 }));
  await col.search(queries[0]);
  let t = performance.now();
  for (const q of queries) await col.search(q);
  const loopMs = performance.now() - t;
  t = performance.now();
  await col.searchBatch(queries);
  const batchMs = performance.now() - t;
  await db.close();
  return { queries: queries.length, loopMs, batchMs };
}

/** Prints the table of a `benchEmbed` result. */
export function printEmbed(r) {
  const f = (x, d = 1) => (x === null || x === undefined ? '-' : x.toFixed(d));
  console.log(`## Embedding: hektor embedders.local vs sentence-transformers (all-MiniLM-L6-v2), ${r.date}`);
  console.log(`CPU: ${r.cpu.model}, ${r.cpu.cores} cores, flags: ${r.cpu.flags.join(' ') || 'none of avx2/avx512'}; ${r.threads} threads each; batch ${r.batchSize}; median of ${r.rounds} alternating rounds`);
  console.log(`reference: ${r.reference.error ? `not run (${r.reference.error})` : `sentence-transformers ${r.reference.sentenceTransformers}, torch ${r.reference.torch}, ${r.reference.threads} threads`}`);
  const loads = Object.entries(r.hektorLoadMs).map(([p, ms]) => `${p} ${f(ms, 0)} ms`).join(', ');
  console.log(`load average: ${r.loadavgStart} at start, ${r.loadavgEnd} at end; hektor model load: ${loads}\n`);
  console.log('| texts | n | hektor precision | hektor docs/s | sentence-transformers docs/s | ratio | best of rounds (h / st) | cosine to s-t min / mean |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const x of r.rows) {
    console.log(`| ${x.set} | ${x.n} | ${x.precision} | ${f(x.hektor)} | ${f(x.st)} | ${x.ratio === null ? '-' : f(x.ratio, 2) + 'x'} | ${f(x.hektorBest)} / ${f(x.stBest)} | ${f(x.minCosine, 5)} / ${f(x.meanCosine, 6)} |`);
  }
  if (r.searchBatch) {
    const b = r.searchBatch;
    console.log(`\n${b.queries} hybrid text queries (embedded by the collection's f32 embedder, k 10, 1,000 documents): one search at a time ${f(b.loopMs, 0)} ms, one searchBatch ${f(b.batchMs, 0)} ms (${f(b.loopMs / b.batchMs, 1)}x)`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const a = args();
  await benchEmbed({
    n: Number(a.opt('n', 3000)),
    queries: Number(a.opt('queries', 1000)),
    threads: Number(a.opt('threads', 2)),
    rounds: Number(a.opt('rounds', 3)),
    batchSize: Number(a.opt('batch', 32)),
    precisions: a.opt('precision', 'f32,int8').split(','),
    dataDir: a.opt('data', defaultDataDir),
  });
}
