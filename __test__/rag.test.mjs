// RAG with user callbacks (custom embedder, reranker, generator), chunking and ask/askStream.
// The local models (MiniLM embedder, SmolLM2 generator) are tested in models.test.mjs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chunkText, embedders, generators, open, rerankers } from '../ts/dist/index.js';
import { rejectsWith, tmpDir } from './helpers.mjs';

// A toy embedder: counts of a few topic words, so similar texts get similar vectors.
const TOPICS = ['tower', 'paris', 'banana', 'fruit', 'rust', 'language', 'memory', 'safe'];
const toy = (t) => {
  const words = t.toLowerCase().match(/\p{L}+/gu) ?? [];
  const v = TOPICS.map((w) => words.filter((x) => x.startsWith(w)).length);
  v.push(0.1);
  return v;
};

const DOCS = [
  { id: 'eiffel', text: 'The Eiffel Tower in Paris opened in 1889. The tower is 330 metres tall.' },
  { id: 'banana', text: 'Bananas are a fruit rich in potassium. A banana is usually yellow.' },
  { id: 'rust', text: 'Rust is a systems language with memory safety and no garbage collector. Rust code is safe and fast.' },
];

/** Answers with the first passage's first sentence and a citation, streaming word by word. */
const echo = generators.custom(async function* (messages) {
  const user = messages.at(-1).content;
  const first = user.split('\n').find((l) => l.startsWith('[1] ')).slice(4).split('. ')[0];
  for (const w of `${first} [1].`.split(/(?<= )/)) yield w;
});

describe('rag with callbacks', () => {
  test('a custom embedder embeds on upsert and at query time', async () => {
    const db = await open(tmpDir('rag'));
    let calls = 0;
    const embedder = embedders.custom(async (texts) => { calls++; return texts.map(toy); });
    const col = await db.createCollection('kb', { embedder });
    await col.upsert(DOCS);
    assert.equal((await col.stats()).dimension, TOPICS.length + 1);
    const hits = await col.search({ text: 'which language is memory safe?', k: 1 });
    assert.equal(hits[0].id, 'rust');
    assert.ok(hits[0].vectorScore > 0 && hits[0].textScore > 0, 'hybrid by default with an embedder');
    assert.ok(calls >= 2);
    const [v] = await embedder.embed(['tower']);
    assert.ok(v instanceof Float32Array && v[0] === 1);

    const answer = await col.ask('When did the Eiffel Tower open?', { generator: echo, k: 2 });
    assert.equal(answer.answer, 'The Eiffel Tower in Paris opened in 1889 [1].');
    assert.equal(answer.citations[0].id, 'eiffel');
    assert.equal(answer.contexts.length, 2);
    assert.ok(answer.grounding.score === 1, JSON.stringify(answer.grounding));
    assert.ok(answer.timings.totalMs >= answer.timings.generateMs);

    const events = [];
    for await (const ev of col.askStream('Tell me about bananas', { generator: echo, rerank: rerankers.mmr({ lambda: 0.5 }) })) events.push(ev);
    assert.ok(events.length > 2 && events[0].type === 'token');
    const done = events.at(-1);
    assert.equal(done.type, 'done');
    assert.equal(events.filter((e) => e.type === 'token').map((e) => e.text).join(''), done.answer.answer);
    assert.equal(done.answer.citations[0].id, 'banana');

    // a custom reranker reorders: it puts the Rust passage first whatever the question
    const rr = rerankers.custom(async (_q, passages) => passages.map((p) => (p.startsWith('Rust') ? 10 : 0)));
    const a2 = await col.ask('Eiffel tower', { generator: echo, rerank: rr, k: 3 });
    assert.equal(a2.contexts[0].id, 'rust');
    await db.close();
  });

  test('callback failures and aborts are HektorErrors', async () => {
    const db = await open(tmpDir('ragerr'));
    const col = await db.createCollection('kb', { embedder: embedders.custom(async (t) => t.map(toy)) });
    await col.upsert(DOCS);
    const failing = generators.custom(async () => { throw new Error('model server returned 500'); });
    const e = await rejectsWith(assert, col.ask('Eiffel?', { generator: failing }), 'ERR_CALLBACK');
    assert.match(e.message, /500/);
    const bad = embedders.custom(async () => 'nope');
    await rejectsWith(assert, col.upsert({ id: 'x', text: 'x' }).then(() => { col.setEmbedder(bad); return col.upsert({ id: 'y', text: 'y' }); }), 'ERR_CALLBACK');
    col.setEmbedder(embedders.custom(async (t) => t.map(toy)));
    const slow = generators.custom(async function* () { for (;;) { yield 'x '; await new Promise((r) => setTimeout(r, 5)); } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await rejectsWith(assert, col.ask('Eiffel?', { generator: slow, signal: ac.signal }), 'ERR_ABORTED');
    await rejectsWith(assert, col.ask('Eiffel?', { generator: echo, template: 'no placeholders' }), 'ERR_INVALID_ARG');
    await rejectsWith(assert, col.ask('Eiffel?', {}), 'ERR_INVALID_ARG');
    await db.close();
  });

  test('chunkText spans round-trip to the source text', async () => {
    const text = 'First paragraph. It has two sentences.\n\nSecond paragraph, with ünïcödé and emoji 😀 here. And more words follow here.\n\nThird.';
    for (const mode of ['recursive', 'sentence', 'paragraph']) {
      const chunks = await chunkText(text, { mode, size: 40, overlap: 8 });
      assert.ok(chunks.length >= 3);
      for (const c of chunks) {
        assert.equal(text.slice(c.start, c.end), c.text);
        assert.ok(c.size <= 40 || !c.text.includes(' '));
      }
    }
    await rejectsWith(assert, chunkText(text, { size: 10, overlap: 10 }), 'ERR_INVALID_ARG');
  });
});
