// The writer lock across processes: one writer at a time (ERR_LOCKED for the next, in
// another process or this one), readers beside it, and no stale lock after a writer is
// killed: LOCK is an OS advisory lock (flock / LockFileEx) the OS drops with the process;
// the file itself stays and its content is never read.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { open } from '../ts/dist/index.js';
import { killed, rejectsWith, root, spawnUntil, tmpDir } from './helpers.mjs';

const writer = path.join(root, '__test__', 'fixtures', 'writer.mjs');
const sdk = pathToFileURL(path.join(root, 'ts', 'dist', 'index.js')).href;

/** Starts a child that opens `dir` for writing and holds it; resolves once it has the lock. */
async function holder(dir) {
  return (await spawnUntil(writer, [dir, '0', 'hold'], (l) => l.some((x) => x.includes('READY')))).child;
}

/** Opens `dir` in a separate process; returns what it printed: OPEN, or the error code. */
function openInChild(dir, options = {}) {
  const code = `import(${JSON.stringify(sdk)}).then((m) => m.open(${JSON.stringify(dir)}, ${JSON.stringify(options)}))
    .then(async (db) => { console.log('OPEN'); await db.close(); }, (e) => console.log(e.code))`;
  return spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' }).stdout.trim();
}

async function seed(dir) {
  const db = await open(dir);
  const c = await db.createCollection('k', { dimension: 2 });
  await c.upsert([{ id: 'a', vector: [1, 0], text: 'alpha' }]);
  await db.close();
}

describe('locks', () => {
  test('a second writer, in another process or this one, gets ERR_LOCKED; readOnly opens work beside the writer', async () => {
    const dir = tmpDir('locks');
    await seed(dir);
    const child = await holder(dir);
    try {
      assert.equal(openInChild(dir), 'ERR_LOCKED');
      const e = await rejectsWith(assert, open(dir), 'ERR_LOCKED');
      assert.match(e.message, /readOnly/);
      assert.equal(openInChild(dir, { readOnly: true }), 'OPEN');
      const ro = await open(dir, { readOnly: true });
      const c = await ro.collection('k');
      assert.equal(await c.count(), 1);
      assert.equal((await c.search({ text: 'alpha', k: 1 }))[0].id, 'a');
      await rejectsWith(assert, c.upsert({ id: 'b', vector: [0, 1] }), 'ERR_READ_ONLY');
      await ro.close();
    } finally {
      await killed(child);
    }
    // two handles in one process: the second is refused until the first closes
    const a = await open(dir);
    await rejectsWith(assert, open(dir), 'ERR_LOCKED');
    assert.equal(openInChild(dir), 'ERR_LOCKED');
    await a.close();
    const b = await open(dir);
    await b.close();
  });

  test('a readOnly handle does not lock writers out', async () => {
    const dir = tmpDir('locks-ro');
    await seed(dir);
    const ro = await open(dir, { readOnly: true });
    await (await ro.collection('k')).count();
    const child = await holder(dir);
    await killed(child);
    await ro.close();
  });

  test('a writer killed with SIGKILL leaves LOCK behind but no stale lock: the next writer opens and writes', async () => {
    const dir = tmpDir('locks-stale');
    await seed(dir);
    for (let round = 0; round < 3; round++) {
      const child = await holder(dir);
      assert.equal(openInChild(dir), 'ERR_LOCKED');
      assert.equal(await killed(child), 'SIGKILL');
      assert.ok(fs.existsSync(path.join(dir, 'LOCK')), 'the LOCK file stays after the kill');
      assert.equal(openInChild(dir), 'OPEN', `round ${round}: the lock of the killed writer was not released`);
    }
    // whatever a LOCK file holds (an old pid, garbage) never blocks: only the OS lock counts
    fs.writeFileSync(path.join(dir, 'LOCK'), '999999\nstale pid from another tool\n');
    const db = await open(dir);
    const c = await db.collection('k');
    await c.upsert({ id: 'b', vector: [0, 1] });
    assert.equal(await c.count(), 2);
    assert.equal(openInChild(dir), 'ERR_LOCKED');
    await db.close();
    assert.equal(openInChild(dir), 'OPEN');
  });

  test('readOnly on a directory that is not a database is ERR_NOT_FOUND and creates nothing', async () => {
    const dir = path.join(tmpDir('locks-none'), 'absent');
    await rejectsWith(assert, open(dir, { readOnly: true }), 'ERR_NOT_FOUND');
    assert.ok(!fs.existsSync(dir));
  });
});
