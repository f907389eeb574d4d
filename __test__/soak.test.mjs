// The short form of benches/soak.mjs: one writer (upserts, deletes, flushes, compactions)
// and concurrent searchers in this process, plus a readOnly reader process, for ~16 s.
// Every hit must exist and satisfy its filter; RSS must level off.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { soak, summary } from '../benches/soak.mjs';

test('concurrent searches beside a writer that upserts, deletes and compacts: no error, no wrong result, stable memory', { timeout: 120_000 }, async () => {
  const res = await soak({ seconds: 16, searchers: 4, pool: 4000, warmup: 10, compactEvery: 20 });
  const text = summary(res);
  console.log(text.replace(/^/gm, '# '));
  assert.equal(res.errors, 0, text);
  assert.equal(res.wrong, 0, text);
  assert.ok(res.writeBatches > 10 && res.compactions >= 1, `too little write traffic:\n${text}`);
  assert.ok(res.searches > 200 && res.reader.searches > 20 && res.reader.reopens >= 2, `too few searches:\n${text}`);
  assert.ok(res.reader.followed > 0, `the readOnly reader never saw a write while open:\n${text}`);
  assert.ok(res.rss.last - res.rss.warm < 64, `RSS grew by ${(res.rss.last - res.rss.warm).toFixed(0)} MB after warm-up:\n${text}`);
});
