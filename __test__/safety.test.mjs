// No way in: collection names cannot leave the database directory; connection secrets never
// appear in errors, reports, progress events or stats; filters are data, never SQL or Mongo
// queries; and the configurable limits (record size, metadata depth, dimension, batch size)
// are clean ERR_LIMIT errors with nothing written.
// The server parts use HEKTOR_TEST_{PG,REDIS,MONGO}_URL (set by npm test / scripts/services.mjs)
// and are skipped when a variable is unset.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { describe, test } from 'node:test';
import { open, sources } from '../ts/dist/index.js';
import { rejectsWith, tmpDir } from './helpers.mjs';

/** Every path under `dir`, sorted (the snapshot compared before/after). */
function listing(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p));
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

describe('collection names cannot escape the database directory', () => {
  const parent = tmpDir('safety');
  const dbDir = path.join(parent, 'db');
  const bad = [
    '../x', '..', '.', '../../x', './x', 'x/..', '/abs/path', path.join(parent, 'abs'), 'a/b', 'a\\b', 'x\0y', '\0',
    '.hidden', '', 'a'.repeat(65), 'x.', 'a b', ' x', 'x\n', 'C:x', 'c:\\x', '%2e%2e', '~',
    // unicode lookalikes of dots and slashes, fullwidth letters, combining marks
    '\u2024\u2024', '\u2025', 'a\u2215b', 'a\u2044b', 'a\uff0fb', '\uff0e\uff0e', 'ａｂｃ', 'e\u0301', 'x\u200b',
    // Windows device names, which would not be a directory there
    'con', 'CON', 'nul', 'Nul.db', 'aux', 'prn', 'com1', 'LPT9.x',
  ];

  test('createCollection, collection and dropCollection refuse every bad name with ERR_INVALID_ARG; nothing is created', async () => {
    const db = await open(dbDir);
    const before = listing(parent);
    for (const name of bad) {
      const what = JSON.stringify(name);
      await rejectsWith(assert, db.createCollection(name, { dimension: 2 }), 'ERR_INVALID_ARG').catch((e) => assert.fail(`create ${what}: ${e.message}`));
      await rejectsWith(assert, db.collection(name), 'ERR_INVALID_ARG').catch((e) => assert.fail(`open ${what}: ${e.message}`));
      await rejectsWith(assert, db.dropCollection(name), 'ERR_INVALID_ARG').catch((e) => assert.fail(`drop ${what}: ${e.message}`));
    }
    for (const name of [undefined, null, 42, {}, ['a']]) {
      await rejectsWith(assert, db.createCollection(name), 'ERR_INVALID_ARG');
    }
    assert.deepEqual(listing(parent), before);
    assert.ok(!fs.existsSync('/abs/path') && !fs.existsSync(path.join(parent, 'x')));
    // names at the edge of the rules are fine
    for (const name of ['a', 'a'.repeat(64), 'my.coll-1_2', 'A.b.c', 'console', 'com10', 'con_x', '1']) {
      await db.createCollection(name, { dimension: 2 });
      assert.ok(fs.existsSync(path.join(dbDir, name, 'collection.json')), name);
      assert.equal(await db.dropCollection(name), true);
    }
    assert.deepEqual(listing(parent), before);
    await db.close();
    // a readOnly handle refuses them too
    const ro = await open(dbDir, { readOnly: true });
    for (const name of bad) await rejectsWith(assert, ro.collection(name), 'ERR_INVALID_ARG');
    await ro.close();
  });

  test('a directory planted outside with a collection file is not reachable by a relative name', async () => {
    // a collection-looking directory next to the database
    const db = await open(dbDir);
    await db.createCollection('real', { dimension: 2 });
    await db.close();
    fs.cpSync(path.join(dbDir, 'real'), path.join(parent, 'outside'), { recursive: true });
    const db2 = await open(dbDir);
    await rejectsWith(assert, db2.collection('../outside'), 'ERR_INVALID_ARG');
    assert.deepEqual(await db2.listCollections(), ['real']);
    await db2.close();
  });
});

describe('connection secrets never show', () => {
  const SECRET = 'S3cretPw-7f1d9c';
  const env = { postgres: process.env.HEKTOR_TEST_PG_URL, redis: process.env.HEKTOR_TEST_REDIS_URL, mongodb: process.env.HEKTOR_TEST_MONGO_URL };
  /** The URL with user hektor and the secret password (and optionally another port). */
  const withSecret = (url, port) => {
    const u = new URL(url);
    u.username = u.username || 'hektor';
    u.password = SECRET;
    if (port) u.port = String(port);
    return u.toString();
  };
  const source = {
    postgres: (url) => sources.postgres({ url, query: 'SELECT 1 AS id', id: 'id' }),
    redis: (url) => sources.redis({ url, pattern: 'hk-safety-none:*' }),
    mongodb: (url) => sources.mongodb({ uri: url, db: 'hektor_test', collection: 'hk_safety_none', timeoutMs: 1500 }),
  };
  /** Everything an error exposes, as one string. */
  const exposed = (e) => {
    const causes = [];
    for (let c = e?.cause, i = 0; c && i < 10; c = c.cause, i++) causes.push(String(c), c.message, c.stack);
    return [e?.message, String(e), e?.stack, JSON.stringify(e?.location), JSON.stringify(e), util.inspect(e, { depth: 10 }), ...causes, JSON.stringify(e?.causes)].join('\n');
  };

  for (const kind of ['postgres', 'redis', 'mongodb']) {
    const fallback = { postgres: 'postgres://u@127.0.0.1:5432/db', redis: 'redis://127.0.0.1:6379/0', mongodb: 'mongodb://127.0.0.1:27017/' }[kind];

    test(`${kind}: an unreachable server: the error never contains the password`, async () => {
      const db = await open(tmpDir(`secret-${kind}`));
      const col = await db.createCollection('c', { dimension: 3 });
      const src = source[kind](withSecret(env[kind] ?? fallback, 1));
      assert.ok(!JSON.stringify(src).includes(SECRET) && !util.inspect(src).includes(SECRET), 'the source object shows the password');
      const events = [];
      let err;
      try {
        await col.ingest(src, { onProgress: (p) => events.push(p) });
      } catch (e) {
        err = e;
      }
      assert.ok(err, 'expected the ingest to fail');
      assert.equal(err.code, 'ERR_CONNECT', err.message);
      assert.ok(!exposed(err).includes(SECRET), exposed(err));
      assert.ok(!JSON.stringify(events).includes(SECRET));
      assert.ok(!JSON.stringify(await col.stats()).includes(SECRET));
      await db.close();
    });

    test(`${kind}: the real server with a wrong password: error or report, never the password`, { skip: !env[kind] && `HEKTOR_TEST_${{ postgres: 'PG', redis: 'REDIS', mongodb: 'MONGO' }[kind]}_URL is unset` }, async () => {
      const db = await open(tmpDir(`secret-${kind}`));
      const col = await db.createCollection('c', { dimension: 3 });
      const events = [];
      let out;
      try {
        // a server that trusts local connections ignores the password: then the report must not show it
        out = JSON.stringify(await col.ingest(source[kind](withSecret(env[kind])), { onProgress: (p) => events.push(p) }));
      } catch (e) {
        assert.ok(['ERR_AUTH', 'ERR_CONNECT', 'ERR_NOT_FOUND'].includes(e.code), `${e.code}: ${e.message}`);
        out = exposed(e);
      }
      assert.ok(!out.includes(SECRET), out);
      assert.ok(!JSON.stringify(events).includes(SECRET));
      assert.ok(!JSON.stringify(await col.stats()).includes(SECRET));
      await db.close();
    });
  }

  test('postgres: ingest with credentials in the URL, then stats, report and progress carry no password; filters are data, not SQL', { skip: !env.postgres && 'HEKTOR_TEST_PG_URL is unset' }, async () => {
    const PG = env.postgres;
    const table = `hk_safety_${process.pid}`;
    const psql = (sql) => execFileSync('psql', [PG, '-v', 'ON_ERROR_STOP=1', '-Atq', '-c', sql], { encoding: 'utf8' });
    psql(`CREATE TABLE ${table} (id text PRIMARY KEY, body text, tag text)`);
    try {
      psql(`INSERT INTO ${table} VALUES ('a', 'alpha text', 'x'), ('b', 'beta text', 'y')`);
      // the password the server actually has (if any) must not show either
      const url = new URL(PG);
      const secrets = [SECRET, url.password].filter((s) => s && s.length >= 3);
      if (!url.password) {
        url.username = url.username || 'postgres';
        url.password = SECRET; // trusted local connections ignore it; otherwise we only check the error
      }
      const db = await open(tmpDir('secret-pg-ok'));
      const col = await db.createCollection('c');
      const events = [];
      let report;
      try {
        report = await col.ingest(sources.postgres({ url: url.toString(), query: `SELECT id, body, tag FROM ${table} WHERE tag <> $1`, params: ['z'], id: 'id', text: 'body', metadata: 'tag' }), { onProgress: (p) => events.push(p) });
      } catch (e) {
        for (const s of secrets) assert.ok(!exposed(e).includes(s));
        report = await col.ingest(sources.postgres({ url: PG, query: `SELECT id, body, tag FROM ${table}`, id: 'id', text: 'body', metadata: 'tag' }));
      }
      assert.equal(report.upserted, 2);
      const shown = JSON.stringify({ report, events, stats: await col.stats(), st2: await col.stats() });
      for (const s of secrets) assert.ok(!shown.includes(s), shown);
      // filters never reach the server: injection-looking values and operators are plain data
      const nasty = ["'; DROP TABLE " + table + '; --', `x' OR '1'='1`, 'x"; DROP TABLE x; --', '$where', '{"$where": "1"}'];
      for (const v of nasty) {
        assert.deepEqual(await col.search({ text: 'text', k: 5, filter: { tag: v } }), []);
        assert.equal(await col.count({ tag: v }), 0);
        assert.equal(await col.count({ tag: { $in: [v] } }), 0);
        // as a field name: a path that no record has (or, starting with '$', an unknown operator)
        if (v.startsWith('$')) await rejectsWith(assert, col.count({ [v]: 'x' }), 'ERR_INVALID_ARG');
        else assert.equal(await col.count({ [v]: 'x' }), 0);
      }
      await rejectsWith(assert, col.search({ text: 'text', filter: { $where: 'this.tag == "x"' } }), 'ERR_INVALID_ARG');
      await rejectsWith(assert, col.search({ text: 'text', filter: { tag: { $where: '1' } } }), 'ERR_INVALID_ARG');
      await rejectsWith(assert, col.search({ text: 'text', filter: { tag: { $regex: '.*' } } }), 'ERR_INVALID_ARG');
      assert.equal((await col.search({ text: 'text', k: 5, filter: { tag: 'x' } }))[0].id, 'a');
      assert.equal(psql(`SELECT count(*) FROM ${table}`).trim(), '2', 'the table is intact');
      await db.close();
    } finally {
      psql(`DROP TABLE IF EXISTS ${table}`);
    }
  });

  test('mongodb: a source filter is sent as a BSON document, never evaluated as code; search filters are data', { skip: !env.mongodb && 'HEKTOR_TEST_MONGO_URL is unset' }, async () => {
    const db = await open(tmpDir('secret-mongo'));
    const col = await db.createCollection('c', { dimension: 3 });
    await col.upsert([{ id: 'a', vector: [1, 0, 0], metadata: { tag: 'x', $where: 'literal key' } }]);
    assert.equal(await col.count({ tag: '{"$where": "sleep(1000)"}' }), 0);
    assert.equal(await col.count({ tag: { $eq: { $where: 'sleep(1000)' } } }), 0);
    const report = await col.ingest(sources.mongodb({ uri: env.mongodb, db: 'hektor_test', collection: `hk_safety_${process.pid}`, filter: { title: "'; db.dropDatabase(); //" } })).catch((e) => e);
    assert.ok(!(report instanceof Error) || ['ERR_NOT_FOUND'].includes(report.code), String(report));
    await db.close();
  });
});

describe('limits', () => {
  const nested = (depth) => {
    let m = { leaf: 1 };
    for (let i = 1; i < depth; i++) m = { a: m };
    return m;
  };
  const DEFAULTS = { maxRecordBytes: 16 * 2 ** 20, maxMetadataDepth: 32, maxDimension: 65536, maxBatchRecords: 1_000_000 };

  test('defaults; every cap is ERR_LIMIT naming the row and field, and nothing of the batch is written', async () => {
    const db = await open(tmpDir('limits'));
    const col = await db.createCollection('c');
    assert.deepEqual((await col.stats()).config.limits, DEFAULTS);
    const ok = (i) => ({ id: `ok${i}`, text: 'fine', vector: [1, 0, 0, 0], metadata: { d: nested(31) } }); // depth 32
    // 17 MiB of text
    let e = await rejectsWith(assert, col.upsert([ok(0), { id: 'big', text: 'x'.repeat(17 * 2 ** 20) }]), 'ERR_LIMIT');
    assert.deepEqual([e.location.row, e.location.field], [1, 'text']);
    assert.match(e.message, /maxRecordBytes/);
    // metadata nested 40 deep (the metadata object is depth 1)
    e = await rejectsWith(assert, col.upsert([ok(0), ok(1), { id: 'deep', metadata: nested(40) }]), 'ERR_LIMIT');
    assert.deepEqual([e.location.row, e.location.field], [2, 'metadata']);
    assert.match(e.message, /maxMetadataDepth/);
    // a vector above the largest dimension
    e = await rejectsWith(assert, col.upsert([{ id: 'wide', vector: new Float32Array(65537).fill(1) }]), 'ERR_LIMIT');
    assert.deepEqual([e.location.row, e.location.field], [0, 'vector']);
    assert.equal(await col.count(), 0);
    assert.equal((await col.stats()).dimension, null, 'a refused vector does not fix the dimension');
    // the metadata at the cap and a normal batch pass
    await col.upsert([ok(0), { id: 'edge', metadata: nested(32) }]);
    assert.equal(await col.count(), 2);
    await db.close();
  });

  test('configured limits are validated, persisted, and enforced after a reopen', async () => {
    const dir = tmpDir('limits-cfg');
    const db = await open(dir);
    for (const limits of [{ maxBatchRecords: 0 }, { maxMetadataDepth: 500 }, { maxDimension: 1e9 }, { maxRecordBytes: -1 }, { maxRecords: 5 }, 'big']) {
      await rejectsWith(assert, db.createCollection('bad', { limits }), 'ERR_INVALID_ARG');
    }
    await rejectsWith(assert, db.createCollection('bad', { dimension: 16, limits: { maxDimension: 8 } }), 'ERR_INVALID_ARG');
    assert.deepEqual(await db.listCollections(), []);
    const limits = { maxRecordBytes: 4096, maxMetadataDepth: 3, maxDimension: 8, maxBatchRecords: 10 };
    await db.createCollection('c', { limits });
    await db.close();

    const db2 = await open(dir);
    const col = await db2.collection('c');
    assert.deepEqual((await col.stats()).config.limits, limits);
    const rec = (i) => ({ id: `r${i}`, vector: [1, 2, 3, 4], metadata: { a: { b: i } } });
    // a batch over the cap (the SDK's batchSize is the caller's choice)
    let e = await rejectsWith(assert, col.upsert(Array.from({ length: 11 }, (_, i) => rec(i)), { batchSize: 100 }), 'ERR_LIMIT');
    assert.match(e.message, /maxBatchRecords/);
    e = await rejectsWith(assert, col.upsert([{ id: 'w0', text: 'no vector' }, { id: 'w', vector: new Array(9).fill(1) }]), 'ERR_LIMIT');
    assert.deepEqual([e.location.row, e.location.field], [1, 'vector']);
    e = await rejectsWith(assert, col.upsert([rec(0), { id: 'd', metadata: { a: { b: { c: { d: 1 } } } } }]), 'ERR_LIMIT');
    assert.deepEqual([e.location.row, e.location.field], [1, 'metadata']);
    e = await rejectsWith(assert, col.upsert([rec(0), { id: 'm', metadata: { s: 'y'.repeat(5000) } }]), 'ERR_LIMIT');
    assert.deepEqual([e.location.row, e.location.field], [1, 'metadata']);
    assert.equal(await col.count(), 0);
    assert.equal((await col.upsert(Array.from({ length: 25 }, (_, i) => rec(i)), { batchSize: 10 })).upserted, 25);
    await db2.close();
  });

  // Up to the cap: stored. Above it: ERR_LIMIT (core). From ~127 levels the binding's JSON
  // parser (serde_json, recursion limit 128) refuses first: ERR_INVALID_ARG. From a few
  // thousand levels V8's JSON.stringify, in the SDK's upsert, throws a RangeError before
  // anything reaches the engine. Always a rejection, nothing written, never a crash.
  test('metadata nested 10,000 and 100,000 deep is a clean rejection, not a stack overflow', async () => {
    const db = await open(tmpDir('limits-deep'));
    const col = await db.createCollection('c', { limits: { maxMetadataDepth: 100 } });
    for (const depth of [101, 127, 128, 129, 1000, 10_000, 100_000]) {
      let err;
      try {
        await col.upsert({ id: 'x', metadata: nested(depth) });
      } catch (e) {
        err = e;
      }
      assert.ok(err, `depth ${depth} was accepted`);
      if (err.name === 'RangeError') assert.ok(depth >= 1000, `depth ${depth}: ${err}`);
      else {
        assert.equal(err.name, 'HektorError', `depth ${depth}: ${err}`);
        assert.equal(err.code, depth <= 126 ? 'ERR_LIMIT' : err.code === 'ERR_LIMIT' ? 'ERR_LIMIT' : 'ERR_INVALID_ARG', `depth ${depth}: ${err.message}`);
      }
      // a deep filter too
      let ferr;
      try {
        await col.count({ a: nested(depth) });
      } catch (e) {
        ferr = e;
      }
      assert.ok(!ferr || ferr.name === 'HektorError' || ferr.name === 'RangeError', `filter of depth ${depth}: ${ferr}`);
    }
    assert.equal(await col.count(), 0);
    await col.upsert({ id: 'ok', metadata: nested(100) });
    assert.equal(await col.count(), 1);
    assert.deepEqual((await col.get('ok'))[0].metadata, nested(100));
    await db.close();
  });
});
