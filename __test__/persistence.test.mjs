// Durability and locking across processes: kill -9 a writer, reopen, check every
// acknowledged write; one writer at a time; readers beside it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { open } from '../ts/dist/index.js';
import { killed, rejectsWith, rng, root, spawnUntil, tmpDir } from './helpers.mjs';

const writer = path.join(root, '__test__', 'fixtures', 'writer.mjs');

/** Spawns the writer; resolves when `until(lines)` holds; returns the child and its stdout lines. */
const startWriter = (args, until) => spawnUntil(writer, args, until);

describe('persistence', () => {
  test('every acknowledged write survives kill -9 (repeated)', async () => {
    const dir = tmpDir('kill');
    const r = rng(42);
    const acked = new Set();
    let next = 0;
    for (let round = 0; round < 6; round++) {
      const target = 2 + Math.floor(r() * 4);
      const { child, lines } = await startWriter([dir, String(next)], (l) => l.filter((x) => x.startsWith('ACK')).length >= target);
      // let it run into the middle of another batch (or a checkpoint), then kill it
      await new Promise((res) => setTimeout(res, Math.floor(r() * 60)));
      await killed(child);
      for (const l of lines) if (l.startsWith('ACK')) acked.add(Number(l.slice(4)));
      next = Math.max(...acked) + 10; // later rounds write new batches; unacked ones may or may not exist
    }
    const db = await open(dir);
    const col = await db.collection('k');
    for (const b of acked) {
      const ids = Array.from({ length: 200 }, (_, i) => `${b}-${i}`);
      const recs = await col.get(ids);
      for (const [i, rec] of recs.entries()) {
        assert.ok(rec, `acknowledged record ${b}-${i} is missing`);
        assert.equal(rec.text, `batch ${b} item ${i} words${i % 7}`);
        assert.deepEqual(rec.metadata, { b, i });
        assert.ok(Math.abs(rec.vector[3] - (Math.sin(b * 7 + i * 3 + 3) + 1.5)) < 1e-6);
      }
    }
    // batches are atomic: any batch present is present in full
    const total = await col.count();
    assert.equal(total % 200, 0, `a partial batch is visible (${total} records)`);
    // every hit is a real, intact record and the index agrees with an exact scan
    const q = new Float32Array(16).map((_, j) => Math.sin(3 + j) + 1.5);
    const approx = await col.search({ vector: q, k: 10 });
    const exact = await col.search({ vector: q, k: 10, exact: true });
    assert.deepEqual(approx.map((h) => h.id), exact.map((h) => h.id));
    const text = await col.search({ text: 'words3', k: 5 });
    assert.ok(text.length === 5 && text.every((h) => h.text.endsWith('words3')));
    await db.close();
  });

  test('one writer at a time; readers beside it', async () => {
    const dir = tmpDir('lock');
    {
      const db = await open(dir);
      const c = await db.createCollection('k', { dimension: 2 });
      await c.upsert([{ id: 'a', vector: [1, 0] }]);
      await db.close();
    }
    const { child } = await startWriter([dir, '0', 'hold'], (l) => l.includes('READY'));
    try {
      const e = await rejectsWith(assert, open(dir), 'ERR_LOCKED');
      assert.match(e.message, /readOnly/);
      const ro = await open(dir, { readOnly: true });
      const c = await ro.collection('k');
      assert.equal(await c.count(), 1);
      await rejectsWith(assert, c.upsert({ id: 'b', vector: [0, 1] }), 'ERR_READ_ONLY');
      await rejectsWith(assert, ro.createCollection('new'), 'ERR_READ_ONLY');
      await ro.close();
    } finally {
      await killed(child);
    }
    // the killed writer's lock is released by the OS: no stale lock
    const db = await open(dir);
    assert.equal(await (await db.collection('k')).count(), 1);
    await db.close();
  });

  test('reopen restores collections, indexes and search results', async () => {
    const dir = tmpDir('reopen');
    const vecs = Array.from({ length: 3000 }, (_, i) => new Float32Array(32).map((_, j) => Math.cos(i * 0.37 + j * 1.3)));
    let before;
    {
      const db = await open(dir);
      const c = await db.createCollection('v', { metric: 'dot' });
      await c.upsert(vecs.map((v, i) => ({ id: `v${i}`, vector: v, text: `item ${i % 10}` })));
      // the graph is built in the background; close saves it as far as it got
      await c.waitForIndex();
      before = await c.search({ vector: vecs[5], text: 'item 5', k: 10 });
      await db.close();
    }
    const db = await open(dir);
    const t = performance.now();
    const c = await db.collection('v');
    const ms = performance.now() - t;
    assert.deepEqual(await c.search({ vector: vecs[5], text: 'item 5', k: 10 }), before);
    assert.equal((await c.stats()).pendingVectors, 0);
    assert.ok(ms < 1000, `reopen took ${ms} ms`);
    await db.close();
  });
});
