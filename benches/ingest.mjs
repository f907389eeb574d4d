#!/usr/bin/env node
// Ingest throughput: hektor's CSV, JSONL and Parquet sources beside what a Node user would
// otherwise write, on the same files, in the same process run. No embedding anywhere.
//
//   node benches/ingest.mjs [--rows N] [--reps 3] [--work DIR]
//
// Data: N rows (default 200,000) of { id: string, title: 3-8 words, body: 40-60 words of a fixed
// 4,000-word vocabulary drawn Zipf-like, with commas and full stops (so CSV cells are quoted),
// year: int, price: float, tag: string }, from a seeded PRNG, so every run reads the same bytes.
// CSV and JSONL are written here; Parquet by pyarrow (snappy, 64 Ki-row row groups, pyarrow's
// defaults otherwise), found on python3, else in the test fixtures' package dir, else
// `pip install --target` into the work dir. Files are generated once into benches/.work/.
//
// Every reader maps a row to the same record a hektor collection takes:
//   { id, text: title + '\n\n' + body, metadata: { year, price, tag } }
// and for each format three things are timed:
//   peer          the usual Node route, records collected in batches of 1,000:
//                   CSV      csv-parse (streaming, columns: true, cast: true)
//                   JSONL    readline over fs.createReadStream + JSON.parse per line
//                   Parquet  hyparquet parquetReadObjects, one row group at a time
//   hektor read   sources.<fmt>(...).read() iterating every batch (default 1,000 records):
//                 parse + mapping in Rust, batches handed to JS as JSON, so the records end up
//                 as JS objects like the peer's
//   hektor ingest col.ingest(source) + col.flush() into a fresh on-disk collection with no
//                 vectors: parse, map, store metadata, index text for BM25, all in Rust
//                 (open / createCollection / close are outside the timing)
// The peers only parse; "ingest vs peer" compares hektor's whole ingest with parsing alone.
//
// Each run of a reader is its own child process (this script with --child), so the peak RSS
// (getrusage maxrss) is that reader's alone, and one reader's heap never slows the next; the
// timing inside the child covers the read only, not Node's start-up or module loading. Each
// measurement is the best of --reps runs (2 when a first run takes over 20 s), the readers'
// runs interleaved so load drift hits all of them alike. Reported: wall seconds, CPU seconds of
// the process (all threads), rows/s, MB/s (input file bytes / wall s, 1 MB = 10^6 B), peak RSS.
// Ratios are rows/s of hektor over rows/s of the peer: above 1 means hektor is faster.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as csvParse } from 'csv-parse';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const version = (p) => JSON.parse(fs.readFileSync(path.join(root, p, 'package.json'), 'utf8')).version;

const argv = process.argv.slice(2);
const opt = (n, d) => { const i = argv.indexOf('--' + n); return i >= 0 ? argv[i + 1] : d; };
const N = Number(opt('rows', 200000));
const REPS = Number(opt('reps', 3));
const work = path.resolve(opt('work', path.join(here, '.work')));
const child = argv.includes('--child') ? { fmt: opt('child'), kind: opt('kind'), rep: Number(opt('rep', 0)) } : null;
if (!Number.isInteger(N) || N < 1 || !Number.isInteger(REPS) || REPS < 1) {
  console.error('usage: node benches/ingest.mjs [--rows N] [--reps R] [--work DIR]');
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Data

const GEN_VERSION = 1; // bump when the generator changes, so cached files are rewritten
const dataDir = path.join(work, `ingest-${N}`);
const files = { csv: path.join(dataDir, 'rows.csv'), jsonl: path.join(dataDir, 'rows.jsonl'), parquet: path.join(dataDir, 'rows.parquet') };
const stamp = path.join(dataDir, `.v${GEN_VERSION}`);
const PARQUET_ROW_GROUP = 65536;
const PYARROW = 'pyarrow==26.0.1'; // the pin of __test__/fixtures/python-fixtures.mjs

/** mulberry32: a small seeded PRNG, so the data set is the same on every machine. */
function prng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rows of the data set, one at a time. */
function* rows(n) {
  const rnd = prng(20261122);
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  // 4,000 pronounceable words from syllables; drawn with a skew so a few are very common
  const syl = ['ka', 'lo', 'mi', 'ter', 'an', 'vo', 'ri', 'sen', 'du', 'pel', 'or', 'ga', 'ne', 'tis', 'bro', 'qu', 'el', 'fa', 'zin', 'hu'];
  const vocab = new Set();
  while (vocab.size < 4000) {
    let w = '';
    for (let k = int(1, 4); k > 0; k--) w += syl[int(0, syl.length - 1)];
    vocab.add(w);
  }
  const words = [...vocab];
  const word = () => words[Math.floor(rnd() ** 2.5 * words.length)];
  const tags = ['news', 'review', 'guide', 'faq', 'spec', 'blog', 'manual', 'note', 'report', 'story', 'howto', 'release'];
  for (let i = 0; i < n; i++) {
    const t = [];
    for (let k = int(3, 8); k > 0; k--) t.push(word());
    const title = t.join(' ').replace(/^./, (c) => c.toUpperCase());
    let body = '';
    let sentence = 0;
    for (let k = int(40, 60); k > 0; k--) {
      let w = word();
      if (sentence === 0) w = w[0].toUpperCase() + w.slice(1);
      body += w;
      sentence++;
      if (k === 1 || (sentence > 6 && rnd() < 0.15)) { body += '.'; sentence = 0; } else if (rnd() < 0.06) body += ',';
      if (k > 1) body += ' ';
    }
    yield { id: `doc-${String(i).padStart(7, '0')}`, title, body, year: int(1990, 2025), price: int(99, 99999) / 100, tag: tags[int(0, tags.length - 1)] };
  }
}

/** Writes the lines of `gen` to `file` in large chunks. */
function writeLines(file, head, gen, line) {
  const fd = fs.openSync(file + '.tmp', 'w');
  let buf = head;
  for (const r of gen) {
    buf += line(r) + '\n';
    if (buf.length > 1 << 22) { fs.writeSync(fd, buf); buf = ''; }
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
  fs.renameSync(file + '.tmp', file);
}

const csvCell = (s) => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

/** PYTHONPATH under which python3 imports pyarrow ('' when it does already), or null. */
function pyarrowPath() {
  const tryImport = (p) => spawnSync('python3', ['-c', 'import pyarrow'], { env: { ...process.env, PYTHONPATH: p } }).status === 0;
  if (tryImport('')) return '';
  const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'hektor-tools', 'pyfixtures');
  if (tryImport(cache)) return cache;
  const target = path.join(work, 'py');
  if (tryImport(target)) return target;
  console.error(`ingest: installing ${PYARROW} into ${target}`);
  const r = spawnSync('python3', ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--only-binary', ':all:', '--target', target, PYARROW], { stdio: ['ignore', 'ignore', 'inherit'] });
  return r.status === 0 && tryImport(target) ? target : null;
}

const PARQUET_SCRIPT = `
import sys, pyarrow as pa, pyarrow.json as pj, pyarrow.parquet as pq
schema = pa.schema([('id', pa.string()), ('title', pa.string()), ('body', pa.string()),
                    ('year', pa.int32()), ('price', pa.float64()), ('tag', pa.string())])
t = pj.read_json(sys.argv[1], parse_options=pj.ParseOptions(explicit_schema=schema))
pq.write_table(t, sys.argv[2] + '.tmp', row_group_size=int(sys.argv[3]), compression='snappy')
print(pa.__version__)
`;

function generate() {
  if (fs.existsSync(stamp) && Object.values(files).every((f) => fs.existsSync(f))) return;
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true });
  const t = performance.now();
  writeLines(files.csv, 'id,title,body,year,price,tag\n', rows(N), (r) => [r.id, r.title, r.body, r.year, r.price, r.tag].map((v) => csvCell(String(v))).join(','));
  writeLines(files.jsonl, '', rows(N), (r) => JSON.stringify(r));
  const py = pyarrowPath();
  if (py === null) {
    console.error('ingest: no pyarrow (python3 -m pip failed): Parquet is left out');
  } else {
    const r = spawnSync('python3', ['-c', PARQUET_SCRIPT, files.jsonl, files.parquet, String(PARQUET_ROW_GROUP)], {
      encoding: 'utf8', env: { ...process.env, PYTHONPATH: py },
    });
    if (r.status !== 0) throw new Error(`ingest: writing Parquet failed:\n${r.stderr}`);
    fs.renameSync(files.parquet + '.tmp', files.parquet);
    fs.writeFileSync(path.join(dataDir, 'pyarrow-version'), r.stdout.trim());
  }
  fs.writeFileSync(stamp, '');
  console.error(`ingest: generated ${N} rows in ${((performance.now() - t) / 1000).toFixed(1)} s into ${dataDir}`);
}

// ---------------------------------------------------------------------------------------------
// Readers: each returns the number of records produced.

const MAP = { id: 'id', text: ['title', 'body'], metadata: ['year', 'price', 'tag'] };
const BATCH = 1000;
const toRecord = (r) => ({ id: r.id, text: `${r.title}\n\n${r.body}`, metadata: { year: r.year, price: r.price, tag: r.tag } });
const source = (fmt) => sdk.sources[fmt](files[fmt], MAP);

/** Collects records in batches of BATCH, as code handing them to an upsert would. */
function batcher() {
  let batch = [];
  let n = 0;
  return {
    push(rec) { batch.push(rec); if (batch.length === BATCH) { n += batch.length; batch = []; } },
    get count() { return n + batch.length; },
  };
}

const peers = {
  async csv(file) {
    const b = batcher();
    for await (const r of fs.createReadStream(file).pipe(csvParse({ columns: true, cast: true }))) b.push(toRecord(r));
    return b.count;
  },
  async jsonl(file) {
    const b = batcher();
    for await (const line of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) {
      if (line.length > 0) b.push(toRecord(JSON.parse(line)));
    }
    return b.count;
  },
  async parquet(file) {
    const b = batcher();
    const buf = await asyncBufferFromFile(file);
    const metadata = await parquetMetadataAsync(buf);
    let rowStart = 0;
    for (const g of metadata.row_groups) {
      const rowEnd = rowStart + Number(g.num_rows);
      for (const r of await parquetReadObjects({ file: buf, metadata, rowStart, rowEnd })) b.push(toRecord(r));
      rowStart = rowEnd;
    }
    return b.count;
  },
};
const peerName = {
  csv: `csv-parse ${version('node_modules/csv-parse')}`,
  jsonl: 'readline + JSON.parse',
  parquet: `hyparquet ${version('node_modules/hyparquet')}`,
};

async function hektorRead(fmt) {
  let n = 0;
  for await (const batch of source(fmt).read()) n += batch.length;
  return n;
}

/** The timed part of a hektor ingest: the collection is opened before and closed after. */
async function hektorIngest(fmt, rep, time) {
  const dir = path.join(work, `ingest-db-${fmt}-${rep}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const db = await sdk.open(dir);
  const col = await db.createCollection('bench');
  try {
    return await time(async () => {
      const report = await col.ingest(source(fmt));
      await col.flush();
      return report.upserted;
    });
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Times fn; returns { rows, wall, cpu } (records, seconds, CPU seconds of all threads). */
async function time(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const rows = await fn();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { rows, wall, cpu: (c.user + c.system) / 1e6 };
}

const readers = {
  peer: (fmt) => time(() => peers[fmt](files[fmt])),
  read: (fmt) => time(() => hektorRead(fmt)),
  ingest: (fmt, rep) => hektorIngest(fmt, rep, time),
};

/** One measurement in a fresh process; returns it with the process's peak RSS (bytes). */
function measure(fmt, kind, rep) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', fmt, '--kind', kind, '--rep', String(rep), '--rows', String(N), '--work', work], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`ingest: ${fmt} ${kind} failed (exit ${r.status ?? r.signal})`);
  return JSON.parse(r.stdout);
}

/** The first record hektor reads, beside the one the peers build, to check they agree. */
async function firstRecords(fmt) {
  const it = source(fmt).read({ batchSize: 1 })[Symbol.asyncIterator]();
  const h = (await it.next()).value[0];
  await it.return();
  const canon = (r) => JSON.stringify({ id: r.id, text: r.text, metadata: Object.fromEntries(Object.entries(r.metadata ?? {}).sort()) });
  return { hektor: canon(h), expected: canon(toRecord(rows(1).next().value)) };
}

// ---------------------------------------------------------------------------------------------
// Run

if (!child) generate();
// loaded after the data, so generating needs no build; a peer's process never loads it
const sdk = child?.kind === 'peer' ? null : await import(pathToFileURL(path.join(root, 'ts', 'dist', 'index.js')).href);
if (child) {
  const m = await readers[child.kind](child.fmt, child.rep);
  process.stdout.write(JSON.stringify({ ...m, rss: process.resourceUsage().maxRSS * 1024 }));
  process.exit(0);
}

const formats = Object.keys(files).filter((f) => fs.existsSync(files[f]));
const size = Object.fromEntries(formats.map((f) => [f, fs.statSync(files[f]).size]));
const mb = (b) => b / 1e6;
console.log(`ingest: ${N.toLocaleString('en-US')} rows; ` + formats.map((f) => `${f} ${mb(size[f]).toFixed(1)} MB`).join(', ') +
  (fs.existsSync(path.join(dataDir, 'pyarrow-version')) ? ` (Parquet by pyarrow ${fs.readFileSync(path.join(dataDir, 'pyarrow-version'), 'utf8')}, snappy, ${PARQUET_ROW_GROUP}-row groups)` : ''));
console.log(`node ${process.version}, hektor ${version('.')}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);

const KINDS = ['peer', 'read', 'ingest'];
const label = (fmt, kind) => ({ peer: peerName[fmt], read: 'hektor read', ingest: 'hektor ingest' })[kind];
const results = [];
for (const fmt of formats) {
  const { hektor, expected } = await firstRecords(fmt);
  if (hektor !== expected) console.error(`ingest: ${fmt}: hektor's first record differs from the peers'\n  hektor ${hektor}\n  peer   ${expected}`);
  const best = {};
  const reps = Object.fromEntries(KINDS.map((k) => [k, REPS]));
  for (let rep = 0; rep < REPS; rep++) {
    for (const kind of KINDS) {
      if (rep >= reps[kind]) continue;
      const m = measure(fmt, kind, rep);
      if (m.rows !== N) throw new Error(`ingest: ${fmt} ${label(fmt, kind)} produced ${m.rows} records, expected ${N}`);
      if (rep === 0 && m.wall > 20) reps[kind] = Math.min(REPS, 2);
      const b = best[kind];
      best[kind] = { ...(!b || m.wall < b.wall ? m : b), rss: Math.max(m.rss, b?.rss ?? 0) };
      console.error(`  ${fmt} ${label(fmt, kind)} run ${rep + 1}: ${m.wall.toFixed(2)} s wall, ${m.cpu.toFixed(2)} s CPU, ${Math.round(m.rss / 1048576)} MiB`);
    }
  }
  for (const kind of KINDS) results.push({ fmt, kind, name: label(fmt, kind), ...best[kind] });
}

const fmtInt = (x) => Math.round(x).toLocaleString('en-US');
console.log('| format | reader | best s wall / CPU | rows/s | MB/s | vs peer | peak RSS MiB |\n|---|---|---|---|---|---|---|');
for (const r of results) {
  const peer = results.find((p) => p.fmt === r.fmt && p.kind === 'peer');
  const ratio = r.kind === 'peer' ? '1' : (peer.wall / r.wall).toFixed(2);
  console.log(`| ${r.fmt} (${mb(size[r.fmt]).toFixed(1)} MB) | ${r.name} | ${r.wall.toFixed(2)} / ${r.cpu.toFixed(2)} | ${fmtInt(N / r.wall)} | ${(mb(size[r.fmt]) / r.wall).toFixed(1)} | ${ratio} | ${Math.round(r.rss / 1048576)} |`);
}
console.log('');
for (const fmt of formats) {
  const at = (kind) => results.find((r) => r.fmt === fmt && r.kind === kind);
  console.log(`ratio ${fmt}: hektor read / ${at('peer').name} ${(at('peer').wall / at('read').wall).toFixed(2)}, hektor ingest / ${at('peer').name} ${(at('peer').wall / at('ingest').wall).toFixed(2)} (rows/s)`);
}
