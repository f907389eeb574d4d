// Memory stays flat whatever the input size: a ~1 GB CSV and a ~1 GB JSONL (rows made large
// by a 384-d vector written as text) are read with source.read() alone (the parser's memory)
// and ingested into a collection (parser + store), text and metadata only (no vector mapped,
// so this measures the parsers and the store, not HNSW), each in a child process that reports
// its peak RSS (VmHWM). The bound is the issue's: under 400 MB. The files are written to a
// temp dir and removed afterwards. Linux only (/proc/self/status).
// HEKTOR_MEMORY_TEST_BYTES changes the file size (default 1 GiB).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { rng, tmpDir } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, 'fixtures', 'ingest-child.mjs');
const TARGET_BYTES = Number(process.env.HEKTOR_MEMORY_TEST_BYTES ?? 1024 ** 3); // 1 GiB
const LIMIT_MB = 400;
const DIM = 384;
const dir = tmpDir('memory');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const WORDS = 'local retrieval engine rust core vector search text index batch stream parser memory flat bounded record field column value row file'.split(' ');

/** Streams rows to `file` until it holds `TARGET_BYTES`; returns { rows, bytes, ms }. */
function writeBig(file, kind) {
  const t0 = Date.now();
  const r = rng(7);
  // a pool of vectors as text (formatting 384 floats per row would dominate the generation time)
  const pool = Array.from({ length: 512 }, () => Array.from({ length: DIM }, () => (r() * 2 - 1).toFixed(5)).join(','));
  const fd = fs.openSync(file, 'w');
  let bytes = 0;
  let rows = 0;
  let chunk = [];
  let chunkLen = 0;
  const flush = () => {
    const b = Buffer.from(chunk.join(''));
    fs.writeSync(fd, b);
    bytes += b.length;
    chunk = [];
    chunkLen = 0;
  };
  if (kind === 'csv') chunk.push('id,title,year,category,emb\n');
  while (bytes + chunkLen < TARGET_BYTES) {
    const i = rows++;
    const title = `${WORDS[i % 23]} ${WORDS[(i * 7) % 23]} ${WORDS[(i * 13) % 23]} document ${i}`;
    const line =
      kind === 'csv'
        ? `d${i},${title},${1990 + (i % 35)},c${i % 17},"[${pool[i % 512]}]"\n`
        : `{"id":"d${i}","title":"${title}","year":${1990 + (i % 35)},"category":"c${i % 17}","emb":[${pool[i % 512]}]}\n`;
    chunk.push(line);
    chunkLen += line.length;
    if (chunkLen >= 4 << 20) flush();
  }
  flush();
  fs.closeSync(fd);
  return { rows, bytes, ms: Date.now() - t0 };
}

function runChild(mode, kind, file) {
  const db = path.join(dir, `db-${kind}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CHILD, mode, kind, file, db], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const ms = Date.now() - t0;
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  fs.rmSync(db, { recursive: true, force: true });
  return { ...JSON.parse(r.stdout.trim().split('\n').at(-1)), ms };
}

const MiB = (kb) => (kb / 1024).toFixed(0);

describe('memory stays flat on ~1 GB inputs', { skip: process.platform !== 'linux' && 'reads /proc/self/status' }, () => {
  for (const kind of ['csv', 'jsonl']) {
    test(`${kind}: peak RSS < ${LIMIT_MB} MB, reading alone and ingesting`, { timeout: 600_000 }, () => {
      const file = path.join(dir, `big.${kind}`);
      const gen = writeBig(file, kind);
      const mb = gen.bytes / 1024 ** 2;
      console.log(`# ${kind}: wrote ${gen.rows} rows, ${mb.toFixed(0)} MiB in ${(gen.ms / 1000).toFixed(1)} s`);
      try {
        const results = {};
        for (const mode of ['read', 'ingest']) {
          const out = runChild(mode, kind, file);
          results[mode] = out;
          const secs = out.elapsedMs / 1000;
          console.log(
            `# ${kind} ${mode === 'read' ? 'read() alone' : 'ingest'}: ${out.rows} rows in ${secs.toFixed(1)} s ` +
              `(${Math.round(out.rows / secs)} rows/s, ${(mb / secs).toFixed(0)} MiB/s); peak RSS ${MiB(out.end.hwmKb)} MB ` +
              `(at start ${MiB(out.start.hwmKb)} MB; at the end anon ${MiB(out.end.anonKb)} MB + file ${MiB(out.end.fileKb)} MB); ` +
              `RSS every 50k rows: ${out.samples.map(([r, m]) => `${r / 1000}k:${m}`).join(' ')}`,
          );
          assert.equal(out.rows, gen.rows);
        }
        // the parser alone is flat: after the first third of the rows its RSS barely moves
        const third = (samples) => samples.find(([r]) => r >= gen.rows / 3);
        const rs = results.read.samples;
        const [r0, m0] = third(rs);
        if (r0 < gen.rows) assert.ok(rs.at(-1)[1] - m0 < 40, `read() RSS grew from ${m0} MB at row ${r0} to ${rs.at(-1)[1]} MB`);
        // the store keeps per-record state in memory (ids, slots, metadata for filters, BM25)
        const is = results.ingest.samples;
        const [i0, n0] = third(is);
        if (i0 < gen.rows) {
          const perRecord = ((is.at(-1)[1] - n0) * 1024 * 1024) / (is.at(-1)[0] - i0);
          console.log(`# ${kind} ingest: the process RSS grows ~${perRecord.toFixed(0)} bytes per ingested record`);
        }
        assert.equal(results.ingest.upserted, gen.rows);
        assert.equal(results.ingest.count, gen.rows);
        for (const mode of ['read', 'ingest']) {
          const peak = results[mode].end.hwmKb / 1024;
          assert.ok(peak < LIMIT_MB, `${mode}: peak RSS ${peak.toFixed(0)} MB >= ${LIMIT_MB} MB`);
        }
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  }
});
