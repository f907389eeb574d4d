// The ten file sources, end to end through the SDK, on files written by each format's own
// reference library (pyarrow, fastavro, h5py, protoc + protobuf, Python's csv / json /
// xml.etree: see fixtures/make_fixtures.py): ingest with every mapping field, read back,
// search, progress, standalone read() in bounded batches, bad input with codes and
// locations, onError: 'skip', and abort mid-ingest.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HektorError, open, Source, sources } from '../ts/dist/index.js';
import { fixtureTimings, pythonFixtures } from './fixtures/python-fixtures.mjs';
import { rejectsWith, tmpDir } from './helpers.mjs';

let FX; // fixture dir
let E; // expected.json: { n, dim, rows }
let db;
const scratch = tmpDir('sources-scratch');
let seq = 0;

const fx = (...p) => path.join(FX, ...p);
const textOf = (r) => `${r.title}\n\n${r.body}`;

before(async () => {
  const t0 = Date.now();
  FX = await pythonFixtures();
  const t = fixtureTimings();
  console.log(`# python fixtures in ${FX}: ${Date.now() - t0} ms (pip install ${t.installedMs} ms, make_fixtures.py ${t.generatedMs} ms)`);
  E = JSON.parse(fs.readFileSync(fx('expected.json'), 'utf8'));
  db = await open(tmpDir('sources'));
});
after(() => db?.close());

/** A fresh collection (4-d unless told). */
const newCol = (dimension = 4) => db.createCollection(`c${++seq}`, { dimension, hnsw: { m: 8 } });

/** A copy of `file` cut to `fraction` of its size (a truncated file), in the scratch dir. */
function truncated(file, fraction = 0.5) {
  const buf = fs.readFileSync(file);
  const out = path.join(scratch, `cut${++seq}-${path.basename(file)}`);
  fs.writeFileSync(out, buf.subarray(0, Math.floor(buf.length * fraction)));
  return out;
}

function assertVector(actual, expected, what) {
  assert.ok(actual instanceof Float32Array, `${what}: vector is a Float32Array`);
  assert.equal(actual.length, expected.length, `${what}: dimension`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-6, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

function assertRecord(actual, exp) {
  assert.ok(actual, `record ${exp.id} exists`);
  assert.equal(actual.id, exp.id);
  assert.equal(actual.text, exp.text, `${exp.id}: text`);
  if (exp.vector) assertVector(actual.vector, exp.vector, `${exp.id}: vector`);
  else assert.equal(actual.vector, undefined, `${exp.id}: no vector`);
  assert.deepEqual(actual.metadata, exp.metadata, `${exp.id}: metadata`);
}

/**
 * The happy path shared by every format: ingest (report, progress), read back with get,
 * search by text and by vector, and read() standalone in bounded batches.
 */
async function happyPath(source, expected, { file, batchSize = 16, totalRows = 'any' } = {}) {
  assert.ok(source instanceof Source);
  const col = await newCol(expected[0].vector?.length ?? 4);
  const events = [];
  const report = await col.ingest(source, { batchSize, onProgress: (p) => events.push(p) });
  const n = expected.length;
  assert.equal(report.source, file);
  assert.equal(report.rows, n);
  assert.equal(report.upserted, n);
  assert.equal(report.skipped, 0);
  assert.deepEqual(report.errors, []);
  assert.ok(report.batches >= Math.ceil(n / batchSize), `batches ${report.batches}`);
  assert.ok(report.elapsedMs >= 0 && report.rowsPerSecond >= 0);
  assert.equal(await col.count(), n);

  // progress: one event per batch (all delivered before ingest() resolves), rows growing,
  // the last one the whole input
  assert.equal(events.length, report.batches, 'one progress event per batch');
  for (let i = 1; i < events.length; i++) assert.ok(events[i].rows > events[i - 1].rows, 'rows grow');
  const last = events.at(-1);
  assert.equal(last.rows, n);
  assert.equal(last.upserted, n);
  assert.equal(last.skipped, 0);
  assert.ok(last.elapsedMs >= 0);
  assert.ok(last.bytes > 0, `bytes read: ${JSON.stringify(last)}`);
  if (last.totalBytes !== null) assert.ok(last.bytes <= last.totalBytes, JSON.stringify(last));
  if (totalRows === 'known') assert.equal(last.totalRows, n, 'the source knows its row count');

  // every record as expected
  const got = await col.get(expected.map((r) => r.id));
  expected.forEach((exp, i) => assertRecord(got[i], exp));

  // search by a word that only one record has, and by a record's own vector
  const target = expected[15];
  const word = target.text.split(/\s+/)[0];
  const byText = await col.search({ text: word, k: 3 });
  assert.equal(byText[0]?.id, target.id, `text search for '${word}'`);
  if (target.vector) {
    const byVector = await col.search({ vector: target.vector, k: 3 });
    assert.equal(byVector[0].id, target.id, 'vector search');
    assert.ok(byVector[0].distance < 1e-5);
    const exact = await col.search({ vector: expected[23].vector, k: 1, exact: true });
    assert.equal(exact[0].id, expected[23].id);
  }

  // read() on its own: the same records, in batches of at most 7
  const read = [];
  let batches = 0;
  for await (const batch of source.read({ batchSize: 7 })) {
    assert.ok(batch.length >= 1 && batch.length <= 7, `batch of ${batch.length}`);
    batches++;
    read.push(...batch);
  }
  assert.equal(read.length, n);
  assert.ok(batches >= Math.ceil(n / 7));
  read.forEach((r, i) => assertRecord(r, expected[i]));
  return { col, report, events };
}

/** Ingest that must fail with `code`; returns the error after checking the location's source. */
async function ingestFails(source, code, { dim = 4, file, options = {} } = {}) {
  const col = await newCol(dim);
  const err = await rejectsWith(assert, col.ingest(source, options), code);
  if (file !== undefined) assert.equal(err.location?.source, file, `location.source of ${err.message}`);
  return { err, col };
}

/**
 * After a stream-ending error (a truncated file, broken structure), the rows read before it
 * are delivered first: the collection holds exactly the input's first rows, up to the
 * error's row when the source knows it. `ids` are the input's ids in order.
 */
async function assertKeptPrefix(col, err, ids = E.rows.map((r) => r.id)) {
  const n = await col.count();
  assert.ok(n < ids.length, `kept ${n} of ${ids.length}`);
  if (err.location?.row !== undefined) assert.equal(n, err.location.row, 'every row before the error is kept');
  const got = await col.get(ids.slice(0, n + 1));
  got.slice(0, n).forEach((r, i) => assert.equal(r?.id, ids[i]));
  assert.equal(got[n], null);
  return n;
}

/** Byte offset of the first occurrence of `needle` in `file`. */
const offsetOf = (file, needle) => {
  const i = fs.readFileSync(file).indexOf(Buffer.from(needle));
  assert.ok(i >= 0, `${needle} in ${file}`);
  return i;
};

// ---------------------------------------------------------------------------------- CSV
describe('csv (Python csv module)', () => {
  const mapping = { id: 'id', text: ['title', 'body'], vector: 'emb', metadata: ['year', 'price', 'active', 'tags', 'author.name', 'ts'] };
  const expected = () =>
    E.rows.map((r) => ({
      id: r.id,
      text: textOf(r),
      vector: r.vector,
      metadata: { year: r.year, price: r.price, active: r.active, tags: r.tags, 'author.name': r.author.name, ts: r.ts },
    }));

  test('happy path: typed columns, json column with a dotted path, quoted fields, CRLF', async () => {
    const file = fx('docs.csv');
    await happyPath(sources.csv(file, { ...mapping, types: { tags: 'json', author: 'json' } }), expected(), { file });
  });

  test('gzip (detected), a byte-order mark, and a headerless ";" file with space-separated vectors', async () => {
    const bom = fx('docs-bom.csv');
    await happyPath(sources.csv(bom, { id: 'id', text: 'title', metadata: 'year' }), E.rows.map((r) => ({ id: r.id, text: r.title, metadata: { year: r.year } })), { file: bom });
    const gz = fx('docs.csv.gz');
    await happyPath(sources.csv(gz, { ...mapping, types: { tags: 'json', author: 'json' } }), expected(), { file: gz });
    const semi = fx('docs-semicolon.csv');
    const exp = E.rows.map((r) => ({ id: r.id, text: r.title, vector: r.vector, metadata: { year: r.year } }));
    await happyPath(
      sources.csv(semi, { delimiter: ';', header: false, columns: ['id', 'title', 'year', 'emb'], id: 'id', text: 'title', vector: 'emb', metadata: 'year' }),
      exp,
      { file: semi },
    );
  });

  test('a malformed row stops the ingest with its row and byte offset', async () => {
    const file = fx('bad.csv');
    const { err, col } = await ingestFails(sources.csv(file, { id: 'id', text: 'title', vector: 'emb' }), 'ERR_PARSE', { file, options: { batchSize: 2 } });
    assert.equal(err.location.row, 3);
    // the record starts after the CRLF
    const start = offsetOf(file, '\r\ndoc-003,') + 2;
    assert.equal(err.location.byte, start);
    assert.equal(await col.count(), 2, 'the whole batch before the bad row is kept');
    // read() reports it too
    await rejectsWith(assert, (async () => { for await (const _ of sources.csv(file, { id: 'id', vector: 'emb' }).read()); })(), 'ERR_PARSE');
  });

  test('byte offsets of records in a CRLF file point at the record, not at the \\n before it', async () => {
    const file = path.join(scratch, 'crlf.csv');
    fs.writeFileSync(file, 'id,t\r\na,x\r\nb,y,extra\r\n');
    const err = await rejectsWith(assert, (async () => { for await (const _ of sources.csv(file, { id: 'id' }).read()); })(), 'ERR_PARSE');
    assert.deepEqual(err.location, { source: file, row: 1, byte: 11 });
  });

  test("onError: 'skip' counts a malformed row, a non-numeric vector and a wrong-dimension vector", async () => {
    const file = fx('bad.csv');
    // batches of 4 put each bad row in its own batch; one batch of 16 has all three
    for (const batchSize of [4, 16]) {
      const col = await newCol(4);
      const report = await col.ingest(sources.csv(file, { id: 'id', text: 'title', vector: 'emb' }), { onError: 'skip', batchSize });
      assert.equal(report.rows, 15);
      assert.equal(report.skipped, 3);
      assert.equal(report.upserted, 12);
      assert.deepEqual(
        report.errors.map((e) => [e.code, e.location.row, e.location.source]),
        [['ERR_PARSE', 3, file], ['ERR_INVALID_ARG', 7, file], ['ERR_DIMENSION_MISMATCH', 11, file]],
      );
      assert.equal(report.errors[1].location.field, 'emb');
      assert.equal(await col.count(), 12);
      assert.deepEqual((await col.get(['doc-003', 'doc-007', 'doc-011', 'doc-012'])).map((r) => r?.id ?? null), [null, null, null, 'doc-012']);
    }
    // read() with skip yields only the good rows
    let n = 0;
    for await (const b of sources.csv(file, { id: 'id', vector: 'emb' }).read({ onError: 'skip' })) n += b.length;
    assert.equal(n, 13, 'the dimension is the collection\'s business: read() keeps the 3-d vector');
  });

  test('a vector of the wrong dimension is ERR_DIMENSION_MISMATCH at its source row', async () => {
    const file = fx('docs.csv');
    const { err, col } = await ingestFails(sources.csv(file, { id: 'id', vector: 'emb' }), 'ERR_DIMENSION_MISMATCH', { dim: 3, file });
    assert.equal(err.location.row, 0);
    assert.equal(await col.count(), 0);
  });

  test('a missing column, a missing file, a truncated gzip file, an unknown option', async () => {
    const file = fx('docs.csv');
    const { err } = await ingestFails(sources.csv(file, { id: 'id', text: 'titel' }), 'ERR_INVALID_ARG', { file });
    assert.equal(err.location.field, 'titel');
    assert.match(err.message, /title/, 'lists the columns');
    const missing = path.join(scratch, 'nope.csv');
    await ingestFails(sources.csv(missing, { id: 'id' }), 'ERR_NOT_FOUND', { file: missing });
    const cut = truncated(fx('docs.csv.gz'), 0.6);
    const { col, err: e2 } = await ingestFails(sources.csv(cut, { id: 'id', text: 'title' }), 'ERR_PARSE', { file: cut, options: { batchSize: 5 } });
    await assertKeptPrefix(col, e2);
    await ingestFails(sources.csv(file, { id: 'id', delimeter: ';' }), 'ERR_INVALID_ARG');
  });
});

// ---------------------------------------------------------------------------------- JSON
const jsonMapping = { id: 'id', text: ['title', 'body'], vector: 'emb', metadata: ['year', 'price', 'active', 'tags', 'author.name', 'ts'] };
const jsonExpected = () =>
  E.rows.map((r) => ({
    id: r.id,
    text: textOf(r),
    vector: r.vector,
    metadata: { year: r.year, price: r.price, active: r.active, tags: r.tags, 'author.name': r.author.name, ts: r.ts },
  }));

describe('json (Python json module)', () => {
  test('happy path: records at a JSON pointer', async () => {
    const file = fx('docs.json');
    await happyPath(sources.json(file, { pointer: '/data/items', ...jsonMapping }), jsonExpected(), { file });
  });

  test('a gzipped top-level array', async () => {
    const file = fx('docs-array.json.gz');
    await happyPath(sources.json(file, jsonMapping), jsonExpected(), { file });
  });

  test('a malformed element stops with its row; skip keeps the others', async () => {
    const file = fx('bad.json');
    const { err } = await ingestFails(sources.json(file, { id: 'id', text: 'title' }), 'ERR_PARSE', { file });
    assert.equal(err.location.row, 6);
    const start = offsetOf(file, '{"id": "doc-006"');
    assert.ok(err.location.byte >= start && err.location.byte < start + 40, `byte ${err.location.byte} inside element 6 at ${start}`);
    const col = await newCol();
    const report = await col.ingest(sources.json(file, { id: 'id', text: 'title', vector: 'emb' }), { onError: 'skip' });
    assert.equal(report.rows, 12);
    assert.equal(report.skipped, 2);
    assert.equal(report.upserted, 10);
    assert.deepEqual(report.errors.map((e) => [e.code, e.location.row]), [['ERR_PARSE', 6], ['ERR_INVALID_ARG', 9]]);
  });

  test('a truncated file, a pointer to nowhere, an object document without a pointer', async () => {
    const cut = truncated(fx('docs.json'), 0.5);
    const { col, err: e0 } = await ingestFails(sources.json(cut, { pointer: '/data/items', ...jsonMapping }), 'ERR_PARSE', { file: cut, options: { batchSize: 4 } });
    await assertKeptPrefix(col, e0);
    const file = fx('docs.json');
    await ingestFails(sources.json(file, { pointer: '/data/nothing', id: 'id' }), 'ERR_NOT_FOUND', { file });
    const { err } = await ingestFails(sources.json(file, { id: 'id' }), 'ERR_INVALID_ARG', { file });
    assert.match(err.message, /pointer/);
  });
});

describe('jsonl (Python json module)', () => {
  test('happy path, plain and gzip', async () => {
    for (const name of ['docs.jsonl', 'docs.jsonl.gz']) {
      const file = fx(name);
      await happyPath(sources.jsonl(file, jsonMapping), jsonExpected(), { file });
    }
  });

  test('a malformed line stops with its row and byte offset', async () => {
    const file = fx('bad.jsonl');
    const { err } = await ingestFails(sources.jsonl(file, jsonMapping), 'ERR_PARSE', { file });
    assert.equal(err.location.row, 4);
    const start = offsetOf(file, '{"id": "doc-004"');
    assert.ok(err.location.byte >= start && err.location.byte <= start + 40, `byte ${err.location.byte}, line at ${start}`);
  });

  test("skip: a malformed line, a missing id, a string as the vector", async () => {
    const file = fx('bad.jsonl');
    const col = await newCol();
    const report = await col.ingest(sources.jsonl(file, jsonMapping), { onError: 'skip', batchSize: 5 });
    assert.equal(report.rows, 15);
    assert.equal(report.skipped, 3);
    assert.equal(report.upserted, 12);
    assert.deepEqual(
      report.errors.map((e) => [e.code, e.location.row, e.location.field ?? null]),
      [['ERR_PARSE', 4, null], ['ERR_INVALID_ARG', 8, 'id'], ['ERR_INVALID_ARG', 12, 'emb']],
    );
    assert.equal(report.errors[0].location.source, file);
    assert.equal(await col.count(), 12);
  });

  test("NaN as Python's json writes it by default is not JSON: a row error", async () => {
    const file = fx('nan.jsonl');
    const { err } = await ingestFails(sources.jsonl(file, { id: 'id', text: 'title', metadata: 'score' }), 'ERR_PARSE', { file });
    assert.equal(err.location.row, 2);
    const col = await newCol();
    const report = await col.ingest(sources.jsonl(file, { id: 'id', text: 'title', metadata: 'score' }), { onError: 'skip' });
    assert.deepEqual([report.upserted, report.skipped, report.errors[0].location.row], [4, 1, 2]);
    assert.deepEqual((await col.get('doc-003'))[0].metadata, { score: 1.5 });
  });

  test('a truncated gzip file, a missing file, a wrong dimension', async () => {
    const cut = truncated(fx('docs.jsonl.gz'), 0.5);
    await ingestFails(sources.jsonl(cut, jsonMapping), 'ERR_PARSE', { file: cut });
    const missing = path.join(scratch, 'none.jsonl');
    await ingestFails(sources.jsonl(missing, jsonMapping), 'ERR_NOT_FOUND', { file: missing });
    const file = fx('docs.jsonl');
    const { err } = await ingestFails(sources.jsonl(file, jsonMapping), 'ERR_DIMENSION_MISMATCH', { dim: 8, file });
    assert.equal(err.location.row, 0);
  });
});

// ---------------------------------------------------------------------------------- XML
describe('xml (xml.etree)', () => {
  const mapping = { path: 'catalog/book', arrays: ['tag'], id: 'id', text: ['title', 'body'], vector: 'emb', metadata: ['lang', 'year', 'price', 'active', 'tag', 'author.name', 'ts'] };
  const expected = () =>
    E.rows.map((r) => ({
      id: r.id,
      text: textOf(r),
      vector: r.vector,
      metadata: { lang: 'en', year: r.year, price: { currency: 'EUR', '#text': r.price }, active: r.active, tag: r.tags, 'author.name': r.author.name, ts: r.ts },
    }));

  test('happy path: attributes, nested elements, repeated elements, escaped text, plain and gzip', async () => {
    for (const name of ['docs.xml', 'docs.xml.gz']) {
      const file = fx(name);
      await happyPath(sources.xml(file, mapping), expected(), { file });
    }
  });

  test('namespaces: an Atom feed that etree wrote with its own ns0: prefix', async () => {
    const file = fx('atom.xml');
    const ATOM = 'http://www.w3.org/2005/Atom';
    const exp = E.rows.map((r) => ({ id: r.id, text: r.title, metadata: { 'link.href': `https://example.org/${r.id}` } }));
    const mapping = { id: 'id', text: 'title', metadata: 'link.href' };
    await happyPath(sources.xml(file, { path: 'feed/entry', ...mapping }), exp, { file });
    await happyPath(sources.xml(file, { path: 'atom:feed/atom:entry', namespaces: { atom: ATOM }, ...mapping }), exp, { file });
    // a prefixed step matches only its namespace: nothing matches, which is reported
    const col = await newCol();
    const e = await rejectsWith(assert, col.ingest(sources.xml(file, { path: 'a:feed/a:entry', namespaces: { a: 'urn:not-atom' }, ...mapping })), 'ERR_NOT_FOUND');
    assert.match(e.message, /feed/);
    // and so does a typo in the path
    await rejectsWith(assert, col.ingest(sources.xml(file, { path: 'feed/entries', ...mapping })), 'ERR_NOT_FOUND');
  });

  test('mismatched tags stop the stream with ERR_PARSE and the record', async () => {
    const src = fs.readFileSync(fx('docs.xml'), 'utf8');
    const at = src.indexOf('<book id="doc-003"');
    const broken = src.slice(0, at) + src.slice(at).replace('</title>', '</titel>');
    const file = path.join(scratch, 'mismatched.xml');
    fs.writeFileSync(file, broken);
    const { err, col } = await ingestFails(sources.xml(file, mapping), 'ERR_PARSE', { file, options: { batchSize: 2 } });
    assert.equal(err.location.row, 3);
    assert.ok(err.location.byte >= Buffer.byteLength(src.slice(0, at)), `byte ${err.location.byte}`);
    assert.equal(await assertKeptPrefix(col, err), 3, 'the rows before the broken record are kept');
  });

  test('a vector that is not numbers: stop names row and field; skip keeps the rest', async () => {
    const file = fx('bad-vector.xml');
    const { err } = await ingestFails(sources.xml(file, mapping), 'ERR_INVALID_ARG', { file });
    assert.equal(err.location.row, 4);
    assert.equal(err.location.field, 'emb');
    const col = await newCol();
    const report = await col.ingest(sources.xml(file, mapping), { onError: 'skip' });
    assert.equal(report.skipped, 1);
    assert.equal(report.upserted, 9);
    assert.equal(report.errors[0].location.row, 4);
  });

  test('a truncated file, a missing file', async () => {
    const cut = truncated(fx('docs.xml'), 0.5);
    const { col, err } = await ingestFails(sources.xml(cut, mapping), 'ERR_PARSE', { file: cut, options: { batchSize: 4 } });
    await assertKeptPrefix(col, err);
    const missing = path.join(scratch, 'none.xml');
    await ingestFails(sources.xml(missing, mapping), 'ERR_NOT_FOUND', { file: missing });
  });
});

// ------------------------------------------------------------------ Parquet / Arrow / Feather
const arrowMapping = { id: 'id', text: ['title', 'body'], vector: 'emb', metadata: ['year', 'price', 'active', 'tags', 'author.name', 'category', 'ts', 'ts_local', 'day'] };
const arrowExpected = () =>
  E.rows.map((r) => ({
    id: r.id,
    text: textOf(r),
    vector: r.vector,
    metadata: {
      year: r.year,
      price: r.price,
      active: r.active,
      tags: r.tags,
      'author.name': r.author.name,
      category: r.category,
      ts: r.ts, // timestamp[ms, America/New_York]: the instant in UTC
      ts_local: r.ts.replace(/Z$/, ''), // timestamp[us] without a zone: wall-clock time
      day: r.day,
    },
  }));

describe('parquet (pyarrow)', () => {
  test('happy path: 5 row groups, list<float32> vectors, nested struct, dictionary, timestamps', async () => {
    const file = fx('docs.parquet');
    await happyPath(sources.parquet(file, arrowMapping), arrowExpected(), { file, totalRows: 'known', batchSize: 6 });
  });

  test('fixed_size_list vectors, zstd, rowGroups and batchSize options', async () => {
    const file = fx('docs-zstd.parquet');
    await happyPath(sources.parquet(file, { ...arrowMapping, vector: 'emb_fixed', batchSize: 5 }), arrowExpected(), { file, totalRows: 'known' });
    // row group 1 only (rows 16..31), ids generated from the file's row numbers
    const rows = [];
    for await (const b of sources.parquet(file, { text: 'title', rowGroups: [1] }).read({ batchSize: 100 })) rows.push(...b);
    assert.deepEqual(rows.map((r) => r.id), E.rows.slice(16, 32).map((_, i) => `${file}:${16 + i}`));
  });

  test('a vector of the wrong dimension at row 13: stop and skip', async () => {
    const file = fx('bad-dim.parquet');
    const { err, col } = await ingestFails(sources.parquet(file, arrowMapping), 'ERR_DIMENSION_MISMATCH', { file, options: { batchSize: 8 } });
    assert.equal(err.location.row, 13);
    assert.equal(await col.count(), 8, 'the first whole batch is kept');
    const col2 = await newCol();
    const report = await col2.ingest(sources.parquet(file, arrowMapping), { onError: 'skip', batchSize: 8 });
    assert.equal(report.skipped, 1);
    assert.equal(report.upserted, E.n - 1);
    assert.equal(report.errors[0].code, 'ERR_DIMENSION_MISMATCH');
    assert.equal(report.errors[0].location.row, 13);
    assert.equal(report.errors[0].location.source, file);
  });

  test('a truncated file, a wrong vector type, a missing column, a missing file', async () => {
    const cut = truncated(fx('docs.parquet'), 0.7);
    await ingestFails(sources.parquet(cut, arrowMapping), 'ERR_PARSE', { file: cut });
    const file = fx('docs.parquet');
    const { err } = await ingestFails(sources.parquet(file, { ...arrowMapping, vector: 'tags' }), 'ERR_INVALID_ARG', { file });
    assert.equal(err.location.field, 'tags');
    const { err: e2 } = await ingestFails(sources.parquet(file, { ...arrowMapping, metadata: ['year', 'nope'] }), 'ERR_INVALID_ARG', { file });
    assert.equal(e2.location.field, 'nope');
    const missing = path.join(scratch, 'none.parquet');
    await ingestFails(sources.parquet(missing, arrowMapping), 'ERR_NOT_FOUND', { file: missing });
  });
});

describe('arrow (pyarrow IPC)', () => {
  test('happy path: IPC file with fixed_size_list vectors', async () => {
    const file = fx('docs.arrow');
    await happyPath(sources.arrow(file, { ...arrowMapping, vector: 'emb_fixed' }), arrowExpected(), { file, totalRows: 'known' });
  });

  test('happy path: IPC stream with list<float64> vectors', async () => {
    const file = fx('docs.arrows');
    await happyPath(sources.arrow(file, { ...arrowMapping, vector: 'emb64' }), arrowExpected(), { file });
  });

  test('a stream with dictionary deltas, and one with a replaced dictionary', async () => {
    const exp = (rows) => rows.map((r) => ({ id: r.id, metadata: { category: r.category } }));
    for (const [name, rows] of [
      ['dict-deltas.arrows', [...E.rows.slice(0, 10).filter((r) => r.category !== 'MUSIC'), ...E.rows.slice(10, 20)]],
      ['dict-replaced.arrows', E.rows.slice(0, 20)],
    ]) {
      const out = [];
      for await (const b of sources.arrow(fx(name), { id: 'id', metadata: 'category' }).read()) out.push(...b);
      assert.deepEqual(out, exp(rows), name);
    }
  });

  test('truncated file and stream', async () => {
    const cutFile = truncated(fx('docs.arrow'), 0.5);
    await ingestFails(sources.arrow(cutFile, arrowMapping), 'ERR_PARSE', { file: cutFile });
    const cutStream = truncated(fx('docs.arrows'), 0.5);
    const { col, err } = await ingestFails(sources.arrow(cutStream, arrowMapping), 'ERR_PARSE', { file: cutStream, options: { batchSize: 7 } });
    assert.ok((await assertKeptPrefix(col, err)) > 0, 'the record batches before the cut are read');
  });

  test('a vector column of another type, a wrong dimension, a missing column', async () => {
    const file = fx('docs.arrow');
    const { err } = await ingestFails(sources.arrow(file, { ...arrowMapping, vector: 'title' }), 'ERR_INVALID_ARG', { file });
    assert.equal(err.location.field, 'title');
    const { err: e2 } = await ingestFails(sources.arrow(file, arrowMapping), 'ERR_DIMENSION_MISMATCH', { dim: 5, file });
    assert.equal(e2.location.row, 0);
    const { err: e3 } = await ingestFails(sources.arrow(file, { id: 'identifier', text: 'title' }), 'ERR_INVALID_ARG', { file });
    assert.equal(e3.location.field, 'identifier');
  });
});

describe('feather (pyarrow)', () => {
  test('happy path: Feather v2, zstd and lz4', async () => {
    for (const name of ['docs-zstd.feather', 'docs-lz4.feather']) {
      const file = fx(name);
      await happyPath(sources.feather(file, arrowMapping), arrowExpected(), { file, totalRows: 'known' });
    }
  });

  test('Feather v1 is ERR_PARSE saying to re-save as version 2', async () => {
    const file = fx('v1.feather');
    const { err } = await ingestFails(sources.feather(file, { id: 'id', text: 'title' }), 'ERR_PARSE', { file });
    assert.match(err.message, /v1/);
    assert.match(err.message, /version=2/);
  });

  test('a truncated file, a missing file', async () => {
    const cut = truncated(fx('docs-zstd.feather'), 0.8);
    await ingestFails(sources.feather(cut, arrowMapping), 'ERR_PARSE', { file: cut });
    const missing = path.join(scratch, 'none.feather');
    await ingestFails(sources.feather(missing, arrowMapping), 'ERR_NOT_FOUND', { file: missing });
  });
});

// ---------------------------------------------------------------------------------- Avro
describe('avro (fastavro)', () => {
  const mapping = { id: 'id', text: ['title', 'body'], vector: 'emb', metadata: ['year', 'price', 'active', 'tags', 'author.name', 'category', 'ts', 'day', 'note', 'amount'] };
  const expected = () =>
    E.rows.map((r) => ({
      id: r.id,
      text: textOf(r),
      vector: r.vector,
      // amount: decimal(10, 2) as bytes, a number since it round-trips through an f64
      metadata: { year: r.year, price: r.price, active: r.active, tags: r.tags, 'author.name': r.author.name, category: r.category, ts: r.ts, day: r.day, note: r.note, amount: r.price },
    }));

  test('happy path: union, enum, timestamp-millis, date, decimal, array<float>, several blocks; deflate', async () => {
    for (const name of ['docs.avro', 'docs-deflate.avro']) {
      const file = fx(name);
      await happyPath(sources.avro(file, mapping), expected(), { file });
    }
  });

  test('a reader schema: a new field with a default, a dropped field, int promoted to long', async () => {
    const file = fx('docs.avro');
    const readerSchema = {
      type: 'record',
      name: 'Doc',
      namespace: 'test.hektor',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'title', type: 'string' },
        { name: 'year', type: 'long' },
        { name: 'lang', type: 'string', default: 'en' },
      ],
    };
    const rows = [];
    for await (const b of sources.avro(file, { readerSchema, id: 'id', text: 'title', metadata: '*' }).read()) rows.push(...b);
    assert.equal(rows.length, E.n);
    assert.deepEqual(rows[7], { id: 'doc-007', text: E.rows[7].title, metadata: { year: 2007, lang: 'en' } });
  });

  test('null ids: stop names row and field, skip counts them', async () => {
    const file = fx('null-ids.avro');
    const { err } = await ingestFails(sources.avro(file, mapping), 'ERR_INVALID_ARG', { file });
    assert.equal(err.location.row, 2);
    assert.equal(err.location.field, 'id');
    const col = await newCol();
    const report = await col.ingest(sources.avro(file, mapping), { onError: 'skip', batchSize: 3 });
    assert.equal(report.rows, 10);
    assert.equal(report.skipped, 2);
    assert.equal(report.upserted, 8);
    assert.deepEqual(report.errors.map((e) => [e.location.row, e.location.field]), [[2, 'id'], [5, 'id']]);
  });

  test('a truncated file, not an Avro file, an incompatible reader schema, a missing file', async () => {
    const cut = truncated(fx('docs.avro'), 0.6);
    const { col, err: e0 } = await ingestFails(sources.avro(cut, mapping), 'ERR_PARSE', { file: cut, options: { batchSize: 4 } });
    assert.ok((await assertKeptPrefix(col, e0)) > 0, 'the data blocks before the cut are read');
    const notAvro = fx('docs.csv');
    await ingestFails(sources.avro(notAvro, mapping), 'ERR_PARSE', { file: notAvro });
    const file = fx('docs.avro');
    const readerSchema = { type: 'record', name: 'Doc', namespace: 'test.hektor', fields: [{ name: 'id', type: 'string' }, { name: 'isbn', type: 'string' }] };
    const { err } = await ingestFails(sources.avro(file, { readerSchema, id: 'id' }), 'ERR_INVALID_ARG', { file });
    assert.match(err.message, /isbn/);
    const missing = path.join(scratch, 'none.avro');
    await ingestFails(sources.avro(missing, mapping), 'ERR_NOT_FOUND', { file: missing });
  });
});

// ---------------------------------------------------------------------------------- Protobuf
/** Byte offsets where each varint-length-delimited message starts. */
function messageOffsets(file) {
  const buf = fs.readFileSync(file);
  const out = [];
  for (let i = 0; i < buf.length; ) {
    out.push(i);
    let len = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++];
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) break;
    }
    i += len;
  }
  return out;
}

describe('protobuf (protoc + python protobuf)', () => {
  const proto = () => fx('proto', 'shop.proto');
  const mapping = { id: 'sku', text: ['title', 'body'], vector: 'embedding', metadata: ['year', 'price', 'active', 'tags', 'author.name', 'category', 'created', 'note', 'views', 'counts'] };
  const expected = () =>
    E.rows.map((r, i) => {
      const metadata = {
        year: r.year,
        price: r.price,
        active: r.active,
        tags: r.tags,
        'author.name': r.author.name,
        category: r.category, // enum: its name
        created: r.ts, // google.protobuf.Timestamp: RFC 3339
        views: (2n ** 60n + BigInt(i)).toString(), // uint64 beyond 2^53: a string
        counts: { likes: i, shares: 2 * i }, // map<string, int32>
      };
      if (typeof r.note === 'string') metadata.note = r.note; // `optional`: present only when set
      return { id: r.id, text: textOf(r), vector: r.vector, metadata };
    });

  test('happy path: a delimited stream decoded with the .proto (imports google/protobuf/timestamp.proto)', async () => {
    const file = fx('products.pb');
    await happyPath(sources.protobuf(file, { proto: proto(), messageType: 'shop.Product', ...mapping }), expected(), { file });
  });

  test('a descriptor set from protoc, and a single Catalog message with repeated products', async () => {
    const file = fx('products.pb');
    await happyPath(sources.protobuf(file, { descriptorSet: fx('proto', 'shop.desc'), messageType: 'shop.Product', ...mapping }), expected(), { file });
    const cat = fx('catalog.pb');
    await happyPath(sources.protobuf(cat, { proto: proto(), messageType: 'shop.Catalog', framing: 'single', ...mapping }), expected(), { file: cat });
  });

  test('a corrupt message: stop names its row and byte, skip keeps the rest', async () => {
    const file = fx('corrupt.pb');
    const offsets = messageOffsets(file);
    const { err } = await ingestFails(sources.protobuf(file, { proto: proto(), messageType: 'shop.Product', ...mapping }), 'ERR_PARSE', { file });
    assert.equal(err.location.row, 4);
    assert.equal(err.location.byte, offsets[4]);
    const col = await newCol();
    const report = await col.ingest(sources.protobuf(file, { proto: proto(), messageType: 'shop.Product', ...mapping }), { onError: 'skip' });
    assert.equal(report.rows, 10);
    assert.equal(report.skipped, 1);
    assert.equal(report.upserted, 9);
    assert.equal(report.errors[0].location.row, 4);
  });

  test('a truncated stream ends with ERR_PARSE at the cut message', async () => {
    const file = fx('products.pb');
    const offsets = messageOffsets(file);
    const buf = fs.readFileSync(file);
    const cut = path.join(scratch, 'cut.pb');
    fs.writeFileSync(cut, buf.subarray(0, offsets[21] + 10)); // inside message 21
    const col = await newCol();
    const err = await rejectsWith(assert, col.ingest(sources.protobuf(cut, { proto: proto(), messageType: 'shop.Product', ...mapping }), { batchSize: 5 }), 'ERR_PARSE');
    assert.equal(err.location.source, cut);
    assert.equal(err.location.row, 21);
    assert.equal(err.location.byte, offsets[21]);
    assert.equal(await assertKeptPrefix(col, err), 21, 'every message before the cut');
  });

  test('a .proto that does not compile, an unknown message type, a vector field that is not repeated float', async () => {
    const file = fx('products.pb');
    const bad = fx('proto', 'bad.proto');
    const { err } = await ingestFails(sources.protobuf(file, { proto: bad, messageType: 'shop.Broken', id: 'sku' }), 'ERR_PARSE');
    assert.match(err.message, /bad\.proto:\d+:\d+/, 'file:line:column');
    const { err: e2 } = await ingestFails(sources.protobuf(file, { proto: proto(), messageType: 'shop.Prodcut', ...mapping }), 'ERR_INVALID_ARG');
    assert.match(e2.message, /shop\.Product/, 'suggests the closest name');
    const { err: e3 } = await ingestFails(sources.protobuf(file, { proto: proto(), messageType: 'shop.Product', ...mapping, vector: 'title' }), 'ERR_INVALID_ARG');
    assert.equal(e3.location.field, 'title');
    const missing = path.join(scratch, 'none.pb');
    await ingestFails(sources.protobuf(missing, { proto: proto(), messageType: 'shop.Product', ...mapping }), 'ERR_NOT_FOUND', { file: missing });
  });
});

// ---------------------------------------------------------------------------------- HDF5
describe('hdf5 (h5py)', () => {
  const options = { vectors: '/emb', ids: '/ids', texts: '/texts', metadata: { year: '/meta/year', price: '/meta/price', active: '/meta/active', pos: '/meta/pos' } };
  const expected = () =>
    E.rows.map((r, i) => ({ id: r.id, text: r.title, vector: r.vector, metadata: { year: r.year, price: r.price, active: r.active, pos: [i, 0 - i] } }));

  test('happy path: chunked gzip float32 vectors, vlen string ids, fixed-length UTF-8 texts, numeric metadata', async () => {
    const file = fx('docs.h5');
    await happyPath(sources.hdf5(file, options), expected(), { file, totalRows: 'known', batchSize: 8 });
  });

  test('an explicit mapping over the dataset fields, dataset paths relative to a group', async () => {
    const file = fx('docs.h5');
    const rows = [];
    const src = sources.hdf5(file, { group: '/meta', vectors: '/emb', texts: '/texts', metadata: { doc: '/ids', year: 'year' }, id: 'doc', text: ['doc', 'text'] });
    for await (const b of src.read({ batchSize: 16 })) {
      assert.ok(b.length <= 16);
      rows.push(...b);
    }
    assert.equal(rows.length, E.n);
    E.rows.forEach((r, i) =>
      assertRecord(rows[i], { id: r.id, text: `${r.id}\n\n${r.title}`, vector: r.vector, metadata: { doc: r.id, year: r.year } }),
    );
  });

  test('non-UTF-8 strings are row errors: stop and skip', async () => {
    const file = fx('docs.h5');
    const opts = { ...options, texts: '/texts_latin1' };
    const { err } = await ingestFails(sources.hdf5(file, opts), 'ERR_PARSE', { file });
    assert.equal(err.location.row, 3);
    assert.equal(err.location.field, 'text');
    const col = await newCol();
    const report = await col.ingest(sources.hdf5(file, opts), { onError: 'skip' });
    assert.equal(report.skipped, 1);
    assert.equal(report.upserted, E.n - 1);
    assert.equal(report.errors[0].location.row, 3);
  });

  test('a truncated file, a missing dataset, datasets of different lengths, integer vectors, a wrong dimension', async () => {
    const cut = truncated(fx('docs.h5'), 0.5);
    await ingestFails(sources.hdf5(cut, options), 'ERR_PARSE', { file: cut });
    const file = fx('docs.h5');
    const { err } = await ingestFails(sources.hdf5(file, { ...options, vectors: '/embeddings' }), 'ERR_NOT_FOUND', { file });
    assert.match(err.message, /\/emb\b/, 'lists the datasets');
    await ingestFails(sources.hdf5(file, { ...options, ids: '/short_ids' }), 'ERR_INVALID_ARG', { file });
    await ingestFails(sources.hdf5(file, { ...options, vectors: '/int_vectors' }), 'ERR_INVALID_ARG', { file });
    const { err: e4 } = await ingestFails(sources.hdf5(file, { ...options, vectors: '/emb3' }), 'ERR_DIMENSION_MISMATCH', { file });
    assert.equal(e4.location.row, 0);
    const missing = path.join(scratch, 'none.h5');
    await ingestFails(sources.hdf5(missing, options), 'ERR_NOT_FOUND', { file: missing });
  });
});

// ---------------------------------------------------------------------------------- progress
describe('progress', () => {
  test('every progress event is delivered before ingest() resolves', async () => {
    const file = fx('docs.jsonl');
    for (let i = 0; i < 20; i++) {
      const col = await newCol();
      const events = [];
      const report = await col.ingest(sources.jsonl(file, jsonMapping), { batchSize: 16, onProgress: (e) => events.push(e) });
      assert.equal(events.length, report.batches, `ingest ${i}: ${events.length} of ${report.batches} events when ingest() resolved`);
    }
  });
});

// ---------------------------------------------------------------------------------- abort
describe('abort', () => {
  const ROWS = 200_000;
  let big;
  before(() => {
    big = path.join(scratch, 'big.csv');
    const lines = ['id,title,n'];
    for (let i = 0; i < ROWS; i++) lines.push(`r${i},row number ${i} about item ${i % 977},${i}`);
    fs.writeFileSync(big, lines.join('\n') + '\n');
  });

  test('a signal aborts a 200k-row CSV ingest mid-stream; only whole batches are kept', async () => {
    const col = await newCol();
    const ac = new AbortController();
    let abortedAt = 0;
    const p = col.ingest(sources.csv(big, { id: 'id', text: 'title', metadata: ['n'] }), {
      batchSize: 1000,
      signal: ac.signal,
      onProgress: (e) => {
        if (e.rows >= 20_000 && !ac.signal.aborted) {
          abortedAt = e.rows;
          ac.abort();
        }
      },
    });
    const err = await rejectsWith(assert, p, 'ERR_ABORTED');
    assert.ok(err instanceof HektorError);
    const n = await col.count();
    console.log(`# aborted after ${abortedAt} rows reported; ${n} records kept`);
    assert.ok(n >= 20_000 && n < ROWS, `kept ${n}`);
    assert.equal(n % 1000, 0, 'only whole batches');
    // the kept records are the first n rows
    const [first, lastKept, notKept] = await col.get(['r0', `r${n - 1}`, `r${n}`]);
    assert.ok(first && lastKept);
    assert.equal(notKept, null);
  });

  test('an already aborted signal, and read() with a signal', async () => {
    const col = await newCol();
    await rejectsWith(assert, col.ingest(sources.csv(big, { id: 'id' }), { signal: AbortSignal.abort() }), 'ERR_ABORTED');
    assert.equal(await col.count(), 0);
    const ac = new AbortController();
    let seen = 0;
    const err = await rejectsWith(
      assert,
      (async () => {
        for await (const b of sources.csv(big, { id: 'id' }).read({ batchSize: 500, signal: ac.signal })) {
          seen += b.length;
          if (seen >= 2000) ac.abort();
        }
      })(),
      'ERR_ABORTED',
    );
    assert.ok(err);
    assert.equal(seen, 2000);
  });
});
