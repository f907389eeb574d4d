// The live-server sources through the SDK, against real servers: the machine's PostgreSQL
// and Redis, and nx-27017 (a MongoDB wire-protocol server) started by scripts/services.mjs.
// npm test sets HEKTOR_TEST_{PG,REDIS,MONGO}_URL; standalone:
//   node scripts/services.mjs run -- node --test __test__/servers.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { open, sources } from '../ts/dist/index.js';
import { packageDir, pythonFixtures } from './fixtures/python-fixtures.mjs';
import { rejectsWith, tmpDir } from './helpers.mjs';

const PG = process.env.HEKTOR_TEST_PG_URL;
const REDIS = process.env.HEKTOR_TEST_REDIS_URL;
const MONGO = process.env.HEKTOR_TEST_MONGO_URL;
const missing = [!PG && 'HEKTOR_TEST_PG_URL', !REDIS && 'HEKTOR_TEST_REDIS_URL', !MONGO && 'HEKTOR_TEST_MONGO_URL'].filter(Boolean);
if (missing.length) throw new Error(`servers.test.mjs needs ${missing.join(', ')}: run it through npm test or scripts/services.mjs run`);

const tag = `hk${process.pid}`;
const psql = (sql) => execFileSync('psql', [PG, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { encoding: 'utf8' });
const redisUrl = new URL(REDIS);
const redis = (...args) => execFileSync('redis-cli', ['-h', redisUrl.hostname, '-p', redisUrl.port || '6379', '-n', redisUrl.pathname.slice(1) || '0', ...args], { encoding: 'utf8' });

/** A URL of the same server with a password that must never be echoed. */
const withSecret = (url, secret) => { const u = new URL(url); u.username = u.username || 'hektor'; u.password = secret; return u.toString(); };

async function collection() {
  const db = await open(tmpDir('servers'));
  return { db, col: await db.createCollection('c', { dimension: 3 }) };
}

describe('postgres', () => {
  before(() => {
    psql(`CREATE TABLE ${tag}_docs (id text PRIMARY KEY, title text, body text, emb real[], year int, meta jsonb, updated timestamptz)`);
    psql(`INSERT INTO ${tag}_docs SELECT 'doc-' || i, 'Title ' || i, 'body text number ' || i, ARRAY[i, 1, 0]::real[], 2000 + i % 20,
          jsonb_build_object('tags', jsonb_build_array('t' || (i % 3)), 'author', jsonb_build_object('name', 'A' || i)), '2024-01-02T03:04:05Z'
          FROM generate_series(1, 2500) AS i`);
  });
  after(() => psql(`DROP TABLE IF EXISTS ${tag}_docs`));

  test('streams a query with $1 parameters: all fields, vectors, typed metadata', async () => {
    const { db, col } = await collection();
    const events = [];
    const report = await col.ingest(
      sources.postgres({ url: PG, query: `SELECT * FROM ${tag}_docs WHERE year >= $1 ORDER BY id`, params: [2005], id: 'id', text: ['title', 'body'], vector: 'emb', metadata: ['year', 'meta.author.name', 'updated'], batchSize: 300 }),
      { batchSize: 500, onProgress: (p) => events.push(p) },
    );
    const expected = Array.from({ length: 2500 }, (_, k) => k + 1).filter((i) => 2000 + (i % 20) >= 2005).length;
    assert.equal(report.upserted, expected);
    assert.equal(events.length, report.batches);
    assert.ok(!report.source.includes('password'));
    const [r] = await col.get(['doc-7']);
    assert.equal(r.text, 'Title 7\n\nbody text number 7');
    assert.deepEqual(Array.from(r.vector), [7, 1, 0]);
    assert.deepEqual(r.metadata, { year: 2007, 'meta.author.name': 'A7', updated: '2024-01-02T03:04:05Z' });
    assert.equal((await col.search({ text: 'number 7', k: 1, mode: 'text' }))[0].id, 'doc-7');
    await db.close();
  });

  test('bad input: SQL error, a text column as vector (skip), unreachable server; the password never shows', async () => {
    const { db, col } = await collection();
    await rejectsWith(assert, col.ingest(sources.postgres({ url: PG, query: `SELEC * FROM ${tag}_docs`, id: 'id' })), 'ERR_PARSE');
    await rejectsWith(assert, col.ingest(sources.postgres({ url: PG, query: 'SELECT * FROM no_such_table_hk', id: 'id' })), 'ERR_NOT_FOUND');
    const e = await rejectsWith(assert, col.ingest(sources.postgres({ url: PG, query: `SELECT id, title FROM ${tag}_docs`, id: 'id', vector: 'title' })), 'ERR_INVALID_ARG');
    assert.equal(e.location.field, 'title');
    const secret = 'Sup3rSecretPw';
    const bad = withSecret(PG, secret).replace(/:\d+\//, ':1/');
    const c = await rejectsWith(assert, col.ingest(sources.postgres({ url: bad, query: 'SELECT 1', id: 'id' })), 'ERR_CONNECT');
    assert.ok(!JSON.stringify({ m: c.message, l: c.location, s: String(c.stack) }).includes(secret), c.message);
    await db.close();
  });
});

describe('redis', () => {
  before(() => {
    for (let i = 1; i <= 300; i++) redis('HSET', `${tag}:h:${i}`, 'title', `hash item ${i}`, 'price', String(i * 1.5), 'emb', JSON.stringify([i, 0, 1]));
    for (let i = 1; i <= 50; i++) redis('SET', `${tag}:j:${i}`, JSON.stringify({ title: `json item ${i}`, nested: { n: i }, emb: [0, i, 1] }));
  });
  after(() => {
    const keys = redis('--scan', '--pattern', `${tag}:*`).split('\n').filter(Boolean);
    for (let i = 0; i < keys.length; i += 500) redis('DEL', ...keys.slice(i, i + 500));
  });

  test('hashes and JSON strings by pattern, with vectors', async () => {
    const { db, col } = await collection();
    const r1 = await col.ingest(sources.redis({ url: REDIS, pattern: `${tag}:h:*`, type: 'hash', text: 'title', vector: 'emb', metadata: ['price'] }));
    assert.equal(r1.upserted, 300);
    const [h] = await col.get([`${tag}:h:4`]);
    assert.deepEqual(h.metadata, { price: 6 });
    assert.deepEqual(Array.from(h.vector), [4, 0, 1]);
    const r2 = await col.ingest(sources.redis({ url: REDIS, pattern: `${tag}:j:*`, text: 'title', vector: 'emb', metadata: 'nested.n' }));
    assert.equal(r2.upserted, 50);
    assert.deepEqual((await col.get([`${tag}:j:9`]))[0].metadata, { 'nested.n': 9 });
    await db.close();
  });

  test('bad input: wrong password is ERR_AUTH (never echoed), wrong vector is a row error', async () => {
    const { db, col } = await collection();
    const secret = 'Wr0ngPassw0rd';
    const e = await rejectsWith(assert, col.ingest(sources.redis({ url: withSecret(REDIS, secret), pattern: `${tag}:h:*` })), 'ERR_AUTH');
    assert.ok(!e.message.includes(secret) && !JSON.stringify(e.location).includes(secret));
    redis('HSET', `${tag}:h:bad`, 'title', 'bad', 'emb', 'not a vector');
    const r = await col.ingest(sources.redis({ url: REDIS, pattern: `${tag}:h:*`, type: 'hash', text: 'title', vector: 'emb' }), { onError: 'skip' });
    assert.equal(r.skipped, 1);
    assert.equal(r.upserted, 300);
    await rejectsWith(assert, col.ingest(sources.redis({ url: 'redis://127.0.0.1:1/0', pattern: '*' })), 'ERR_CONNECT');
    await db.close();
  });
});

describe('mongodb', () => {
  before(async () => {
    await pythonFixtures(); // installs pymongo with the other fixture packages
    const py = `
import sys
from pymongo import MongoClient
c = MongoClient(sys.argv[1])
col = c['hektor_test']['${tag}']
col.drop()
col.insert_many([{'_id': 'm%d' % i, 'title': 'mongo doc %d' % i, 'emb': [float(i), 2.0, 0.0], 'info': {'year': 2000 + i % 7, 'tags': ['x%d' % (i % 2)]}} for i in range(1, 1201)])
col.insert_one({'_id': 'bad', 'title': 'bad vector', 'emb': 'nope'})
`;
    execFileSync('python3', ['-c', py, MONGO], { env: { ...process.env, PYTHONPATH: packageDir() } });
  });

  test('a cursor with a filter, nested documents by dotted paths, vectors', async () => {
    const { db, col } = await collection();
    const report = await col.ingest(sources.mongodb({ uri: MONGO, db: 'hektor_test', collection: tag, filter: { 'info.year': { $gte: 2003 } }, text: 'title', vector: 'emb', metadata: ['info.year', 'info.tags'], batchSize: 200 }));
    const expected = Array.from({ length: 1200 }, (_, k) => k + 1).filter((i) => 2000 + (i % 7) >= 2003).length;
    assert.equal(report.upserted, expected);
    const [d] = await col.get(['m5']);
    assert.deepEqual(d.metadata, { 'info.year': 2005, 'info.tags': ['x1'] });
    assert.deepEqual(Array.from(d.vector), [5, 2, 0]);
    await db.close();
  });

  test('bad input: a wrong vector stops with its row and field, unreachable server is ERR_CONNECT', async () => {
    const { db, col } = await collection();
    const e = await rejectsWith(assert, col.ingest(sources.mongodb({ uri: MONGO, db: 'hektor_test', collection: tag, filter: { _id: 'bad' }, vector: 'emb' })), 'ERR_INVALID_ARG');
    assert.equal(e.location.field, 'emb');
    await rejectsWith(assert, col.ingest(sources.mongodb({ uri: 'mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500', db: 'x', collection: 'y', timeoutMs: 500 })), 'ERR_CONNECT');
    await rejectsWith(assert, col.ingest(sources.mongodb({ uri: MONGO, db: 'hektor_test', collection: 'no_such_collection_hk' })), 'ERR_NOT_FOUND');
    await db.close();
  });
});
