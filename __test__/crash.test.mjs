// Crash safety: a writer child is killed with SIGKILL at random moments, 50 times, while
// it upserts, checkpoints (flush: HNSW persistence), deletes + compacts, and ingests a
// JSONL file. After every kill the database is reopened and checked: every acknowledged
// write is present and intact (a checksum in the metadata), acknowledged deletes stay
// deleted, unacknowledged batches are all-or-nothing, nothing unknown is visible, and
// vector (exact and HNSW) and text searches equal those of a fresh rebuild from the
// surviving records. Then: damaged checkpoint files give ERR_CORRUPT naming the file while
// the other collections open, and db.repair() rebuilds from the record log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { open } from '../ts/dist/index.js';
import { killed, rejectsWith, rng, root, spawnUntil, tmpDir } from './helpers.mjs';

const KILLS = 50;
const PHASES = ['upsert', 'flush', 'compact', 'ingest'];
/** Longest wait (ms) after the child is ready before it is killed, per phase. */
const MAX_DELAY = { upsert: 120, flush: 160, compact: 220, ingest: 160 };
/** The parent deletes old records once this many are live, to keep each round fast. */
const LIVE_CAP = 900;

// Record contents are a function of the id, so the parent can check any record it finds.
const GEN = `
const VOCAB = 'apple brook cedar delta ember fjord grove harbor island jungle kettle lantern meadow nectar orchid pepper quartz river saddle timber umber velvet willow xenon yarrow zephyr amber basil cobalt dune'.split(' ');
export const DIM = 16;
function hash(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
import { rng as prng } from ${JSON.stringify(pathToFileURL(path.join(root, '__test__', 'helpers.mjs')).href)};
export function vectorOf(id) {
  const r = prng(hash('v' + id));
  return Array.from({ length: DIM }, () => Math.fround(r() * 2 - 1));
}
export function textOf(id) {
  const r = prng(hash('t' + id));
  return Array.from({ length: 3 + Math.floor(r() * 6) }, () => VOCAB[Math.floor(r() * VOCAB.length)]).join(' ');
}
export function checksum(text, vector) {
  return hash(text + '|' + Array.from(vector, (x) => x.toFixed(6)).join(',')).toString(16);
}
export function recordOf(id) {
  const [seq, i] = id.split('-').map(Number);
  const text = textOf(id);
  const vector = vectorOf(id);
  return { id, text, vector, metadata: { seq, i, sum: checksum(text, vector) } };
}
`;

// The writer. argv: sdk url, db dir, phase, first sequence number, seed, work dir.
// Prints "ready", then "begin <op> ..." before and "ack <op> ..." after each call.
const WRITER = `
import fs from 'node:fs';
import path from 'node:path';
import { recordOf, prng } from './gen.mjs';
const [sdkUrl, dir, phase, seq0, seed, work] = process.argv.slice(2);
const { open, sources } = await import(sdkUrl);
const say = (s) => process.stdout.write(s + '\\n');
const r = prng(Number(seed));
const db = await open(dir);
const col = await db.collection('c');
say('ready');
let seq = Number(seq0);
const batch = (n) => Array.from({ length: n }, (_, i) => recordOf(seq + '-' + i));
async function upsert(n) {
  say('begin upsert ' + seq + ' ' + n);
  await col.upsert(batch(n));
  say('ack upsert ' + seq + ' ' + n);
  return seq++;
}
for (;;) {
  if (phase === 'upsert') {
    await upsert(5 + Math.floor(r() * 40));
  } else if (phase === 'flush') {
    await upsert(20 + Math.floor(r() * 60));
    say('begin flush');
    await col.flush();
    say('ack flush');
  } else if (phase === 'compact') {
    const s = await upsert(20 + Math.floor(r() * 40));
    const n = 10 + Math.floor(r() * 30);
    say('begin delete ' + s + ' ' + n);
    await col.delete(Array.from({ length: n }, (_, i) => s + '-' + i));
    say('ack delete ' + s + ' ' + n);
    say('begin compact');
    await col.compact();
    say('ack compact');
  } else {
    const n = 40 + Math.floor(r() * 160);
    const bs = 10 + Math.floor(r() * 30);
    const file = path.join(work, 'ingest-' + seq + '.jsonl');
    fs.writeFileSync(file, batch(n).map((x) => JSON.stringify({ id: x.id, text: x.text, vector: x.vector, seq: x.metadata.seq, i: x.metadata.i, sum: x.metadata.sum })).join('\\n') + '\\n');
    say('begin ingest ' + seq + ' ' + n + ' ' + bs);
    await col.ingest(sources.jsonl(file, { id: 'id', text: 'text', vector: 'vector', metadata: ['seq', 'i', 'sum'] }), { batchSize: bs });
    say('ack ingest ' + seq + ' ' + n);
    seq++;
  }
}
`;


const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Asserts a stored record equals the generated one and carries a valid checksum. */
function checkIntact(gen, rec) {
  const want = gen.recordOf(rec.id);
  assert.equal(rec.text, want.text, `record ${rec.id}: text differs`);
  assert.equal(rec.vector.length, gen.DIM, `record ${rec.id}: vector length`);
  for (let j = 0; j < gen.DIM; j++) assert.ok(Math.abs(rec.vector[j] - want.vector[j]) < 1e-6, `record ${rec.id}: vector differs`);
  assert.deepEqual(rec.metadata, want.metadata, `record ${rec.id}: metadata differs`);
  assert.equal(rec.metadata.sum, gen.checksum(rec.text, rec.vector), `record ${rec.id}: checksum mismatch`);
}

/** Same ids in the same order, scores equal up to float noise. */
function sameHits(a, b, what) {
  assert.deepEqual(a.map((h) => h.id), b.map((h) => h.id), what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i].score - b[i].score) <= 1e-4 * Math.max(1, Math.abs(b[i].score)), `${what}: score of ${a[i].id}`);
}

/** Same (id, score) pairs whatever the order among equal scores. */
function sameScored(a, b, what) {
  const m = new Map(b.map((h) => [h.id, h.score]));
  assert.equal(a.length, b.length, `${what}: ${a.length} hits vs ${b.length}`);
  for (const h of a) {
    assert.ok(m.has(h.id), `${what}: ${h.id} is not in the fresh rebuild's hits`);
    assert.ok(Math.abs(h.score - m.get(h.id)) <= 1e-4 * Math.max(1, Math.abs(h.score)), `${what}: score of ${h.id}`);
  }
  for (let i = 1; i < a.length; i++) assert.ok(a[i].score <= a[i - 1].score + 1e-6, `${what}: not sorted`);
}

/**
 * The parent's model: id -> { state: 'present' | 'absent' | 'unknown', group }. Ids of
 * one unacknowledged call (or one ingest batch) share a group and must agree.
 */
class Model {
  records = new Map();
  ingests = new Map(); // seq -> { n, bs }
  maxSeq = -1;
  lost = 0;

  apply(lines) {
    for (const l of lines) {
      const [verb, op, a, b, c] = l.split(' ');
      if (verb !== 'begin' && verb !== 'ack') continue;
      const seq = Number(a);
      const n = Number(b);
      if (op === 'upsert' || op === 'ingest') {
        this.maxSeq = Math.max(this.maxSeq, seq);
        if (op === 'ingest' && verb === 'begin') this.ingests.set(seq, { n, bs: Number(c) });
        for (let i = 0; i < n; i++) {
          const group = op === 'ingest' ? `i${seq}:${Math.floor(i / Number(c ?? this.ingests.get(seq).bs))}` : `u${seq}`;
          this.records.set(`${seq}-${i}`, verb === 'begin' ? { state: 'unknown', group } : { state: 'present' });
        }
      } else if (op === 'delete') {
        for (let i = 0; i < n; i++) this.records.set(`${seq}-${i}`, verb === 'begin' ? { state: 'unknown', group: `d${seq}` } : { state: 'absent' });
      }
    }
  }

  /** Checks the reopened collection against the model, then resolves unknowns. */
  async verify(col, gen) {
    const ids = [...this.records.keys()];
    const found = new Map();
    for (let i = 0; i < ids.length; i += 5000) {
      const recs = await col.get(ids.slice(i, i + 5000), ['text', 'vector', 'metadata']);
      for (const rec of recs) if (rec) found.set(rec.id, rec);
    }
    const groups = new Map();
    for (const [id, m] of this.records) {
      const here = found.has(id);
      if (m.state === 'present' && !here) this.lost++;
      if (m.state === 'absent') assert.ok(!here, `acknowledged delete of ${id} was undone`);
      if (m.state === 'unknown') {
        if (!groups.has(m.group)) groups.set(m.group, here);
        assert.equal(here, groups.get(m.group), `batch ${m.group} is partially visible (${id})`);
      }
    }
    // an ingest writes its batches in order: a later batch only with every earlier one
    for (const [seq, { n, bs }] of this.ingests) {
      let seen = false;
      for (let b = Math.ceil(n / bs) - 1; b >= 0; b--) {
        const g = groups.get(`i${seq}:${b}`);
        if (g === undefined) continue;
        if (seen) assert.ok(g, `ingest ${seq}: batch ${b} missing while a later one is present`);
        seen ||= g;
      }
    }
    for (const rec of found.values()) checkIntact(gen, rec);
    assert.equal(await col.count(), found.size, 'records visible that no writer wrote');
    for (const [id, m] of this.records) if (m.state === 'unknown') m.state = found.has(id) ? 'present' : 'absent';
    return [...found.keys()];
  }
}

describe('crash safety', () => {
  test(`no acknowledged write is lost over ${KILLS} kill -9 of a busy writer`, { timeout: 240_000 }, async () => {
    const work = tmpDir('crash');
    const dir = path.join(work, 'db');
    fs.writeFileSync(path.join(work, 'gen.mjs'), GEN + 'export { prng };\n');
    fs.writeFileSync(path.join(work, 'writer.mjs'), WRITER);
    const gen = await import(pathToFileURL(path.join(work, 'gen.mjs')).href);
    const sdk = pathToFileURL(path.join(root, 'ts', 'dist', 'index.js')).href;
    {
      const db = await open(dir);
      await db.createCollection('c', { dimension: gen.DIM });
      await db.close();
    }
    const fresh = await open(path.join(work, 'fresh'));
    const r = rng(20240611);
    const model = new Model();
    const perPhase = Object.fromEntries(PHASES.map((p) => [p, 0]));
    const inCall = {};
    const t0 = performance.now();
    for (let k = 0; k < KILLS; k++) {
      const phase = PHASES[k % PHASES.length];
      const { child, lines } = await spawnUntil(path.join(work, 'writer.mjs'), [sdk, dir, phase, String(model.maxSeq + 1), String(k + 1), work], (l) => l.includes('ready'));
      await sleep(Math.floor(r() * MAX_DELAY[phase]));
      await killed(child);
      perPhase[phase]++;
      // where did the kill land: inside which call (the last line is its "begin")?
      const last = lines.filter((l) => l.startsWith('begin') || l.startsWith('ack')).pop() ?? 'ready';
      const where = last.startsWith('begin') ? last.split(' ')[1] : 'between calls';
      inCall[where] = (inCall[where] ?? 0) + 1;
      model.apply(lines);

      const db = await open(dir);
      const col = await db.collection('c');
      const live = await model.verify(col, gen);
      // searches equal those of a collection rebuilt from the surviving records
      const ref = await fresh.createCollection(`r${k}`, { dimension: gen.DIM });
      for (let i = 0; i < live.length; i += 1000) await ref.upsert(live.slice(i, i + 1000).map((id) => gen.recordOf(id)));
      const qr = rng(k + 1000);
      for (let q = 0; q < 3; q++) {
        const vector = Array.from({ length: gen.DIM }, () => qr() * 2 - 1);
        const want = await ref.search({ vector, k: 20, exact: true, select: [] });
        sameHits(await col.search({ vector, k: 20, exact: true, select: [] }), want, `kill ${k}: exact search`);
        const hnsw = await col.search({ vector, k: 10, ef: 1000, select: [] });
        assert.deepEqual(hnsw.map((h) => h.id).sort(), want.slice(0, 10).map((h) => h.id).sort(), `kill ${k}: HNSW recall below 1.0`);
        const text = gen.textOf(`q${k}-${q}`).split(' ').slice(0, 2).join(' ');
        sameScored(await col.search({ text, k: 10000, select: [] }), await ref.search({ text, k: 10000, select: [] }), `kill ${k}: text search '${text}'`);
      }
      await fresh.dropCollection(`r${k}`);
      // keep the collection small: the parent deletes the oldest records (acknowledged)
      if (live.length > LIVE_CAP) {
        const old = live.sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0])).slice(0, live.length - LIVE_CAP / 2);
        assert.equal((await col.delete(old)).deleted, old.length);
        for (const id of old) model.records.set(id, { state: 'absent' });
      }
      await db.close();
    }
    await fresh.close();
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const acked = [...model.records.values()].filter((m) => m.state === 'present').length;
    console.log(`kills: ${KILLS} (${PHASES.map((p) => `${p} ${perPhase[p]}`).join(', ')}), acknowledged writes lost: ${model.lost}`);
    console.log(`kills landed in: ${Object.entries(inCall).map(([w, n]) => `${w} ${n}`).join(', ')}; ${model.records.size} ids written, ${acked} live at the end, ${secs} s`);
    assert.equal(model.lost, 0, 'acknowledged writes were lost');
  });
});

/** A database with collections 'good' and 'bad' (vectors, text, enough for a graph). */
async function twoCollections(dir) {
  const db = await open(dir);
  const recs = Array.from({ length: 300 }, (_, i) => ({ id: `r${i}`, vector: Array.from({ length: 8 }, (_, j) => Math.sin(i * 1.7 + j)), text: `item ${i} group${i % 5}`, metadata: { i } }));
  for (const name of ['good', 'bad']) {
    const c = await db.createCollection(name, { dimension: 8 });
    await c.upsert(recs);
    await c.delete(['r1', 'r2']);
    await c.flush();
    await c.upsert({ id: 'late', vector: Array(8).fill(0.5), text: 'late arrival' }); // in the log after the checkpoint
  }
  await db.close();
}

const manifestOf = (dir, name) => JSON.parse(fs.readFileSync(path.join(dir, name, 'manifest.json'), 'utf8'));

const DAMAGE = {
  'slot table truncated': (d, m) => truncate(path.join(d, m.slots)),
  'BM25 index truncated': (d, m) => truncate(path.join(d, m.bm25)),
  'graph truncated': (d, m) => truncate(path.join(d, m.graph)),
  'graph bytes flipped': (d, m) => flip(path.join(d, m.graph)),
  'slot table bytes flipped': (d, m) => flip(path.join(d, m.slots)),
  'manifest truncated': (d) => truncate(path.join(d, 'manifest.json')),
  'manifest digit changed': (d) => {
    const p = path.join(d, 'manifest.json');
    fs.writeFileSync(p, fs.readFileSync(p, 'utf8').replace(/"nSlots": (\d+)/, (_, n) => `"nSlots": ${Number(n) - 1}`));
  },
  'vector file truncated': (d, m) => truncate(path.join(d, m.vectors)),
};
function truncate(p) {
  fs.truncateSync(p, Math.floor(fs.statSync(p).size / 2));
  return p;
}
function flip(p) {
  const b = fs.readFileSync(p);
  b[Math.floor(b.length / 2)] ^= 0x5a;
  fs.writeFileSync(p, b);
  return p;
}

describe('damaged checkpoint files', () => {
  const base = tmpDir('corrupt');
  let n = 0;
  const fresh = (name) => fs.mkdirSync(path.join(base, `${name}-${n++}`), { recursive: true }) ?? path.join(base, `${name}-${n - 1}`);
  for (const [what, damage] of Object.entries(DAMAGE)) {
    test(`${what}: ERR_CORRUPT naming the file, other collections open, repair rebuilds`, async () => {
      const dir = fresh('corrupt');
      await twoCollections(dir);
      const file = damage(path.join(dir, 'bad'), manifestOf(dir, 'bad'));
      const db = await open(dir);
      const e = await rejectsWith(assert, db.collection('bad'), 'ERR_CORRUPT');
      const base = path.basename(file ?? 'manifest.json');
      assert.ok(e.message.includes(base) || e.location?.source?.includes(base), `the error names ${base}: ${e.message}`);
      const good = await db.collection('good');
      assert.equal(await good.count(), 299);
      assert.equal((await good.search({ vector: Array(8).fill(0.5), k: 1 }))[0].id, 'late');
      await good.upsert({ id: 'x', vector: Array(8).fill(1) });

      await db.repair('bad');
      const bad = await db.collection('bad');
      assert.equal(await bad.count(), 299);
      const recs = await bad.get(['r0', 'r1', 'r299', 'late'], ['text', 'vector', 'metadata']);
      assert.equal(recs[0].text, 'item 0 group0');
      assert.deepEqual(recs[0].metadata, { i: 0 });
      assert.equal(recs[1], null, 'a deleted record came back');
      assert.equal(recs[2].metadata.i, 299);
      assert.equal(recs[3].text, 'late arrival');
      const q = Array.from({ length: 8 }, (_, j) => Math.sin(7 * 1.7 + j));
      assert.deepEqual((await bad.search({ vector: q, k: 5 })).map((h) => h.id), (await good.search({ vector: q, k: 5, exact: true })).map((h) => h.id));
      assert.deepEqual((await bad.search({ text: 'group3', k: 100 })).map((h) => h.id).sort(), (await good.search({ text: 'group3', k: 100 })).map((h) => h.id).sort());
      const st = await bad.stats();
      assert.equal(st.pendingVectors, 0);
      assert.equal(st.indexedVectors >= 299, true);
      await db.close();
      // the repair's checkpoint reopens cleanly
      const again = await open(dir);
      assert.equal(await (await again.collection('bad')).count(), 299);
      await again.close();
    });
  }

  test('repair of a healthy open collection, of an unknown one, and read-only', async () => {
    const dir = fresh('repair');
    await twoCollections(dir);
    const db = await open(dir);
    const c = await db.collection('good');
    await db.repair('good');
    await rejectsWith(assert, c.count(), 'ERR_CLOSED');
    assert.equal(await (await db.collection('good')).count(), 299);
    await rejectsWith(assert, db.repair('nope'), 'ERR_NOT_FOUND');
    await db.close();
    const ro = await open(dir, { readOnly: true });
    await rejectsWith(assert, ro.repair('good'), 'ERR_READ_ONLY');
    await ro.close();
  });

  test('hektor repair on the command line', async () => {
    const dir = fresh('cli');
    await twoCollections(dir);
    truncate(path.join(dir, 'bad', manifestOf(dir, 'bad').slots));
    const cli = path.join(root, 'ts', 'dist', 'cli.js');
    const run = (args) =>
      new Promise((resolve) => {
        const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d) => (out += d));
        p.stderr.on('data', (d) => (out += d));
        p.on('exit', (code) => resolve({ code, out }));
      });
    const help = await run(['repair', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /record log/);
    const broken = await run(['stats', '--db', dir, '-c', 'bad']);
    assert.equal(broken.code, 1);
    assert.match(broken.out, /ERR_CORRUPT/);
    const fixed = await run(['repair', '--db', dir, '-c', 'bad']);
    assert.equal(fixed.code, 0, fixed.out);
    assert.match(fixed.out, /repaired 'bad': 299 records/);
    const ok = await run(['stats', '--db', dir, '-c', 'bad', '--json']);
    assert.equal(JSON.parse(ok.out).count, 299);
  });
});
