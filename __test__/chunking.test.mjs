// Chunked collections through the SDK: `chunking` splits text on upsert and ingest; hits
// name the parent record, the chunk and its span; get/count/delete see parents.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { chunkText, embedders, open, sources } from '../ts/dist/index.js';
import { rejectsWith, tmpDir } from './helpers.mjs';

// A toy embedder: counts of topic words, so chunks about a topic land near its queries.
const TOPICS = ['volcano', 'lava', 'violin', 'music', 'glacier', 'ice'];
const toy = embedders.custom(async (texts) => texts.map((t) => {
  const words = t.toLowerCase().match(/\p{L}+/gu) ?? [];
  return [...TOPICS.map((w) => words.filter((x) => x.startsWith(w)).length), 0.1];
}));

const GUIDE = [
  'Volcanoes form where magma reaches the surface. Lava flows from a volcano can run for kilometres.',
  'A violin has four strings and is played with a bow. Violin music ranges from folk to concertos.',
  'Glaciers are rivers of ice that move slowly downhill. Glacier ice can be thousands of years old.',
].join('\n\n');

test('search runs over chunks and names the parent, the chunk and its span', async () => {
  const dir = tmpDir('chunking');
  let db = await open(dir);
  let col = await db.createCollection('guide', { embedder: toy, chunking: { mode: 'paragraph', size: 120, overlap: 0 } });
  await col.upsert([{ id: 'guide', text: GUIDE, metadata: { lang: 'en' } }, { id: 'plain', metadata: { lang: 'en' } }]);
  assert.equal(await col.count(), 2, 'count sees parents');
  const st = await col.stats();
  assert.equal(st.chunks, 3);
  assert.deepEqual(st.config.chunking, { mode: 'paragraph', size: 120, overlap: 0 });

  for (const [query, word] of [['violin music', 'violin'], ['glacier ice', 'Glacier']]) {
    const [hit] = await col.search({ text: query, k: 1 });
    assert.equal(hit.id, 'guide');
    assert.match(hit.chunkId, /^guide#\d+$/);
    assert.equal(GUIDE.slice(hit.span[0], hit.span[1]), hit.text, 'the span points into the parent text');
    assert.ok(hit.text.includes(word));
    assert.deepEqual(hit.metadata, { lang: 'en' }, 'the parent metadata, no bookkeeping');
  }
  const [parent] = await col.get(['guide']);
  assert.equal(parent.text, GUIDE);
  assert.deepEqual(parent.metadata, { lang: 'en' });

  // the spans agree with chunkText's
  const chunks = await chunkText(GUIDE, { mode: 'paragraph', size: 120, overlap: 0 });
  assert.equal(chunks.length, 3);
  for (const c of chunks) assert.equal(GUIDE.slice(c.start, c.end), c.text);

  await db.close();
  db = await open(dir);
  col = await db.collection('guide', { embedder: toy });
  // replacing the parent with shorter text leaves no stale chunk
  await col.upsert([{ id: 'guide', text: 'Only volcanoes now. Lava everywhere.' }]);
  assert.equal((await col.stats()).chunks, 1);
  assert.deepEqual((await col.search({ text: 'violin', k: 5, mode: 'text' })).length, 0);
  await rejectsWith(assert, col.upsert([{ id: 'x', text: 'a', vector: [1, 0, 0, 0, 0, 0, 0] }]), 'ERR_INVALID_ARG');
  assert.equal((await col.delete(['guide'])).deleted, 1);
  assert.equal((await col.stats()).chunks, 0);
  await db.close();
});

test('ingest chunks too', async () => {
  const dir = tmpDir('chunk-ingest');
  const file = path.join(dir, 'docs.jsonl');
  fs.writeFileSync(file, [{ id: 'a', body: GUIDE }, { id: 'b', body: 'A short note about ice.' }].map((r) => JSON.stringify(r)).join('\n'));
  const db = await open(path.join(dir, 'db'));
  const col = await db.createCollection('docs', { embedder: toy, chunking: { mode: 'paragraph', size: 120, overlap: 0 } });
  const report = await col.ingest(sources.jsonl(file, { id: 'id', text: 'body' }));
  assert.equal(report.upserted, 2);
  assert.equal(await col.count(), 2);
  assert.equal((await col.stats()).chunks, 4);
  const hits = await col.search({ text: 'lava volcano', k: 1 });
  assert.equal(hits[0].id, 'a');
  await db.close();
});
