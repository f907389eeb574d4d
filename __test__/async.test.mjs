// Every call is async and off the JavaScript thread; AbortSignal cancels long calls.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { open } from '../ts/dist/index.js';
import { clustered, rejectsWith, tmpDir, worstTimerDelay } from './helpers.mjs';

describe('async behaviour', () => {
  test('a long upsert does not stall the event loop', async () => {
    const db = await open(tmpDir('stall'));
    const col = await db.createCollection('v', { dimension: 384 });
    const vecs = clustered(6000, 384, 30, 3);
    const recs = vecs.map((v, i) => ({ id: `r${i}`, vector: v, text: `record number ${i}`, metadata: { i } }));
    const t = performance.now();
    // the upsert, then the graph build behind it (the long native part since writes stopped
    // waiting for the graph)
    const worst = await worstTimerDelay(async () => {
      await col.upsert(recs);
      await col.waitForIndex();
    });
    const took = performance.now() - t;
    assert.ok(took > 200, `the upsert should be long enough to measure (${took} ms)`);
    assert.ok(worst < 50, `event loop stalled for ${worst.toFixed(1)} ms during a ${took.toFixed(0)} ms upsert`);
    const worstSearch = await worstTimerDelay(() => col.searchBatch(vecs.slice(0, 500).map((v) => ({ vector: v, k: 10 }))));
    assert.ok(worstSearch < 50, `event loop stalled for ${worstSearch.toFixed(1)} ms during searchBatch`);
    await db.close();
  });

  test('AbortSignal cancels upsert between batches, searchBatch and compact', async () => {
    const db = await open(tmpDir('abort'));
    const col = await db.createCollection('v', { dimension: 8 });
    const recs = clustered(5000, 8, 5).map((v, i) => ({ id: `r${i}`, vector: v }));
    const ac = new AbortController();
    const p = col.upsert(recs, { batchSize: 500, signal: ac.signal });
    // at once: the engine writes the first batch, then sees the abort (batches no longer wait
    // for the graph, so a later abort could come after the last one)
    ac.abort(new Error('user cancelled'));
    const e = await rejectsWith(assert, p, 'ERR_ABORTED');
    assert.equal(e.cause.message, 'user cancelled');
    const n = await col.count();
    assert.ok(n < 5000 && n % 500 === 0, `whole batches only (${n})`);

    await rejectsWith(assert, col.search({ vector: recs[0].vector, signal: AbortSignal.abort() }), 'ERR_ABORTED');
    const queries = Array.from({ length: 20000 }, (_, i) => ({ vector: recs[i % 100].vector, k: 10, exact: true }));
    const ac2 = new AbortController();
    const p2 = col.searchBatch(queries, { signal: ac2.signal });
    setTimeout(() => ac2.abort(), 5);
    await rejectsWith(assert, p2, 'ERR_ABORTED');
    await rejectsWith(assert, col.compact({ signal: AbortSignal.abort() }), 'ERR_ABORTED');
    // still fully usable afterwards
    assert.equal((await col.search({ vector: recs[0].vector, k: 1 }))[0].id, 'r0');
    await db.close();
  });

  test('every method returns a promise', async () => {
    const db = await open(tmpDir('promise'));
    const col = await db.createCollection('c');
    const ps = [col.count(), col.stats(), col.flush(), col.get([]), db.listCollections()];
    for (const p of ps) assert.ok(p instanceof Promise);
    await Promise.all(ps);
    await db.close();
  });
});
