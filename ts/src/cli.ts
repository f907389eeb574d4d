#!/usr/bin/env node
/**
 * The `hektor` command line: ingest, search, ask, stats, list, verify, repair.
 *
 * Exit codes: 0 success, 1 an operation failed (the error code is printed) or `verify`
 * found damage, 2 bad usage, 130 interrupted (Ctrl-C: the ingest keeps whole batches).
 * @packageDocumentation
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import fs from 'node:fs'
import path from 'node:path'
import { HektorError } from './errors'
import { open, type Database } from './database'
import type { Collection } from './collection'
import { Source, sources, type IngestProgress } from './sources'
import { embedders, generators, type Embedder, type Generator } from './rag'
import type { Filter } from './types'

const USAGE: Record<string, string> = {
  main: `hektor: local retrieval from the command line

Usage: hektor <command> [options]

Commands:
  ingest <file|url>    stream a source into a collection (csv, json, jsonl, parquet, arrow,
                       feather, avro, xml, protobuf, hdf5 files; postgres, mongodb, redis URLs)
  search <query>       search a collection (hybrid when it has an embedder)
  ask <question>       answer a question from a collection with a generator
  stats                counts, sizes and configuration of a collection
  list                 the collections of the database
  verify               check every record, vector row and log frame against its checksum
  repair               rebuild a collection's indexes from its record log (after ERR_CORRUPT)

Options for every command:
  --db <dir>           database directory (default: $HEKTOR_DB or ./.hektor)
  -c, --collection <n> collection name (default: docs)
  --json               machine-readable output
  -h, --help           help for a command ("hektor ingest --help")

Exit codes: 0 ok, 1 operation failed, 2 bad usage, 130 interrupted.`,
  ingest: `Usage: hektor ingest <file|url> [options]

Streams records into the collection (created if missing), with a progress bar.

Mapping:
  --id <field>           id field (default: generated <source>:<row>)
  --text <field>         text field (repeat or comma-separate for several)
  --vector <field>       vector field
  --metadata <field>     metadata field(s) (repeat or comma-separate; '*' = all others)
Source:
  --kind <kind>          source kind when the extension does not tell (csv, json, jsonl, ...)
  -o, --option <k=v>     a source option, e.g. -o delimiter=';' -o header=false (JSON values allowed)
  --query <sql>          postgres: the SQL to stream
  --db-name <name>       mongodb: database; --mongo-collection <name>: collection
  --pattern <glob>       redis: key pattern
Ingest:
  --embedder <dir>       embed texts with a local model folder (e.g. all-MiniLM-L6-v2)
  --batch-size <n>       records per atomic batch (default 1000)
  --skip-errors          count and skip bad rows instead of stopping
  --dimension <n>        vector dimension for a new collection
  --metric <m>           cosine | l2 | dot for a new collection`,
  search: `Usage: hektor search <query> [options]

  -k <n>                 number of hits (default 10)
  --mode <m>             vector | text | hybrid
  --filter <json>        metadata filter, e.g. '{"year": {"$gte": 2020}}'
  --embedder <dir>       local embedding model to embed the query (else the collection's own)`,
  ask: `Usage: hektor ask <question> [options]

  --generator <gguf>     local GGUF chat model file, or
  --openai-url <url>     an OpenAI-compatible endpoint (with --model; key from $OPENAI_API_KEY)
  --model <name>         model name for --openai-url
  -k <n>                 passages given to the model (default 5)
  --max-tokens <n>       longest answer (default 512)
  --temperature <t>      sampling temperature (default 0.2)
  --embedder <dir>       local embedding model (else the collection's own, or BM25 only)
Streams the answer to stdout, then prints the cited sources.`,
  stats: `Usage: hektor stats [--collection <name>] [--json]`,
  list: `Usage: hektor list [--json]`,
  verify: `Usage: hektor verify [--collection <name>] [--json]

Reads back every live record, vector row and log frame of the collection and checks each
against its checksum; lists what is damaged and changes nothing. Exits 1 when anything is
damaged (then run hektor repair). Works beside a writer (read-only).`,
  repair: `Usage: hektor repair [--collection <name>] [--accept-loss] [--json]

Rebuilds the collection's indexes (slot table, metadata, vectors, BM25 index, HNSW graph)
from its record log, the source of truth, beside the current files, and switches to them
only when they hold every record the collection serves now. When the rebuild would lose
records (a damaged log frame, a log cut short), it says what and changes nothing; with
--accept-loss it keeps what the log still holds and reports what was lost. Run it when
opening the collection fails with ERR_CORRUPT, or after verify finds damage. Needs the
writer lock (no other process may have the database open for writing).`,
}

class UsageError extends Error {}

const COMMON: ParseArgsConfig['options'] = {
  db: { type: 'string' },
  collection: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
}

const OPTIONS: Record<string, ParseArgsConfig['options']> = {
  ingest: {
    id: { type: 'string' },
    text: { type: 'string', multiple: true },
    vector: { type: 'string' },
    metadata: { type: 'string', multiple: true },
    kind: { type: 'string' },
    option: { type: 'string', short: 'o', multiple: true },
    query: { type: 'string' },
    'db-name': { type: 'string' },
    'mongo-collection': { type: 'string' },
    pattern: { type: 'string' },
    embedder: { type: 'string' },
    'batch-size': { type: 'string' },
    'skip-errors': { type: 'boolean' },
    dimension: { type: 'string' },
    metric: { type: 'string' },
  },
  search: { k: { type: 'string', short: 'k' }, mode: { type: 'string' }, filter: { type: 'string' }, embedder: { type: 'string' } },
  ask: {
    generator: { type: 'string' },
    'openai-url': { type: 'string' },
    model: { type: 'string' },
    k: { type: 'string', short: 'k' },
    'max-tokens': { type: 'string' },
    temperature: { type: 'string' },
    embedder: { type: 'string' },
  },
  stats: {},
  list: {},
  verify: {},
  repair: { 'accept-loss': { type: 'boolean' } },
}

const EXT_KINDS: Record<string, string> = {
  '.csv': 'csv', '.tsv': 'csv', '.tab': 'csv', '.json': 'json', '.jsonl': 'jsonl', '.ndjson': 'jsonl', '.parquet': 'parquet',
  '.arrow': 'arrow', '.arrows': 'arrow', '.ipc': 'arrow', '.feather': 'feather', '.avro': 'avro', '.xml': 'xml',
  '.pb': 'protobuf', '.bin': 'protobuf', '.h5': 'hdf5', '.hdf5': 'hdf5', '.he5': 'hdf5',
}

function list(v: unknown): string[] {
  return ((v as string[] | undefined) ?? []).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean)
}

function int(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number`)
  return n
}

function parseOption(kv: string): [string, unknown] {
  const eq = kv.indexOf('=')
  if (eq <= 0) throw new UsageError(`--option expects key=value, got '${kv}'`)
  const raw = kv.slice(eq + 1)
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    // a plain string
  }
  return [kv.slice(0, eq), value]
}

function makeSource(target: string, v: Record<string, unknown>): Source {
  const mapping: Record<string, unknown> = {}
  if (v.id) mapping.id = v.id
  if (list(v.text).length) mapping.text = list(v.text)
  if (v.vector) mapping.vector = v.vector
  if (list(v.metadata).length) mapping.metadata = list(v.metadata)
  const opts: Record<string, unknown> = { ...Object.fromEntries(((v.option as string[]) ?? []).map(parseOption)), ...mapping }
  const scheme = /^([a-z+]+):\/\//i.exec(target)?.[1]?.toLowerCase()
  if (scheme) {
    if (scheme.startsWith('postgres')) {
      if (!v.query) throw new UsageError('postgres sources need --query')
      return sources.postgres({ url: target, query: v.query as string, ...opts })
    }
    if (scheme.startsWith('mongodb')) {
      if (!v['db-name'] || !v['mongo-collection']) throw new UsageError('mongodb sources need --db-name and --mongo-collection')
      return sources.mongodb({ uri: target, db: v['db-name'] as string, collection: v['mongo-collection'] as string, ...opts })
    }
    if (scheme.startsWith('redis')) return sources.redis({ url: target, ...(v.pattern ? { pattern: v.pattern as string } : {}), ...opts })
    throw new UsageError(`unsupported URL scheme '${scheme}' (postgres://, mongodb://, redis://)`)
  }
  const lower = target.toLowerCase().replace(/\.gz$/, '')
  const kind = (v.kind as string | undefined) ?? EXT_KINDS[path.extname(lower)]
  if (!kind) throw new UsageError(`cannot tell the format of '${target}' from its extension; pass --kind`)
  const make = (sources as unknown as Record<string, ((p: string, o: object) => Source) | undefined>)[kind]
  if (!make) throw new UsageError(`unknown --kind '${kind}'`)
  return make(target, opts)
}

/**
 * A one-line progress bar on stderr (TTY), or a line every 2 s (pipes, CI). `done()` ends the
 * bar's line (once) and stops it, so later messages start on a line of their own.
 */
function progressReporter(json: boolean): { update(p: IngestProgress): void; done(): void } {
  const tty = process.stderr.isTTY && !json
  let last = 0
  let ended = false
  const fmt = (p: IngestProgress): string => {
    const secs = p.elapsedMs / 1000
    const rate = secs > 0 ? p.rows / secs : 0
    let pct = ''
    let eta = ''
    const frac = p.totalRows ? p.rows / p.totalRows : p.totalBytes && p.bytes ? p.bytes / p.totalBytes : null
    if (frac !== null && frac > 0) {
      pct = `${(frac * 100).toFixed(1).padStart(5)}% `
      eta = ` ETA ${Math.max(0, Math.round((secs / frac) * (1 - frac)))} s`
    }
    const width = 24
    const bar = frac !== null ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] ` : ''
    const stage = p.phase === 'loadingModel' ? ', loading the model' : p.phase === 'embedding' ? `, embedded ${p.embedded}/${p.toEmbed} of the batch` : ''
    return `${bar}${pct}${p.rows.toLocaleString()} rows, ${Math.round(rate).toLocaleString()} rows/s${eta}${p.skipped ? `, ${p.skipped} skipped` : ''}${stage}`
  }
  return {
    update(p) {
      if (ended) return
      const now = Date.now()
      if (tty) process.stderr.write(`\r\x1b[2K${fmt(p)}`)
      else if (!json && now - last > 2000) {
        process.stderr.write(`${fmt(p)}\n`)
        last = now
      }
    },
    done() {
      if (tty && !ended) process.stderr.write('\n')
      ended = true
    },
  }
}

/**
 * After an ingest: waits for the background indexer to put every vector into the graph,
 * with a bar on a TTY. Ctrl-C stops waiting (the records are stored; the next open resumes
 * the indexing).
 */
async function finishIndex(col: Collection, json: boolean): Promise<void> {
  if ((await col.stats()).index.pending === 0) return
  const tty = process.stderr.isTTY && !json
  const ac = new AbortController()
  const onSigint = (): void => {
    if (tty) process.stderr.write('\n')
    process.stderr.write('indexing stopped: the records are stored; the graph is finished the next time the collection is opened\n')
    ac.abort()
  }
  process.once('SIGINT', onSigint)
  const t = performance.now()
  try {
    await col.waitForIndex({
      signal: ac.signal,
      onProgress: (s) => {
        if (tty) process.stderr.write(`\r\x1b[2Kindexing: ${s.indexed.toLocaleString()} vectors in the graph, ${s.pending.toLocaleString()} to go${s.etaSeconds !== undefined ? `, ETA ${Math.round(s.etaSeconds)} s` : ''}`)
      },
    })
    if (tty) process.stderr.write('\n')
    if (!json) process.stderr.write(`indexed in ${((performance.now() - t) / 1000).toFixed(1)} s\n`)
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_ABORTED') throw e
  } finally {
    process.off('SIGINT', onSigint)
  }
}

/** Databases opened by the command, closed (checkpointed) before the process exits. */
const opened: Database[] = []

/** What {@link collectionFor} found or made. */
interface Target {
  db: Database
  col: Collection
  /** The collection did not exist before this command. */
  created: boolean
}

/** The identity of an embedder descriptor: the same model gives the same key. */
function embedderKey(d: unknown): string {
  if (d === null || typeof d !== 'object') return 'none'
  const { kind, path: p, model, baseURL } = d as Record<string, unknown>
  return JSON.stringify([kind, p ?? null, model ?? null, baseURL ?? null])
}

/** An embedder descriptor in words, for messages. */
function describeEmbedder(d: unknown): string {
  if (d === null || typeof d !== 'object') return 'no embedder'
  const { kind, path: p, model } = d as Record<string, unknown>
  return `the ${String(kind)} embedder ${String(p ?? model ?? '')}`.trim()
}

/**
 * Opens collection `name`, or creates it with `create` when given. For `ingest` with an
 * `--embedder` into an existing collection, the embedder must be the one the collection
 * records (its vectors came from that model): an empty collection without one is re-made
 * with it, so the embedder is recorded for later searches; a collection holding records
 * made without that embedder is refused with `ERR_INVALID_ARG` (mixing models, or leaving
 * `embedder: null` so that later searches silently fall back to BM25, would both be wrong).
 */
async function collectionFor(dbDir: string, name: string, create: Record<string, unknown> | null, embedder?: Embedder): Promise<Target> {
  const db = await open(dbDir)
  opened.push(db)
  const names = await db.listCollections()
  if (names.includes(name)) {
    const col = await db.collection(name, embedder ? { embedder } : {})
    if (!create || !embedder) return { db, col, created: false }
    const st = await col.stats()
    const stored = st.config.embedder ?? null
    if (embedderKey(stored) === embedderKey(embedder.descriptor)) return { db, col, created: false }
    if (stored === null && st.count === 0 && st.deleted === 0) {
      // made by an earlier ingest that wrote nothing: make it again, recording the embedder
      const { embedder: _none, ...config } = st.config as unknown as Record<string, unknown>
      await db.dropCollection(name)
      return { db, col: await db.createCollection(name, { ...config, embedder }), created: false }
    }
    throw new HektorError(
      'ERR_INVALID_ARG',
      `collection '${name}' holds ${st.count.toLocaleString()} records made with ${describeEmbedder(stored)}, not with --embedder ${embedder.description}; ` +
        `ingest into another collection (-c <name>), or leave out --embedder`,
      { location: { source: name, field: 'embedder' } },
    )
  }
  if (!create) throw new HektorError('ERR_NOT_FOUND', `no collection '${name}' in ${dbDir} (collections: ${names.join(', ') || 'none'}); ingest something first`)
  return { db, col: await db.createCollection(name, { ...create, ...(embedder ? { embedder } : {}) }), created: true }
}

/** What existed before a command touched the database directory. */
interface Before {
  /** The directory existed. */
  dir: boolean
  /** It held a database (its marker file). */
  db: boolean
}

/** What exists at `dbDir` now, before the command changes anything. */
function before(dbDir: string): Before {
  return { dir: fs.existsSync(dbDir), db: fs.existsSync(path.join(dbDir, 'hektor.json')) }
}

/**
 * Undoes what a failed `ingest` made: the collection when this command created it and
 * nothing went into it; then, when this command made the database and it holds no
 * collection, its marker and lock files, and the directory when this command made it too.
 * Anything else is left alone.
 */
async function undoIngest(dbDir: string, t: Target | undefined, was: Before): Promise<void> {
  if (t?.created && (await t.col.count()) === 0 && (await t.col.stats()).deleted === 0) await t.db.dropCollection(t.col.name)
  if (was.db) return
  for (const db of opened.splice(0)) await db.close()
  if (!fs.existsSync(dbDir) || fs.readdirSync(dbDir).some((f) => f !== 'hektor.json' && f !== 'LOCK')) return
  for (const f of ['LOCK', 'hektor.json']) fs.rmSync(path.join(dbDir, f), { force: true })
  if (!was.dir) fs.rmdirSync(dbDir)
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0]
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    console.log(USAGE.main)
    return cmd ? 0 : 2
  }
  if (!(cmd in OPTIONS)) throw new UsageError(`unknown command '${cmd}'`)
  const { values: v, positionals } = parseArgs({ args: argv.slice(1), options: { ...COMMON, ...OPTIONS[cmd] }, allowPositionals: true, strict: true })
  if (v.help) {
    console.log(USAGE[cmd])
    return 0
  }
  const dbDir = (v.db as string | undefined) ?? process.env.HEKTOR_DB ?? '.hektor'
  const name = (v.collection as string | undefined) ?? 'docs'
  const json = v.json === true
  const out = (x: unknown, text: () => string): void => console.log(json ? JSON.stringify(x, null, 2) : text())
  const embedder = typeof v.embedder === 'string' ? embedders.local({ path: v.embedder }) : undefined

  switch (cmd) {
    case 'list': {
      const db = await open(dbDir, { readOnly: true })
      const names = await db.listCollections()
      await db.close()
      out(names, () => names.join('\n'))
      return 0
    }
    case 'stats': {
      const db = await open(dbDir, { readOnly: true })
      const col = await db.collection(name)
      const st = await col.stats()
      await db.close()
      out(st, () => `${st.name}: ${st.count} records (${st.deleted} deleted), dimension ${st.dimension ?? '-'}, ${st.metric}, ${st.indexedVectors} vectors in the graph, ${st.textDocs} texts / ${st.terms} terms, ${(st.diskBytes / 1048576).toFixed(1)} MiB on disk`)
      return 0
    }
    case 'verify': {
      const db = await open(dbDir, { readOnly: true })
      const t = performance.now()
      const r = await db.verify(name)
      await db.close()
      const ms = performance.now() - t
      const bad = r.damaged.length + r.damagedFrames.length
      out({ collection: name, ...r, elapsedMs: Math.round(ms) }, () =>
        [
          `verified '${name}': ${r.records} records, ${r.vectors} vectors, ${r.frames} log frames in ${(ms / 1000).toFixed(1)} s: ${bad ? 'DAMAGED' : 'ok'}`,
          ...r.damaged.map((d) => `  ${d.part} of ${JSON.stringify(d.id)}: ${d.message}`),
          ...r.damagedFrames.map((f) => `  log frame at byte ${f.offset}${f.seq !== undefined && f.seq !== null ? ` (sequence ${f.seq})` : ''}: ${f.reason}`),
          ...(bad ? [`run 'hektor repair -c ${name}' to rebuild from the record log`] : []),
        ].join('\n'),
      )
      return bad ? 1 : 0
    }
    case 'repair': {
      const db = await open(dbDir)
      opened.push(db)
      const t = performance.now()
      const r = await db.repair(name, { acceptLoss: v['accept-loss'] === true })
      const st = await (await db.collection(name)).stats()
      const ms = performance.now() - t
      const lost = r.lost ? `; LOST ${r.lost} record(s) (${r.lostIds.slice(0, 5).map((id) => JSON.stringify(id)).join(', ')}${r.lost > 5 ? ', ...' : ''}) in ${r.droppedFrames.length} damaged log frame(s)` : r.droppedFrames.length ? `; dropped ${r.droppedFrames.length} damaged log frame(s)` : ''
      out({ collection: name, ...r, count: st.count, indexedVectors: st.indexedVectors, textDocs: st.textDocs, elapsedMs: Math.round(ms) }, () => `repaired '${name}': ${st.count} records, ${st.indexedVectors} vectors in the graph, ${st.textDocs} texts, in ${(ms / 1000).toFixed(1)} s${lost}`)
      return 0
    }
    case 'ingest': {
      if (positionals.length !== 1) throw new UsageError('ingest takes one source: a file path or a URL')
      const target = positionals[0]
      const source = makeSource(target, v)
      // a missing file fails before anything is made (no database, no empty collection)
      if (!/^[a-z+]+:\/\//i.test(target) && !fs.existsSync(target)) {
        throw new HektorError('ERR_NOT_FOUND', `no such file: ${target}`, { location: { source: target } })
      }
      const config: Record<string, unknown> = {}
      if (v.dimension) config.dimension = int(v.dimension, 'dimension')
      if (v.metric) config.metric = v.metric
      const was = before(dbDir)
      let t: Target | undefined
      try {
        t = await collectionFor(dbDir, name, config, embedder)
      } catch (e) {
        await undoIngest(dbDir, t, was).catch(() => undefined)
        throw e
      }
      const col = t.col
      const ac = new AbortController()
      const bar = progressReporter(json)
      // the first Ctrl-C stops after the batch being written (the engine checks while it
      // embeds, so within about a second); a second one quits at once (written batches are
      // durable either way)
      const onSigint = (): void => {
        if (ac.signal.aborted) process.exit(130)
        bar.done()
        process.stderr.write('stopping: keeping the batches written so far (Ctrl-C again to quit now)\n')
        ac.abort()
      }
      process.on('SIGINT', onSigint)
      try {
        const report = await col.ingest(source, {
          batchSize: int(v['batch-size'], 'batch-size'),
          onError: v['skip-errors'] ? 'skip' : 'stop',
          onProgress: (p) => bar.update(p),
          signal: ac.signal,
        })
        bar.done()
        out(report, () => `ingested ${report.upserted.toLocaleString()} of ${report.rows.toLocaleString()} rows into '${name}' in ${(report.elapsedMs / 1000).toFixed(1)} s (${report.rowsPerSecond.toLocaleString()} rows/s)${report.skipped ? `; skipped ${report.skipped}: ${report.errors.slice(0, 3).map((e) => e.message).join('; ')}` : ''}`)
      } catch (e) {
        // batches written before the failure are kept; a collection or database this
        // command made and nothing went into is removed again
        await undoIngest(dbDir, t, was).catch(() => undefined)
        throw e
      } finally {
        bar.done()
        process.off('SIGINT', onSigint)
      }
      await finishIndex(col, json)
      return 0
    }
    case 'search': {
      const query = positionals.join(' ').trim()
      if (!query) throw new UsageError('search needs a query')
      const { col } = await collectionFor(dbDir, name, null, embedder)
      let filter: Filter | undefined
      if (v.filter) {
        try {
          filter = JSON.parse(v.filter as string) as Filter
        } catch {
          throw new UsageError('--filter must be JSON')
        }
      }
      const mode = v.mode as 'vector' | 'text' | 'hybrid' | undefined
      const t = performance.now()
      const hits = await col.search({ text: query, k: int(v.k, 'k') ?? 10, ...(filter ? { filter } : {}), ...(mode ? { mode } : {}) })
      const ms = performance.now() - t
      out(hits, () => hits.map((h, i) => `${String(i + 1).padStart(2)}. ${h.id}  ${h.score.toFixed(4)}  ${(h.text ?? '').replace(/\s+/g, ' ').slice(0, 100)}`).join('\n') + `\n(${hits.length} hits in ${ms.toFixed(1)} ms)`)
      return 0
    }
    case 'ask': {
      const question = positionals.join(' ').trim()
      if (!question) throw new UsageError('ask needs a question')
      let generator: Generator
      if (v.generator) generator = generators.local({ path: v.generator as string })
      else if (v['openai-url']) {
        if (!v.model) throw new UsageError('--openai-url needs --model')
        generator = generators.openai({ baseURL: v['openai-url'] as string, model: v.model as string, apiKey: process.env.OPENAI_API_KEY })
      } else throw new UsageError('ask needs --generator <model.gguf> or --openai-url <url> --model <name>')
      const { col } = await collectionFor(dbDir, name, null, embedder)
      const ac = new AbortController()
      process.once('SIGINT', () => ac.abort())
      const opts = { generator, k: int(v.k, 'k') ?? 5, maxTokens: int(v['max-tokens'], 'max-tokens') ?? 512, temperature: v.temperature !== undefined ? Number(v.temperature) : 0.2, signal: ac.signal }
      if (json) {
        out(await col.ask(question, opts), () => '')
        return 0
      }
      for await (const ev of col.askStream(question, opts)) {
        if (ev.type === 'token') process.stdout.write(ev.text)
        else {
          const a = ev.answer
          process.stdout.write('\n\nSources:\n')
          for (const c of a.citations) process.stdout.write(`  [${c.n}] ${c.id}${c.chunkId ? ` (${c.chunkId})` : ''}\n`)
          if (a.grounding.unsupported.length) process.stdout.write(`Unsupported by the sources: ${a.grounding.unsupported.map((s) => JSON.stringify(s)).join(', ')}\n`)
          process.stderr.write(`(${a.timings.totalMs.toFixed(0)} ms${a.timings.tokensPerSecond ? `, ${a.timings.tokensPerSecond} tokens/s` : ''})\n`)
        }
      }
      return 0
    }
  }
  return 2
}

async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv)
  } finally {
    for (const db of opened.splice(0)) await db.close().catch(() => undefined)
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError || (e as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`hektor: ${(e as Error).message}\nRun 'hektor --help' for usage.`)
      process.exit(2)
    }
    if (e instanceof HektorError) {
      console.error(`hektor: ${e.code}: ${e.message}`)
      process.exit(e.code === 'ERR_ABORTED' ? 130 : 1)
    }
    console.error(`hektor: ${e instanceof Error ? e.stack : String(e)}`)
    process.exit(1)
  },
)
