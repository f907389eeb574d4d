// Background indexing: writes return once durable, the HNSW graph is built behind them;
// searches stay complete meanwhile; close keeps the work done and the next open resumes;
// a kill mid-build loses nothing acknowledged.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { open } from '../ts/dist/index.js';
import { clustered, killed, root, spawnUntil, tmpDir } from './helpers.mjs';

const DIM = 96;
const N = 20_000;
const ids = (hits) => hits.map((h) => h.id);

describe('background indexing', () => {
  test('upsert returns before the graph is built; searches are complete meanwhile; waitForIndex finishes it', async () => {
    const db = await open(tmpDir('bg'));
    const col = await db.createCollection('c', { dimension: DIM });
    const vecs = clustered(N, DIM, 8, 3);
    await col.upsert(vecs.map((v, i) => ({ id: `v${i}`, vector: v })));
    const st = await col.stats();
    assert.equal(st.count, N);
    assert.ok(st.index.pending > 0, `the upsert waited for the graph (${JSON.stringify(st.index)})`);
    assert.equal(st.index.indexed + st.index.pending, N);
    // every acknowledged vector is found, graph or not
    for (const i of [0, 7777, N - 1]) assert.equal((await col.search({ vector: vecs[i], k: 1 }))[0].id, `v${i}`);
    const seen = [];
    await col.waitForIndex({ onProgress: (s) => seen.push(s) });
    const done = await col.stats();
    assert.deepEqual([done.index.indexed, done.index.pending], [N, 0]);
    assert.ok(seen.length >= 1 && seen.at(-1).pending === 0, JSON.stringify(seen.at(-1)));
    // the finished graph answers like exact search on clustered data
    let same = 0;
    for (let q = 0; q < 20; q++) {
      const v = vecs[q * 997];
      const a = ids(await col.search({ vector: v, k: 10, ef: 200 }));
      const e = ids(await col.search({ vector: v, k: 10, exact: true }));
      same += a.filter((id) => e.includes(id)).length;
    }
    assert.ok(same / 200 >= 0.95, `recall@10 ${same / 200}`);
    await db.close();
  });

  test('close keeps the graph built so far and the next open resumes it', async () => {
    const dir = tmpDir('bg-close');
    let db = await open(dir);
    let col = await db.createCollection('c', { dimension: DIM });
    const vecs = clustered(N, DIM, 8, 5);
    await col.upsert(vecs.map((v, i) => ({ id: `v${i}`, vector: v })));
    await new Promise((r) => setTimeout(r, 300));
    const t = performance.now();
    await db.close();
    const closeMs = performance.now() - t;
    db = await open(dir);
    col = await db.collection('c');
    const st = await col.stats();
    assert.equal(st.count, N);
    assert.equal(st.index.indexed + st.index.pending, N);
    assert.equal((await col.search({ vector: vecs[123], k: 1 }))[0].id, 'v123');
    await col.waitForIndex();
    assert.equal((await col.stats()).index.pending, 0);
    assert.ok(closeMs < 10_000, `close waited for the whole build (${closeMs} ms)`);
    await db.close();
  });

  test('a kill while the indexer works loses no acknowledged record; the reopen finishes the graph', async () => {
    const dir = tmpDir('bg-kill');
    const { child, lines } = await spawnUntil(path.join(root, '__test__', 'fixtures', 'index-writer.mjs'), [dir, String(N), String(DIM)], (l) => l.some((x) => x.startsWith('ACK')));
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await killed(child), 'SIGKILL');
    assert.match(lines.find((x) => x.startsWith('ACK')), /^ACK 20000 pending \d+/);
    const db = await open(dir);
    const col = await db.collection('ix');
    assert.equal(await col.count(), N);
    await col.waitForIndex();
    const vecs = clustered(N, DIM, 8, 11);
    for (const i of [1, 9999, N - 1]) assert.equal((await col.search({ vector: vecs[i], k: 1 }))[0].id, `v${i}`);
    await db.close();
  });
});
