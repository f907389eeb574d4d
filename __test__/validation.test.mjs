// What the SDK refuses and what a failed call leaves behind (issue 12, classes 3, 6, 7 and 8):
// strings with unpaired surrogates, values JSON cannot hold (NaN, BigInt, cycles), odd option
// objects, hostile filters, formats from the future, failed creations, the range option in
// every mode, the CLI's ingest, collections outliving their database object, file descriptors
// after close, descriptor exhaustion, and the JS thread under large inputs.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chunkText, generators, open, rerankers, sources } from '../ts/dist/index.js';
import { rejectsWith, rng, root, tmpDir } from './helpers.mjs';

const sdk = pathToFileURL(path.join(root, 'ts', 'dist', 'index.js')).href;
const cli = path.join(root, 'ts', 'dist', 'cli.js');
const linux = process.platform === 'linux';
const scratch = tmpDir('validation');
let made = 0;

/** A fresh directory under this file's scratch directory (removed at exit). */
function fresh(name) {
  const d = path.join(scratch, `${name}-${made++}`);
  fs.mkdirSync(d);
  return d;
}

/** Asserts that `f()` throws or rejects with a HektorError of `code`; returns the error. */
async function failsWith(f, code) {
  return rejectsWith(assert, (async () => f())(), code);
}

/** Asserts that `f()` throws or rejects with a HektorError whose code is one of `codes`. */
async function failsWithOneOf(f, codes) {
  try {
    await f();
  } catch (e) {
    assert.equal(e.name, 'HektorError', `expected a HektorError, got ${e}`);
    assert.ok(codes.includes(e.code), `${e.code}: ${e.message}`);
    return e;
  }
  assert.fail(`expected rejection with one of ${codes}`);
}

/** Runs an ES module `source` in a child node (with `args` before it); resolves to `{ code, out, err }`. */
function runModule(dir, source, { args = [], shell } = {}) {
  const file = path.join(dir, `child-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(file, source.replaceAll('$SDK', sdk));
  const cmd = shell ? ['sh', ['-c', `${shell} && exec "$0" "$@"`, process.execPath, ...args, file]] : [process.execPath, [...args, file]];
  return new Promise((resolve) => {
    const p = spawn(cmd[0], cmd[1], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

/** Runs the CLI; resolves to `{ code, out }` (stdout and stderr together). */
function runCli(args, env = {}) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('exit', (code) => resolve({ code, out }));
  });
}

describe('unpaired surrogates are refused, never stored lossily (class 3)', () => {
  let db, col;
  before(async () => {
    db = await open(fresh('surrogates'));
    col = await db.createCollection('docs', { dimension: 2 });
    await col.upsert([
      { id: '\ufffd', text: 'replacement character', vector: [1, 0] },
      { id: '\ud83d\ude00', text: 'a well-formed pair \ud83d\ude00', vector: [0, 1], metadata: { '\ud83d\ude00': 'smile' } },
    ]);
  });
  after(() => db.close());

  test('ids, texts and metadata keys and values at any depth, naming row and field', async () => {
    const cases = [
      [{ id: '\ud800' }, 'id'],
      [{ id: '\udfff' }, 'id'],
      [{ id: 'a\ud800b' }, 'id'],
      [{ id: 'x', text: 'tail \ud83d' }, 'text'],
      [{ id: 'x', text: '\ude00 head' }, 'text'],
      [{ id: 'x', metadata: { '\ud800': 1 } }, /^metadata\./],
      [{ id: 'x', metadata: { a: { b: { '\udfff': true } } } }, /^metadata\.a\.b\./],
      [{ id: 'x', metadata: { tags: ['ok', 'bad \ud800'] } }, 'metadata.tags.1'],
      [{ id: 'x', metadata: { deep: [{ name: '\udc00' }] } }, 'metadata.deep.0.name'],
    ];
    for (const [bad, field] of cases) {
      const e = await failsWith(() => col.upsert([{ id: 'fine-1', vector: [1, 1] }, { id: 'fine-2' }, bad]), 'ERR_INVALID_ARG');
      assert.equal(e.location?.row, 2, JSON.stringify(bad));
      if (field instanceof RegExp) assert.match(e.location.field, field);
      else assert.equal(e.location.field, field);
    }
    assert.equal(await col.count(), 2, 'nothing of a refused batch was written');
  });

  test("'\\ufffd' and a well-formed pair stay distinct ids that round-trip", async () => {
    const [repl, pair] = await col.get(['\ufffd', '\ud83d\ude00']);
    assert.equal(repl.id, '\ufffd');
    assert.equal(pair.id, '\ud83d\ude00');
    assert.equal(pair.text, 'a well-formed pair \ud83d\ude00');
    assert.deepEqual(pair.metadata, { '\ud83d\ude00': 'smile' });
  });

  test('get and delete id lists refuse them, so deleting one never deletes another', async () => {
    const e = await failsWith(() => col.get(['\ufffd', '\ud800']), 'ERR_INVALID_ARG');
    assert.deepEqual(e.location, { row: 1, field: 'id' });
    await failsWith(() => col.get('\udfff'), 'ERR_INVALID_ARG');
    await failsWith(() => col.delete(['\ud800']), 'ERR_INVALID_ARG');
    await failsWith(() => col.delete('\udfff'), 'ERR_INVALID_ARG');
    assert.equal(await col.count(), 2);
    assert.equal((await col.get('\ufffd'))[0]?.id, '\ufffd');
  });

  test('search text, filters (keys and values), select and batches refuse them', async () => {
    await failsWith(() => col.search({ text: 'x \ud800' }), 'ERR_INVALID_ARG');
    await failsWith(() => col.search({ vector: [1, 0], filter: { tag: '\udfff' } }), 'ERR_INVALID_ARG');
    await failsWith(() => col.search({ vector: [1, 0], filter: { '\ud800': 1 } }), 'ERR_INVALID_ARG');
    await failsWith(() => col.search({ vector: [1, 0], filter: { tag: { $in: ['a', '\ud800'] } } }), 'ERR_INVALID_ARG');
    await failsWith(() => col.searchBatch([{ vector: [1, 0] }, { text: '\ud800' }]), 'ERR_INVALID_ARG');
    await failsWith(() => col.count({ tag: '\ud800' }), 'ERR_INVALID_ARG');
    await failsWith(() => col.delete({ filter: { tag: '\ud800' } }), 'ERR_INVALID_ARG');
    assert.equal(await col.count(), 2);
  });

  test('every other way a string enters: ask, chunkText, paths, sources, collection options', async () => {
    const generator = generators.custom(() => 'answer');
    await failsWith(() => col.ask('what \ud800?', { generator }), 'ERR_INVALID_ARG');
    await failsWith(() => col.ask('what?', { generator, template: '{{context}} \udfff {{question}}' }), 'ERR_INVALID_ARG');
    await failsWith(() => chunkText('text \ud800'), 'ERR_INVALID_ARG');
    await failsWith(() => open(path.join(fresh('surrogate-path'), 'db\ud800')), 'ERR_INVALID_ARG');
    await failsWith(() => sources.csv('data\ud800.csv'), 'ERR_INVALID_ARG');
    await failsWith(() => sources.csv('data.csv', { text: ['t\udfff'] }), 'ERR_INVALID_ARG');
    await failsWith(() => db.createCollection('other', { analyzer: { stopwords: ['the', '\ud800'] } }), 'ERR_INVALID_ARG');
    assert.deepEqual(await db.listCollections(), ['docs']);
  });
});

describe('invalid values and options are HektorErrors with the right code (class 6)', () => {
  let db, col;
  before(async () => {
    db = await open(fresh('values'));
    col = await db.createCollection('docs', { dimension: 2 });
    await col.upsert([{ id: 'a', text: 'alpha', vector: [1, 0], metadata: { n: 1 } }]);
  });
  after(() => db.close());

  test('k, ef, maxDistance, candidates of NaN, Infinity or null are refused, not defaulted', async () => {
    for (const name of ['k', 'ef', 'maxDistance', 'candidates']) {
      for (const bad of [NaN, Infinity, -Infinity, null, '5', 10n]) {
        const e = await failsWith(() => col.search({ vector: [1, 0], [name]: bad }), 'ERR_INVALID_ARG');
        assert.ok(e.message.length > 0);
        await failsWith(() => col.searchBatch([{ vector: [1, 0], [name]: bad }]), 'ERR_INVALID_ARG');
      }
    }
    await failsWith(() => col.search({ vector: [1, 0], fusion: { type: 'weighted', alpha: NaN } }), 'ERR_INVALID_ARG');
    // the defaults still apply when the option is left out
    assert.equal((await col.search({ vector: [1, 0] })).length, 1);
  });

  test('NaN, Infinity, BigInt, cycles, functions and Maps in metadata are refused naming row and path', async () => {
    const cyclic = { a: {} };
    cyclic.a.self = cyclic;
    const cases = [
      [{ x: NaN }, 'metadata.x'],
      [{ x: { y: [1, Infinity] } }, 'metadata.x.y.1'],
      [{ x: -Infinity }, 'metadata.x'],
      [{ x: 10n }, 'metadata.x'],
      [{ x: [1n] }, 'metadata.x.0'],
      [cyclic, 'metadata.a.self'],
      [{ f: () => 1 }, 'metadata.f'],
      [{ m: new Map([['k', 1]]) }, 'metadata.m'],
      [{ t: new Float32Array(2) }, 'metadata.t'],
    ];
    for (const [metadata, field] of cases) {
      const e = await failsWith(() => col.upsert([{ id: 'ok' }, { id: 'bad', metadata }]), 'ERR_INVALID_ARG');
      assert.deepEqual(e.location, { row: 1, field });
    }
    await failsWith(() => col.upsert({ id: 'v', vector: [1, 2n] }), 'ERR_INVALID_ARG');
    await failsWith(() => col.upsert({ id: 'v', vector: ['1', 2] }), 'ERR_INVALID_ARG');
    assert.equal(await col.count(), 1, 'nothing written');
    // what JSON keeps is accepted: a Date becomes its ISO string, undefined properties are left out
    const when = new Date(Date.UTC(2024, 0, 2));
    await col.upsert({ id: 'd', metadata: { when, skip: undefined, list: [1, null] } });
    assert.deepEqual((await col.get('d'))[0].metadata, { when: when.toISOString(), list: [1, null] });
    await col.delete('d');
  });

  test('metadata nested too deeply is ERR_LIMIT naming the row, whatever the depth', async () => {
    for (const depth of [150, 5000, 100_000]) {
      let m = { leaf: 1 };
      for (let i = 0; i < depth; i++) m = { m };
      const e = await failsWith(() => col.upsert([{ id: 'ok' }, { id: 'deep', metadata: m }]), 'ERR_LIMIT');
      assert.equal(e.location.row, 1);
    }
    assert.equal(await col.count(), 1);
  });

  test('a filter nested 5,000 deep or holding a BigInt is refused, not ERR_INTERNAL', async () => {
    let fieldDeep = { $eq: 1 };
    for (let i = 0; i < 5000; i++) fieldDeep = { $not: fieldDeep };
    let logicalDeep = { n: 1 };
    for (let i = 0; i < 5000; i++) logicalDeep = { $and: [logicalDeep] };
    let literalDeep = 1;
    for (let i = 0; i < 5000; i++) literalDeep = [literalDeep];
    const cyclic = { n: {} };
    cyclic.n.$not = cyclic.n;
    for (const filter of [{ n: fieldDeep }, logicalDeep, { n: literalDeep }, { n: 10n }, { n: { $in: [1, 2n] } }, cyclic, { n: NaN }]) {
      for (const run of [() => col.count(filter), () => col.search({ vector: [1, 0], filter }), () => col.delete({ filter })]) {
        await failsWithOneOf(run, ['ERR_INVALID_ARG', 'ERR_LIMIT']);
      }
    }
    assert.equal(await col.count(), 1);
  });

  test('a null (or non-object) options argument is ERR_INVALID_ARG, not a TypeError', async () => {
    const dir = fresh('null-options');
    const source = sources.jsonl(path.join(dir, 'none.jsonl'));
    const generator = generators.custom(() => 'x');
    const calls = [
      () => open(dir, null),
      () => open(dir, 'readOnly'),
      () => open(dir, { readOnly: 'yes' }),
      () => db.createCollection('n', null),
      () => db.collection('docs', null),
      () => col.search(null),
      () => col.searchBatch([], null),
      () => col.get(['a'], null),
      () => col.get(['a'], ['nope']),
      () => col.ingest(source, null),
      () => col.compact(null),
      () => col.ask('q', null),
      () => col.ask('q', { generator, k: NaN }),
      () => col.ask('q', { generator, k: null }),
      () => rerankers.mmr(null),
      () => rerankers.mmr({ lambda: NaN }),
      () => rerankers.rrf(null),
      () => chunkText('text', null),
      () => generator.generate([{ role: 'user', content: 'x' }], null),
      () => sources.hdf5('x.h5', null),
      () => source.read(null).next(),
    ];
    for (const [i, f] of calls.entries()) {
      const e = await failsWith(f, 'ERR_INVALID_ARG');
      assert.equal(e.name, 'HektorError', `call ${i}`);
    }
  });

  test('maxDistance applies to the vector component in text and hybrid modes too', async () => {
    const c = await db.createCollection('range', { dimension: 2 });
    // 50 records on a quarter circle; every text matches "common"
    await c.upsert(
      Array.from({ length: 50 }, (_, i) => {
        const a = (i * Math.PI) / 2 / 49;
        return { id: `r${i}`, text: `common ${i % 2 ? 'odd' : 'even'}`, vector: [Math.cos(a), Math.sin(a)] };
      }).concat([{ id: 'textonly', text: 'common common even' }]),
    );
    const max = 1 - Math.cos((10 * Math.PI) / 2 / 49) + 1e-4;
    for (const mode of ['vector', 'hybrid', 'text', undefined]) {
      const hits = await c.search({ text: 'common', vector: [1, 0], mode, k: 50, maxDistance: max });
      assert.equal(hits.length, 11, `${mode}: ${hits.map((h) => h.id)}`);
      for (const h of hits) assert.ok(h.distance !== undefined && h.distance <= max, `${mode}: ${h.id} at ${h.distance}`);
    }
    // without a query vector there is nothing to measure: refused rather than ignored
    await failsWith(() => c.search({ text: 'common', mode: 'text', maxDistance: max }), 'ERR_INVALID_ARG');
    await failsWith(() => c.search({ text: 'common', maxDistance: max }), 'ERR_INVALID_ARG');
    await db.dropCollection('range');
  });
});

describe('formats from the future and failed creations leave things as they were (class 6)', () => {
  test('a database or collection of a newer format version is ERR_VERSION, untouched', async () => {
    const dir = fresh('future');
    const db = await open(dir);
    await (await db.createCollection('docs')).upsert({ id: 'a', text: 'alpha' });
    await db.close();
    const marker = path.join(dir, 'hektor.json');
    const original = fs.readFileSync(marker, 'utf8');
    fs.writeFileSync(marker, JSON.stringify({ formatVersion: 99 }));
    await failsWith(() => open(dir), 'ERR_VERSION');
    await failsWith(() => open(dir, { readOnly: true }), 'ERR_VERSION');
    fs.writeFileSync(marker, original);
    const cfile = path.join(dir, 'docs', 'collection.json');
    const cjson = JSON.parse(fs.readFileSync(cfile, 'utf8'));
    fs.writeFileSync(cfile, JSON.stringify({ ...cjson, formatVersion: 99 }));
    const before = fs.readdirSync(path.join(dir, 'docs')).sort();
    const again = await open(dir);
    await failsWith(() => again.collection('docs'), 'ERR_VERSION');
    await failsWith(() => again.repair('docs'), 'ERR_VERSION');
    await again.close();
    assert.deepEqual(fs.readdirSync(path.join(dir, 'docs')).sort(), before);
    assert.equal(JSON.parse(fs.readFileSync(cfile, 'utf8')).formatVersion, 99);
  });

  test('a creation refused by the engine leaves nothing; a retry works', async () => {
    const db = await open(fresh('bad-create'));
    await failsWith(() => db.createCollection('docs', { dimension: 0 }), 'ERR_INVALID_ARG');
    await failsWith(() => db.createCollection('docs', { hnsw: { m: NaN } }), 'ERR_INVALID_ARG');
    assert.deepEqual(await db.listCollections(), []);
    await db.createCollection('docs', { dimension: 2 });
    assert.deepEqual(await db.listCollections(), ['docs']);
    await db.close();
  });
});

describe('the CLI leaves nothing behind a failed ingest (class 6)', () => {
  test('ingest of a missing file creates no database and no collection', async () => {
    const base = fresh('cli-missing');
    const dbDir = path.join(base, 'kb');
    const r = await runCli(['ingest', path.join(base, 'nope.jsonl'), '--db', dbDir, '--text', 'body']);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /ERR_NOT_FOUND/);
    assert.equal(fs.existsSync(dbDir), false, 'no database directory');
    // into an existing database: no empty collection appears
    const db = await open(dbDir);
    await db.close();
    const again = await runCli(['ingest', path.join(base, 'nope.jsonl'), '--db', dbDir, '-c', 'docs']);
    assert.equal(again.code, 1, again.out);
    const ro = await open(dbDir, { readOnly: true });
    assert.deepEqual(await ro.listCollections(), []);
    await ro.close();
  });

  test('an ingest whose source fails removes the collection (and database) it made', async () => {
    const base = fresh('cli-bad');
    const dbDir = path.join(base, 'kb');
    const file = path.join(base, 'bad.jsonl');
    fs.writeFileSync(file, '{"id": "a", "body": "x"\n');
    const r = await runCli(['ingest', file, '--db', dbDir, '--id', 'id', '--text', 'body']);
    assert.equal(r.code, 1, r.out);
    assert.equal(fs.existsSync(dbDir), false, r.out);
  });

  test('--embedder into an existing collection records it, or refuses clearly', { timeout: 300_000 }, async (t) => {
    const fetched = spawnSync(process.execPath, [path.join(root, 'scripts/fetch-models.mjs'), '--json'], { encoding: 'utf8' });
    if (fetched.status !== 0) return t.skip(`the MiniLM model could not be fetched: ${fetched.stderr.slice(-300)}`);
    const { minilm } = JSON.parse(fetched.stdout.trim().split('\n').at(-1));
    const base = fresh('cli-embedder');
    const dbDir = path.join(base, 'kb');
    const file = path.join(base, 'docs.jsonl');
    fs.writeFileSync(file, ['Paris is in France.', 'Bananas are yellow.', 'Rust is a language.'].map((body, i) => JSON.stringify({ id: `d${i}`, body })).join('\n'));
    // an empty collection made without an embedder: re-made with it, and it is recorded
    const db = await open(dbDir);
    await db.createCollection('empty');
    await db.close();
    const first = await runCli(['ingest', file, '--db', dbDir, '-c', 'empty', '--id', 'id', '--text', 'body', '--embedder', minilm]);
    assert.equal(first.code, 0, first.out);
    // a collection holding records made without one: refused, nothing ingested
    const plain = await runCli(['ingest', file, '--db', dbDir, '-c', 'plain', '--id', 'id', '--text', 'body']);
    assert.equal(plain.code, 0, plain.out);
    const refused = await runCli(['ingest', file, '--db', dbDir, '-c', 'plain', '--id', 'id', '--text', 'body', '--embedder', minilm]);
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.out, /ERR_INVALID_ARG/);
    // the same embedder again: accepted
    const same = await runCli(['ingest', file, '--db', dbDir, '-c', 'empty', '--id', 'id', '--text', 'body', '--embedder', minilm]);
    assert.equal(same.code, 0, same.out);
    const ro = await open(dbDir, { readOnly: true });
    const st = await (await ro.collection('empty')).stats();
    assert.equal(st.config.embedder?.kind, 'local');
    assert.equal(st.count, 3);
    assert.equal(st.dimension, 384, 'the records were embedded');
    const plainStats = await (await ro.collection('plain')).stats();
    assert.equal(plainStats.config.embedder, null);
    assert.equal(plainStats.dimension, null);
    await ro.close();
  });
});

describe('handles and resources (class 7)', () => {
  test('a collection keeps working after its database object is garbage-collected', async () => {
    const dir = fresh('gc');
    const r = await runModule(dir, `
      import { open } from '$SDK'
      const col = await (await open(${JSON.stringify(path.join(dir, 'kb'))})).createCollection('x', { dimension: 2 })
      for (let i = 0; i < 20; i++) {
        globalThis.gc()
        await new Promise((r) => setTimeout(r, 5))
        await col.upsert({ id: 'r' + i, text: 'row ' + i, vector: [1, i] })
      }
      globalThis.gc()
      await new Promise((r) => setTimeout(r, 20))
      console.log(JSON.stringify({ count: await col.count(), hits: (await col.search({ text: 'row', k: 3 })).length }))
    `, { args: ['--expose-gc'] });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out.trim()), { count: 20, hits: 3 });
  });

  test('close releases every file descriptor of every collection, quickly', { skip: !linux && 'counts /proc/self/fd' }, async () => {
    const dir = fresh('fds');
    const r = await runModule(dir, `
      import fs from 'node:fs'
      import { open } from '$SDK'
      const fds = () => fs.readdirSync('/proc/self/fd').length
      const before = fds()
      const db = await open(${JSON.stringify(path.join(dir, 'kb'))})
      const cols = []
      for (let i = 0; i < 300; i++) {
        const c = await db.createCollection('c' + i, { dimension: 2 })
        if (i % 2 === 0) await c.upsert({ id: 'a', text: 'alpha', vector: [1, 0] })
        cols.push(c)
      }
      const open_ = fds()
      let t = performance.now()
      await db.close()
      const closeMs = performance.now() - t
      const after = fds()
      const stillUsable = await cols[0].count().then(() => 'open', (e) => e.code)
      console.log(JSON.stringify({ before, open: open_, after, closeMs, stillUsable }))
    `);
    assert.equal(r.code, 0, r.err);
    const m = JSON.parse(r.out.trim());
    assert.ok(m.open - m.before >= 300, `collections hold descriptors while open: ${r.out}`);
    assert.ok(m.after - m.before <= 5, `descriptors left after close: ${r.out}`);
    assert.equal(m.stillUsable, 'ERR_CLOSED');
    assert.ok(m.closeMs < 30_000, `close took ${m.closeMs} ms`);
  });

  test('out of file descriptors: ERR_IO naming the cause, never ERR_NOT_FOUND; a failed create leaves nothing', { skip: !linux && 'needs ulimit' }, async () => {
    const dir = fresh('emfile');
    const kb = path.join(dir, 'kb');
    const db = await open(kb);
    for (let i = 0; i < 60; i++) await (await db.createCollection('c' + i, { dimension: 2 })).upsert({ id: 'a', text: 'alpha', vector: [1, 0] });
    await db.close();
    const r = await runModule(dir, `
      import { open } from '$SDK'
      const db = await open(${JSON.stringify(kb)})
      const out = { opened: 0 }
      for (let i = 0; i < 60; i++) {
        try { await db.collection('c' + i); out.opened++ } catch (e) { out.openError = { code: e.code, message: e.message }; break }
      }
      try { await db.createCollection('fresh', { dimension: 2 }); out.created = true } catch (e) { out.createError = e.code }
      out.listed = (await db.listCollections().catch((e) => [e.code])).includes('fresh')
      await db.close()
      // with descriptors back, the failed name is free and the collections open
      const again = await open(${JSON.stringify(kb)})
      if (out.created) out.retry = 'ok'
      else await again.createCollection('fresh', { dimension: 2 }).then(() => (out.retry = 'ok'), (e) => (out.retry = e.code))
      out.count = await (await again.collection('c59')).count()
      await again.close()
      console.log(JSON.stringify(out))
    `, { shell: 'ulimit -n 120' });
    assert.equal(r.code, 0, r.err);
    const m = JSON.parse(r.out.trim());
    assert.ok(m.opened < 60, `the limit was reached: ${r.out}`);
    assert.equal(m.openError.code, 'ERR_IO', r.out);
    assert.match(m.openError.message, /too many open files/i);
    if (m.createError !== undefined) {
      assert.equal(m.createError, 'ERR_IO', r.out);
      assert.equal(m.listed, false, 'a failed create is not listed');
    }
    assert.equal(m.retry, 'ok', r.out);
    assert.equal(m.count, 1);
  });
});

describe('the JavaScript thread under large inputs (class 8)', () => {
  let db, col;
  const dim = 256;
  before(async () => {
    db = await open(fresh('loop'));
    col = await db.createCollection('docs', { dimension: dim });
    const r = rng(8);
    const records = Array.from({ length: 4000 }, (_, i) => ({
      id: `id${i}`,
      text: `record number ${i}`,
      vector: Float32Array.from({ length: dim }, () => r() - 0.5),
      metadata: { x: i * 2 },
    }));
    await col.upsert(records);
  });
  after(() => db.close());

  /** Runs `f` and returns its result with the longest gap between event-loop turns meanwhile. */
  async function stalls(f) {
    let longest = 0;
    let last = performance.now();
    let running = true;
    const tick = () => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    await new Promise((r) => setTimeout(r, 5));
    const t = performance.now();
    const p = f();
    const sync = performance.now() - t;
    const value = await p;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    running = false;
    return { value, sync, longest };
  }

  test('count with $in of 100,000 round numbers compiles in milliseconds', async () => {
    const values = Array.from({ length: 100_000 }, (_, i) => i * 2);
    const { value, sync } = await stalls(() => col.count({ x: { $in: values } }));
    assert.equal(value, 4000);
    // the hash set of the list used to take quadratic time: 0.4 s here, 3.1 s on a slower machine
    assert.ok(sync < 250, `the call blocked the thread for ${sync.toFixed(0)} ms`);
  });

  test('thousands of concurrent searches with vectors do not stall the event loop for long', async () => {
    const q = Float32Array.from({ length: dim }, (_, i) => Math.sin(i));
    const { value, longest } = await stalls(() => Promise.all(Array.from({ length: 1500 }, () => col.search({ vector: q, k: 100, select: ['vector', 'text'] }))));
    assert.equal(value.length, 1500);
    assert.ok(value.every((hits) => hits.length === 100 && hits[0].vector instanceof Float32Array));
    assert.ok(longest < 1500, `the event loop stalled for ${longest.toFixed(0)} ms`);
  });

  test('reads waiting for their turn keep their order and honour their signal', async () => {
    const q = Float32Array.from({ length: dim }, (_, i) => Math.cos(i));
    const ac = new AbortController();
    const many = Array.from({ length: 64 }, () => col.search({ vector: q, k: 100, select: ['vector'] }));
    const late = col.search({ vector: q, k: 100, select: ['vector'], signal: ac.signal });
    ac.abort();
    await rejectsWith(assert, late, 'ERR_ABORTED');
    const done = await Promise.all(many);
    assert.ok(done.every((h) => h.length === 100));
    // a cheap read is not held back behind nothing
    assert.equal((await col.search({ vector: q, k: 1 })).length, 1);
  });
});
