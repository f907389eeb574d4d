// Faults that must not lose data or end the process, seen from the SDK: a full disk (a
// small tmpfs, mounted when the tests run as root), whole-call validation, duplicate ids,
// damaged bytes (verify, repair that refuses to lose data), and readers that follow the
// writer. The engine-level tests of the same classes are in native/core/tests/faults.rs.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from '../ts/dist/index.js';
import { clustered, rejectsWith, tmpDir, worstTimerDelay } from './helpers.mjs';

const DIM = 32;

function records(from, n, seed = from + 1) {
  return clustered(n, DIM, 4, seed).map((v, j) => ({
    id: `r${from + j}`,
    text: `record number ${from + j} in group${(from + j) % 7}`,
    vector: v,
    metadata: { i: from + j },
  }));
}

/** Flips one bit of the byte `skip` bytes into the first occurrence of `text` in a collection's record log. */
function flipInLog(cdir, text, skip) {
  const log = path.join(cdir, JSON.parse(fs.readFileSync(path.join(cdir, 'manifest.json'), 'utf8')).log);
  const bytes = fs.readFileSync(log);
  bytes[bytes.indexOf(text) + skip] ^= 0x20;
  fs.writeFileSync(log, bytes);
}

/** Mounts a tmpfs of `mib` MiB on a fresh dir; null (and a note) where that is not possible. */
function tmpfs(t, mib) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hektor-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    fs.rmSync(dir, { recursive: true, force: true });
    t.skip('cannot mount a tmpfs here (needs root and mount(8)): the full-disk path is covered by no SDK test');
    return null;
  }
  process.on('exit', () => {
    try {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // left for the OS's temp cleaning
    }
  });
  return dir;
}

/** Fills the file system of `dir` with a file, leaving about `leave` bytes free. */
function fill(dir, leave) {
  const p = path.join(dir, 'filler');
  const fd = fs.openSync(p, 'a');
  const block = Buffer.alloc(64 << 10, 0x55);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (e) {
    assert.equal(e.code, 'ENOSPC');
  }
  fs.ftruncateSync(fd, Math.max(0, fs.fstatSync(fd).size - leave));
  fs.closeSync(fd);
  return () => fs.truncateSync(p, 0);
}

describe('faults', () => {
  test('a full disk is ERR_IO, the process lives on, and the collection works once space returns', async (t) => {
    const fsdir = tmpfs(t, 12);
    if (!fsdir) return;
    const db = await open(path.join(fsdir, 'db'));
    const col = await db.createCollection('docs', { dimension: DIM });
    await col.upsert(records(0, 200));
    await col.flush();
    const free = fill(fsdir, 200 << 10);
    let acked = 200;
    let err;
    for (let i = 0; i < 10_000 && !err; i++) {
      try {
        acked += (await col.upsert(records(acked, 50))).upserted;
      } catch (e) {
        err = e;
      }
    }
    assert.equal(err?.code, 'ERR_IO', String(err));
    assert.equal(await col.count(), acked);
    await rejectsWith(assert, col.compact(), 'ERR_IO');
    assert.equal((await col.search({ vector: records(0, 1)[0].vector, k: 3 })).length, 3);
    free();
    await col.upsert(records(acked, 50));
    await col.compact();
    await db.close();
    const again = await open(path.join(fsdir, 'db'));
    assert.equal(await (await again.collection('docs')).count(), acked + 50);
    await again.close();
  });

  test('an upsert call is validated whole: a bad record in a later batch writes nothing and is named by its row in the call', async () => {
    const db = await open(tmpDir('whole'));
    const col = await db.createCollection('c');
    const recs = records(0, 2500);
    recs[2400].vector = new Float32Array(DIM + 1).fill(1);
    const e = await rejectsWith(assert, col.upsert(recs, { batchSize: 1000 }), 'ERR_DIMENSION_MISMATCH');
    assert.equal(e.location.row, 2400);
    assert.equal(await col.count(), 0);
    const deep = records(0, 2500);
    let m = { x: 1 };
    for (let i = 0; i < 40; i++) m = { m };
    deep[2400].metadata = m;
    assert.equal((await rejectsWith(assert, col.upsert(deep, { batchSize: 1000 }), 'ERR_LIMIT')).location.row, 2400);
    assert.equal(await col.count(), 0);
    assert.deepEqual(await col.upsert(records(0, 2500), { batchSize: 1000 }), { upserted: 2500 });
    await db.close();
  });

  test('duplicate ids in one call: the last wins and is counted once', async () => {
    const db = await open(tmpDir('dups'));
    const col = await db.createCollection('c');
    const recs = records(0, 3);
    recs.push({ ...recs[1], text: 'second version' }, { ...recs[1], text: 'third version' });
    assert.deepEqual(await col.upsert(recs, { batchSize: 2 }), { upserted: 3 });
    assert.equal(await col.count(), 3);
    const [r1] = await col.get(['r1']);
    assert.equal(r1.text, 'third version');
    await db.close();
  });

  test('damaged bytes: get rejects with ERR_CORRUPT, verify lists them, repair refuses to lose data unless told', async () => {
    const dir = tmpDir('damage');
    let db = await open(dir);
    let col = await db.createCollection('c', { dimension: DIM });
    await col.upsert(records(0, 100));
    await col.upsert(records(100, 100));
    await db.close();
    // one byte of r150's text, inside the second (checkpointed) frame
    const cdir = path.join(dir, 'c');
    flipInLog(cdir, 'record number 150 in', 2);

    db = await open(dir);
    col = await db.collection('c');
    const e = await rejectsWith(assert, col.get(['r150']), 'ERR_CORRUPT');
    assert.match(e.message, /r150/);
    assert.equal((await col.get(['r149']))[0].id, 'r149');
    const report = await db.verify('c');
    assert.equal(report.records, 200);
    assert.deepEqual(report.damaged.map((d) => [d.id, d.part]), [['r150', 'record']]);
    assert.equal(report.damagedFrames.length, 1);
    // the checkpoint still serves 200 records: a rebuild from the log would lose r150
    const before = fs.readdirSync(cdir).sort();
    const r = await rejectsWith(assert, db.repair('c'), 'ERR_CORRUPT');
    assert.match(r.message, /damaged frame/);
    assert.deepEqual(fs.readdirSync(cdir).sort(), before, 'a refused repair changes nothing');
    assert.equal(await (await db.collection('c')).count(), 200);
    const done = await db.repair('c', { acceptLoss: true });
    // the other 99 records of the damaged frame are vouched for by their own checksums
    assert.deepEqual([done.recordsBefore, done.records, done.lost, done.recovered, done.lostIds], [200, 199, 1, 99, ['r150']]);
    assert.equal(done.droppedFrames.length, 1);
    const v = await db.verify('c');
    assert.deepEqual([v.damaged.length, v.damagedFrames.length], [0, 0]);
    await db.close();
  });

  test('get() of 18,000 records with 384-d vectors does not block the event loop; vectors round-trip exactly', async () => {
    const db = await open(tmpDir('get-loop'));
    const col = await db.createCollection('c', { dimension: 384, metric: 'l2' });
    const n = 18_000;
    const vecs = clustered(n, 384, 8, 21);
    for (let s = 0; s < n; s += 6000) await col.upsert(vecs.slice(s, s + 6000).map((v, j) => ({ id: `g${s + j}`, vector: v, metadata: { j } })));
    const ids = vecs.map((_, i) => `g${i}`);
    const t = performance.now();
    let got;
    const worst = await worstTimerDelay(async () => {
      got = await col.get(ids);
    });
    const took = performance.now() - t;
    assert.equal(got.length, n);
    for (const i of [0, 4321, n - 1]) {
      assert.ok(got[i].vector instanceof Float32Array);
      assert.deepEqual(Array.from(got[i].vector), Array.from(vecs[i]), `vector ${i}`);
      assert.deepEqual(got[i].metadata, { j: i % 6000 });
    }
    // the conversion that is left on the JS thread (JSON of ids and metadata, one copy per
    // vector) is a few tens of milliseconds; parsing 7 M numbers from text took 0.5-1 s
    assert.ok(worst < 250, `the event loop stalled ${worst.toFixed(0)} ms during a ${took.toFixed(0)} ms get`);
    await db.close();
  });

  test('a readOnly handle sees the writer’s acknowledged writes within the follow interval, or at once with refresh()', async () => {
    const dir = tmpDir('follow');
    const db = await open(dir);
    const col = await db.createCollection('c', { dimension: DIM });
    await col.upsert(records(0, 50));
    const ro = await open(dir, { readOnly: true });
    const rcol = await ro.collection('c');
    assert.equal(await rcol.count(), 50);
    await col.upsert(records(50, 50));
    await rcol.refresh();
    assert.equal(await rcol.count(), 100);
    await col.delete(['r0']);
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await rcol.count(), 99);
    await col.compact();
    await col.upsert(records(100, 10));
    await new Promise((r) => setTimeout(r, 250));
    assert.equal(await rcol.count(), 109);
    await ro.close();
    await db.close();
  });
});

describe('the command line under faults', () => {
  const cli = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'ts', 'dist', 'cli.js');

  test('Ctrl-C during an ingest says it is stopping on a line of its own, keeps whole batches, exits 130', async () => {
    const dir = tmpDir('cli-sigint');
    const file = path.join(dir, 'big.jsonl');
    const out = fs.createWriteStream(file);
    for (let i = 0; i < 400_000; i++) out.write(`{"id":"d${i}","body":"document ${i} about topic ${i % 97} and some more words to index"}\n`);
    await new Promise((r) => out.end(r));
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [cli, 'ingest', file, '--db', path.join(dir, 'db'), '--text', 'body', '--batch-size', '2000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await new Promise((r) => setTimeout(r, 1500));
    const t = Date.now();
    child.kill('SIGINT');
    const code = await new Promise((r) => child.on('exit', (c) => r(c)));
    assert.equal(code, 130, stderr);
    assert.ok(Date.now() - t < 5000, `stopped in ${Date.now() - t} ms`);
    assert.match(stderr, /^stopping: keeping the batches written so far/m, stderr);
    const db = await open(path.join(dir, 'db'), { readOnly: true });
    const n = await (await db.collection('docs')).count();
    assert.ok(n > 0 && n < 400_000 && n % 2000 === 0, `whole batches (${n})`);
    await db.close();
  });

  test('hektor verify reports damage and exits 1; repair refuses to lose data; --accept-loss proceeds', async () => {
    const dir = tmpDir('cli-verify');
    const db = await open(dir);
    const col = await db.createCollection('docs', { dimension: DIM });
    await col.upsert(records(0, 20));
    await db.close();
    const run = (...args) => {
      try {
        return { code: 0, out: execFileSync(process.execPath, [cli, ...args, '--db', dir, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
      } catch (e) {
        return { code: e.status, out: e.stdout, err: e.stderr };
      }
    };
    assert.equal(JSON.parse(run('verify').out).damaged.length, 0);
    flipInLog(path.join(dir, 'docs'), 'record number 3 in', 1);
    const v = run('verify');
    assert.equal(v.code, 1);
    assert.deepEqual(JSON.parse(v.out).damaged.map((d) => d.id), ['r3']);
    const r = run('repair');
    assert.equal(r.code, 1);
    assert.match(r.err, /ERR_CORRUPT/);
    const ok = run('repair', '--accept-loss');
    assert.equal(ok.code, 0, ok.err);
    assert.deepEqual(JSON.parse(ok.out).lostIds, ['r3']);
  });
});
