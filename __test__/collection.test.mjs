// The SDK's collection API: writes, reads, search modes, filters, errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ERROR_CODES, HektorError, open } from '../ts/dist/index.js';
import { clustered, rejectsWith, tmpDir } from './helpers.mjs';

describe('collection', () => {
  let db, col;
  before(async () => {
    db = await open(tmpDir('col'));
    col = await db.createCollection('docs', { dimension: 4, hnsw: { m: 8 } });
  });
  after(() => db.close());

  test('upsert, get, replace, delete, count', async () => {
    const r = await col.upsert([
      { id: 'a', text: 'The quick brown fox', vector: [1, 0, 0, 0], metadata: { year: 2020, tags: ['animal', 'fast'], author: { name: 'Ann' } } },
      { id: 'b', text: 'A lazy dog sleeps', vector: new Float32Array([0, 1, 0, 0]), metadata: { year: 2022, tags: ['animal'] } },
      { id: 'c', text: 'Rust and TypeScript', vector: [0, 0, 1, 0], metadata: { year: 2024, tags: ['code'], author: { name: 'Bo' } } },
      { id: 'd', text: 'no vector here' },
    ]);
    assert.deepEqual(r, { upserted: 4 });
    assert.equal(await col.count(), 4);
    const [a, missing] = await col.get(['a', 'zz']);
    assert.equal(a.text, 'The quick brown fox');
    assert.ok(a.vector instanceof Float32Array);
    assert.deepEqual(Array.from(a.vector), [1, 0, 0, 0]);
    assert.deepEqual(a.metadata.author, { name: 'Ann' });
    assert.equal(missing, null);
    const [onlyText] = await col.get('a', ['text']);
    assert.deepEqual(onlyText, { id: 'a', text: 'The quick brown fox' });

    await col.upsert({ id: 'b', text: 'A very lazy cat', vector: [0, 1, 0.1, 0], metadata: { year: 2023, tags: ['animal'] } });
    assert.equal(await col.count(), 4);
    assert.equal((await col.get('b'))[0].text, 'A very lazy cat');
    assert.equal(await col.count({ tags: 'animal' }), 2);
    assert.equal(await col.count({ 'author.name': { $in: ['Ann', 'Bo'] } }), 2);
    assert.equal(await col.count({ $or: [{ year: { $lt: 2021 } }, { year: { $gte: 2024 } }] }), 2);
    assert.equal(await col.count({ year: { $exists: false } }), 1);
    assert.equal(await col.count({ $not: { tags: 'animal' } }), 2);
  });

  test('search modes, scores and select', async () => {
    const v = await col.search({ vector: [1, 0.2, 0, 0], k: 2 });
    assert.equal(v[0].id, 'a');
    assert.equal(v.length, 2);
    assert.ok(v[0].score >= v[1].score);
    assert.ok(Math.abs(v[0].vectorScore - (1 - v[0].distance)) < 1e-6);
    assert.equal(v[0].textScore, undefined);

    const t = await col.search({ text: 'lazy cats' });
    assert.equal(t[0].id, 'b');
    assert.ok(t[0].textScore > 0 && t[0].vectorScore === undefined);

    const h = await col.search({ text: 'fox', vector: [0, 0, 1, 0], k: 3 });
    for (const hit of h) assert.ok(typeof hit.vectorScore === 'number');
    assert.ok(h.some((x) => x.id === 'a' && x.textScore > 0));
    const w = await col.search({ text: 'fox', vector: [0, 0, 1, 0], k: 3, fusion: { type: 'weighted', alpha: 1 } });
    assert.equal(w[0].id, 'c');

    const f = await col.search({ vector: [1, 0, 0, 0], filter: { year: { $gt: 2020 } } });
    assert.ok(f.every((x) => x.metadata.year > 2020));
    const sel = await col.search({ vector: [1, 0, 0, 0], k: 1, select: ['vector'] });
    assert.deepEqual(Object.keys(sel[0]).sort(), ['distance', 'id', 'score', 'vector', 'vectorScore']);
    const exact = await col.search({ vector: [1, 0, 0, 0], exact: true, maxDistance: 0.5 });
    assert.ok(exact.length >= 1 && exact.every((x) => x.distance <= 0.5));

    const batch = await col.searchBatch([{ vector: [1, 0, 0, 0], k: 1 }, { text: 'rust', k: 1 }]);
    assert.deepEqual(batch.map((l) => l[0].id), ['a', 'c']);
  });

  test('delete by ids and by filter; deleted records never come back', async () => {
    assert.deepEqual(await col.delete(['c', 'nope']), { deleted: 1 });
    assert.deepEqual(await col.delete({ filter: { year: 2020 } }), { deleted: 1 });
    const hits = await col.search({ vector: [1, 0, 0, 0], k: 10, exact: true });
    assert.deepEqual(hits.map((h) => h.id), ['b']);
    assert.equal((await col.search({ text: 'fox rust' })).length, 0);
    const st = await col.stats();
    assert.equal(st.count, 2);
    assert.equal(st.deleted, 3); // two deletes + one replaced version
    await col.compact();
    assert.equal((await col.stats()).deleted, 0);
    assert.deepEqual((await col.search({ vector: [0, 1, 0, 0], k: 10 })).map((h) => h.id), ['b']);
  });

  test('invalid arguments reject with stable codes and change nothing', async () => {
    const before = await col.count();
    const cases = [
      [() => col.upsert([{ id: 'ok', vector: [0, 0, 0, 1] }, { id: 42, vector: [1, 0, 0, 0] }]), 'ERR_INVALID_ARG'],
      [() => col.upsert([{ id: 'ok', vector: [0, 0, 0, 1] }, { id: 'x', vector: [1, NaN, 0, 0] }]), 'ERR_INVALID_ARG'],
      [() => col.upsert([{ id: 'ok', vector: [0, 0, 0, 1] }, { id: 'x', vector: [1, 0, 0] }]), 'ERR_DIMENSION_MISMATCH'],
      [() => col.upsert([{ id: 'x', vector: [1, 0, 0] }]), 'ERR_DIMENSION_MISMATCH'],
      [() => col.upsert([{ id: 'ok', vector: [0, 0, 0, 1] }, { id: 'x', vector: [0, 0, 0, 0] }]), 'ERR_INVALID_ARG'],
      [() => col.upsert([{ id: 'x', metadata: [1, 2] }]), 'ERR_INVALID_ARG'],
      [() => col.upsert([{ id: 'x', vector: 'nope' }]), 'ERR_INVALID_ARG'],
      [() => col.upsert([{ id: 'x'.repeat(2000) }]), 'ERR_INVALID_ARG'],
      [() => col.search({ vector: [1, 0, 0, 0], filter: { year: { $regexp: 'x' } } }), 'ERR_INVALID_ARG'],
      [() => col.search({ vector: [1, 0, 0, 0], filter: { $and: 'x' } }), 'ERR_INVALID_ARG'],
      [() => col.search({ vector: [1, 0, 0] }), 'ERR_DIMENSION_MISMATCH'],
      [() => col.search({ vector: [1, 0, 0, 0], k: 0 }), 'ERR_INVALID_ARG'],
      [() => col.search({ vector: [1, 0, 0, 0], mode: 'text' }), 'ERR_INVALID_ARG'],
      [() => col.search({}), 'ERR_INVALID_ARG'],
      [() => col.search({ vector: [1, 0, 0, 0], select: ['secret'] }), 'ERR_INVALID_ARG'],
      [() => col.search({ vector: [1, 0, 0, 0], fusion: { type: 'weighted', alpha: 2 } }), 'ERR_INVALID_ARG'],
      [() => col.search({ vector: [1, 0, 0, 0], bogus: 1 }), 'ERR_INVALID_ARG'],
      [() => col.get([1]), 'ERR_INVALID_ARG'],
      [() => col.delete({ filter: { a: { $wat: 1 } } }), 'ERR_INVALID_ARG'],
      [() => db.createCollection('../escape'), 'ERR_INVALID_ARG'],
      [() => db.createCollection('docs'), 'ERR_EXISTS'],
      [() => db.createCollection('x', { metric: 'hamming' }), 'ERR_INVALID_ARG'],
      [() => db.createCollection('x', { dimensions: 3 }), 'ERR_INVALID_ARG'],
      [() => db.collection('missing'), 'ERR_NOT_FOUND'],
    ];
    for (const [f, code] of cases) {
      const e = await rejectsWith(assert, f(), code);
      assert.ok(e instanceof HektorError && e instanceof Error);
      assert.ok(code in ERROR_CODES);
    }
    assert.equal(await col.count(), before);
    assert.deepEqual(await col.get('ok'), [null]);
  });

  test('errors carry the location and a readable message', async () => {
    const e = await rejectsWith(assert, col.upsert([{ id: 'y', vector: [0, 1, 0, 0] }, { id: 'z', vector: [1, 2] }]), 'ERR_DIMENSION_MISMATCH');
    assert.equal(e.location.row, 1);
    assert.equal(e.location.field, 'vector');
  });

  test('a panic inside native code becomes ERR_INTERNAL, never a crash', async () => {
    const { createRequire } = await import('node:module');
    const native = createRequire(import.meta.url)('../ts/native/index.js');
    const { fromNative } = createRequire(import.meta.url)('../ts/dist/errors.js');
    try {
      await native.debugPanic('boom');
      assert.fail('expected a rejection');
    } catch (err) {
      const e = fromNative(err);
      assert.equal(e.code, 'ERR_INTERNAL');
      assert.match(e.message, /boom/);
    }
    assert.equal(await col.count() >= 0, true, 'the addon still works after a panic');
  });

  test('a closed database rejects with ERR_CLOSED', async () => {
    const db2 = await open(tmpDir('closed'));
    const c2 = await db2.createCollection('c');
    await c2.upsert({ id: 'a', text: 'x' });
    await db2.close();
    await db2.close(); // idempotent
    await rejectsWith(assert, c2.count(), 'ERR_CLOSED');
    await rejectsWith(assert, db2.listCollections(), 'ERR_CLOSED');
    const db3 = await open(db2.path); // the lock was released
    assert.equal(await (await db3.collection('c')).count(), 1);
    await db3.close();
  });

  test('collections: list, drop, learn dimension from the first vector', async () => {
    const d = await open(tmpDir('many'));
    const c = await d.createCollection('auto', { metric: 'l2' });
    await c.upsert(clustered(10, 8, 2).map((v, i) => ({ id: String(i), vector: v })));
    assert.equal((await c.stats()).dimension, 8);
    await rejectsWith(assert, c.upsert({ id: 'bad', vector: [1, 2] }), 'ERR_DIMENSION_MISMATCH');
    await d.createCollection('other');
    assert.deepEqual(await d.listCollections(), ['auto', 'other']);
    assert.equal(await d.dropCollection('auto'), true);
    assert.equal(await d.dropCollection('auto'), false);
    assert.deepEqual(await d.listCollections(), ['other']);
    await rejectsWith(assert, c.count(), 'ERR_CLOSED');
    await d.close();
  });

  test("quantization 'sq8': codes trained and persisted, exact scores, 'pq' refused", async () => {
    const dir = tmpDir('sq8');
    const data = clustered(3000, 32, 20, 4);
    let d = await open(dir);
    await rejectsWith(assert, d.createCollection('p', { dimension: 32, quantization: 'pq' }), 'ERR_INVALID_ARG');
    let q = await d.createCollection('q', { dimension: 32, quantization: 'sq8' });
    await q.upsert(data.map((v, i) => ({ id: String(i), vector: v })));
    // codes are trained as the background indexer builds the graph
    await q.waitForIndex();
    await q.flush();
    const st = await q.stats();
    assert.equal(st.config.quantization, 'sq8');
    assert.equal(st.quantizedVectors, 3000);
    const probe = [7, 1234, 2999];
    const before = [];
    for (const i of probe) {
      const hits = await q.search({ vector: data[i], k: 5, select: [] });
      assert.equal(hits[0].id, String(i));
      const exact = await q.search({ vector: data[i], k: 5, select: [], exact: true });
      // the graph walks approximate codes, but reported scores are the exact ones
      for (const h of hits) {
        const e = exact.find((x) => x.id === h.id);
        if (e) assert.ok(Math.abs(e.score - h.score) < 1e-6, `${e.score} vs ${h.score}`);
      }
      before.push(hits.map((h) => h.id));
    }
    await d.close();
    d = await open(dir);
    q = await d.collection('q');
    assert.equal((await q.stats()).quantizedVectors, 3000);
    for (const [j, i] of probe.entries()) assert.deepEqual((await q.search({ vector: data[i], k: 5, select: [] })).map((h) => h.id), before[j]);
    await d.close();
  });
});
