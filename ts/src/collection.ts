/**
 * {@link Collection}: records with vector, text and metadata, searchable.
 * @packageDocumentation
 */
import { throwIfAborted, withCancel } from './abort'
import { call, HektorError, invalidArg } from './errors'
import type { NativeCollection } from './native'
import { checkJson, checkNumberOption, checkString, optionsJson, optionsObject } from './validate'
import { Limiter, readWeight } from './limit'
import { Source, type IngestOptions, type IngestProgress, type IngestReport } from './sources'
import { Embedder, Generator, Reranker, settleStream, type Answer, type AskEvent, type AskOptions } from './rag'
import type {
  CollectionStats,
  DeleteResult,
  Filter,
  Hit,
  Metadata,
  RecordInput,
  SearchOptions,
  SelectField,
  StoredRecord,
  UpsertOptions,
  UpsertResult,
  WaitForIndexOptions,
} from './types'

const MAX_ID_BYTES = 1024
/** The engine's cap on `limits.maxMetadataDepth`: deeper metadata is refused before it is serialised. */
const MAX_METADATA_DEPTH = 100
const DEFAULT_BATCH = 2000

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/** Checks a vector: array-like of finite numbers. Returns it as a Float32Array. */
function toVector(v: unknown, where: string): Float32Array {
  let out: Float32Array
  if (v instanceof Float32Array) out = v
  else if (Array.isArray(v)) {
    const i = v.findIndex((x) => typeof x !== 'number')
    if (i >= 0) throw invalidArg(`${where}: vector value at index ${i} is a ${typeof v[i]}, not a number`)
    out = Float32Array.from(v as number[])
  } else throw invalidArg(`${where}: vector must be a Float32Array or an array of numbers`)
  if (out.length === 0) throw invalidArg(`${where}: vector must not be empty`)
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) throw invalidArg(`${where}: vector value at index ${i} is not a finite number`)
  }
  return out
}

/** Packs vectors into one buffer with per-item lengths (-1 = none). */
function packVectors(vs: (Float32Array | undefined)[]): { data: Float32Array; lengths: Int32Array } {
  let total = 0
  for (const v of vs) total += v ? v.length : 0
  const data = new Float32Array(total)
  const lengths = new Int32Array(vs.length)
  let pos = 0
  vs.forEach((v, i) => {
    if (v) {
      data.set(v, pos)
      pos += v.length
      lengths[i] = v.length
    } else lengths[i] = -1
  })
  return { data, lengths }
}

interface Prepared {
  ids: string[]
  texts: (string | null)[]
  vectors: (Float32Array | undefined)[]
  metadata: (Metadata | null)[]
}

/**
 * Validates a whole batch before anything is sent, so a bad record changes nothing: ids and
 * texts must be well-formed UTF-16 strings, metadata a plain object of JSON values (finite
 * numbers, no BigInt, no cycles, well-formed keys and strings at any depth; see `validate.ts`).
 */
function prepare(records: RecordInput[]): Prepared {
  const out: Prepared = { ids: [], texts: [], vectors: [], metadata: [] }
  let dim = -1
  records.forEach((r, row) => {
    const at = (field: string) => ({ row, field })
    if (!isPlainObject(r)) throw invalidArg(`record ${row} must be an object`, { row })
    if (typeof r.id !== 'string' || r.id.length === 0) throw invalidArg(`record ${row}: id must be a non-empty string`, at('id'))
    checkString(r.id, `record ${row}: id`, at('id'))
    if (Buffer.byteLength(r.id) > MAX_ID_BYTES) throw invalidArg(`record ${row}: id is longer than ${MAX_ID_BYTES} bytes`, at('id'))
    if (r.text !== undefined && r.text !== null && typeof r.text !== 'string') throw invalidArg(`record ${row}: text must be a string`, at('text'))
    if (typeof r.text === 'string') checkString(r.text, `record ${row}: text`, at('text'))
    if (r.metadata !== undefined && r.metadata !== null && !isPlainObject(r.metadata)) {
      throw invalidArg(`record ${row}: metadata must be a plain object`, at('metadata'))
    }
    if (r.metadata) checkJson(r.metadata, { what: 'metadata', row, field: 'metadata', maxDepth: MAX_METADATA_DEPTH, depthCode: 'ERR_LIMIT' })
    let v: Float32Array | undefined
    if (r.vector !== undefined && r.vector !== null) {
      v = toVector(r.vector, `record ${row}`)
      if (dim === -1) dim = v.length
      else if (v.length !== dim) {
        throw new HektorError('ERR_DIMENSION_MISMATCH', `record ${row}: vector has ${v.length} dimensions, the batch has ${dim}`, {
          location: at('vector'),
        })
      }
    }
    out.ids.push(r.id)
    out.texts.push(typeof r.text === 'string' ? r.text : null)
    out.vectors.push(v)
    out.metadata.push(r.metadata ?? null)
  })
  return out
}

/**
 * Serialises a batch's metadata; metadata nested too deeply for `JSON.stringify` (V8 throws
 * a RangeError past a few thousand levels) becomes `ERR_LIMIT` naming the record.
 */
function metadataJson(meta: (Metadata | null)[], offset: number): string {
  try {
    return JSON.stringify(meta)
  } catch (e) {
    if (!(e instanceof RangeError)) throw e
    const row = offset + meta.findIndex((m) => {
      try {
        JSON.stringify(m)
        return false
      } catch {
        return true
      }
    })
    throw new HektorError('ERR_LIMIT', `record ${row}: metadata is nested too deeply to serialise`, { location: { row, field: 'metadata' }, cause: e })
  }
}

/** Checks an id list (`row` in errors is the index in the list). */
function normalizeIds(ids: unknown, what: string): string[] {
  const list = typeof ids === 'string' ? [ids] : ids
  if (!Array.isArray(list)) throw invalidArg(`${what}: expected an id or an array of ids`)
  list.forEach((id, i) => {
    if (typeof id !== 'string') throw invalidArg(`${what}: id at index ${i} is not a string`, { row: i, field: 'id' })
    checkString(id, `${what}: id at index ${i}`, { row: i, field: 'id' })
  })
  return list as string[]
}

/** JSON text of a filter (`undefined` for none); `ERR_INVALID_ARG` for anything JSON would not keep. */
function filterJson(filter: Filter | undefined): string | undefined {
  if (filter === undefined || filter === null) return undefined
  if (!isPlainObject(filter)) throw invalidArg('filter must be an object')
  return optionsJson(filter, 'filter', 'filter')
}

const SELECT_FIELDS = new Set(['id', 'text', 'metadata', 'vector'])

/** Checks a `select` list of field names. */
function checkSelect(select: unknown, what: string): SelectField[] {
  if (!Array.isArray(select) || !select.every((s) => typeof s === 'string' && SELECT_FIELDS.has(s))) {
    throw invalidArg(`${what}: select must be an array of 'id', 'text', 'metadata', 'vector'`, { field: 'select' })
  }
  return select as SelectField[]
}

/** What search, searchBatch and get return from the binding: JSON, with the vectors apart. */
interface NativeResults {
  json: string
  vectors: Float32Array
  lengths: Int32Array
}

/**
 * Gives the records or hits of `items` (in the binding's order) their vectors from `out`:
 * each its own copy of the next `lengths[i]` values (none for -1).
 */
function attachVectors<T extends object>(items: (T | null)[], out: NativeResults): (T | null)[] {
  let at = 0
  return items.map((r, i) => {
    const n = out.lengths[i]
    if (r === null || n < 0) return r
    const vector = out.vectors.slice(at, at + n)
    at += n
    return { ...r, vector }
  })
}

/**
 * Each collection's database handle. A weak map entry keeps its value alive exactly as long
 * as its key: code like `const col = await (await open(dir)).collection('x')` drops the
 * database while using the collection, and collecting the database would close it.
 */
const owners = new WeakMap<Collection, object>()

/**
 * Splits search options into the JSON part and the vector. Numeric options must be finite
 * numbers when given (`NaN` would otherwise reach the engine as `null`, the default); the
 * text, filter and every other string must be well-formed UTF-16.
 */
function encodeQuery(q: SearchOptions, where: string): { json: string; vector: Float32Array | undefined } {
  if (!isPlainObject(q)) throw invalidArg(`${where} must be an object`)
  const { vector, signal: _signal, ...rest } = q
  const v = vector === undefined || vector === null ? undefined : toVector(vector, where)
  if (rest.text !== undefined && typeof rest.text !== 'string') throw invalidArg(`${where}: text must be a string`)
  for (const name of ['k', 'ef', 'maxDistance', 'candidates'] as const) checkNumberOption(rest[name], name, where)
  if (rest.filter !== undefined && rest.filter !== null && !isPlainObject(rest.filter)) throw invalidArg(`${where}: filter must be an object`)
  return { json: optionsJson(rest, where), vector: v }
}

/**
 * A collection of records. Obtain one from {@link Database.createCollection} or
 * {@link Database.collection}. Every method is async and runs off the JavaScript thread.
 */
export class Collection {
  readonly #native: NativeCollection
  /** Bounds the reads in flight, whose results are converted on the JavaScript thread (see `limit.ts`). */
  readonly #reads = new Limiter()

  /**
   * @param owner - the {@link Database} the handle came from: it stays reachable as long as
   *   the collection is (a garbage-collected database closes its collections)
   * @internal
   */
  constructor(native: NativeCollection, owner?: object) {
    this.#native = native
    if (owner !== undefined) owners.set(this, owner)
  }

  /** The collection's name. */
  get name(): string {
    return this.#native.name
  }

  /**
   * Inserts records, replacing any with the same id. The whole call is validated before
   * anything is written: an invalid record anywhere rejects with `ERR_INVALID_ARG`,
   * `ERR_DIMENSION_MISMATCH` or `ERR_LIMIT` (its `location.row` counting from the start of
   * the call) and nothing is written. The records are then written in batches of
   * `batchSize`, each atomic and durable (fsynced) before the next starts; a failure after
   * validation (the embedder, a full disk, `signal`) leaves the batches before it written.
   * An id given more than once is stored once, as its last occurrence; `upserted` counts
   * distinct records.
   */
  async upsert(records: RecordInput | RecordInput[], options: UpsertOptions = {}): Promise<UpsertResult> {
    options = optionsObject(options, 'upsert')
    const list = Array.isArray(records) ? records : [records]
    const batchSize = options.batchSize ?? DEFAULT_BATCH
    if (!Number.isInteger(batchSize) || batchSize < 1) throw invalidArg('batchSize must be a positive integer')
    throwIfAborted(options.signal)
    const p = prepare(list)
    if (list.length === 0) return { upserted: 0 }
    const { data, lengths } = packVectors(p.vectors)
    const metaJson = p.metadata.every((m) => m === null) ? undefined : metadataJson(p.metadata, 0)
    const upserted = await withCancel(options.signal, (id) =>
      this.#native.upsert(p.ids, p.texts, data, lengths, metaJson, Math.min(batchSize, 2 ** 32 - 1), id),
    )
    return { upserted }
  }

  /**
   * Reads records by id, in the order given; `null` for ids that do not exist.
   * @param select - fields to read (default: all)
   */
  async get(ids: string | string[], select: SelectField[] = []): Promise<(StoredRecord | null)[]> {
    const list = normalizeIds(ids, 'get')
    checkSelect(select, 'get')
    const vectors = select.length === 0 || select.includes('vector')
    return this.#reads.run(readWeight(list.length, vectors), async () => {
      const out = await call(() => this.#native.get(list, select))
      return attachVectors(JSON.parse(out.json) as (StoredRecord | null)[], out)
    })
  }

  /** Deletes records by id, or every record matching `{ filter }`. */
  async delete(target: string | string[] | { filter: Filter }): Promise<DeleteResult> {
    if (isPlainObject(target) && 'filter' in target) {
      const f = filterJson(target.filter as Filter)
      if (f === undefined) throw invalidArg('delete: filter must be an object')
      return { deleted: await call(() => this.#native.deleteWhere(f)) }
    }
    return { deleted: await call(() => this.#native.delete(normalizeIds(target, 'delete'))) }
  }

  /** Number of records, or of those matching `filter`. */
  async count(filter?: Filter): Promise<number> {
    return call(() => this.#native.count(filterJson(filter)))
  }

  /**
   * Searches by vector, text or both (hybrid). Returns hits best first.
   * @example
   * ```ts
   * await col.search({ text: 'wireless headphones', vector: q, k: 5, filter: { price: { $lt: 100 } } })
   * ```
   */
  async search(options: SearchOptions): Promise<Hit[]> {
    throwIfAborted(options?.signal)
    const { json, vector } = encodeQuery(options, 'search')
    const weight = readWeight(options.k ?? 10, options.select?.includes('vector') === true)
    return this.#reads.run(
      weight,
      async () => {
        const out = await call(() => this.#native.search(json, vector))
        throwIfAborted(options.signal)
        return attachVectors(JSON.parse(out.json) as Hit[], out) as Hit[]
      },
      options.signal,
    )
  }

  /** Runs many searches at once, in parallel in Rust. Returns one hit list per query. */
  async searchBatch(queries: SearchOptions[], options: { signal?: AbortSignal } = {}): Promise<Hit[][]> {
    if (!Array.isArray(queries)) throw invalidArg('searchBatch: expected an array of queries')
    options = optionsObject(options, 'searchBatch')
    const enc = queries.map((q, i) => encodeQuery(q, `query ${i}`))
    const { data, lengths } = packVectors(enc.map((e) => e.vector))
    const json = `[${enc.map((e) => e.json).join(',')}]`
    const out = await withCancel(options.signal, (id) => this.#native.searchBatch(json, data, lengths, id))
    const lists = JSON.parse(out.json) as Hit[][]
    const flat = attachVectors(lists.flat(), out) as Hit[]
    let at = 0
    return lists.map((l) => flat.slice(at, (at += l.length)))
  }

  /**
   * Streams a source into the collection in atomic batches (parsing, conversion and
   * indexing all happen in Rust, off the JavaScript thread). A bad row rejects with
   * `ERR_PARSE` / `ERR_INVALID_ARG` / `ERR_DIMENSION_MISMATCH` naming the source, row and
   * field, unless `onError: 'skip'`, which counts and reports it instead. Batches written
   * before an error or an abort are kept.
   * @example
   * ```ts
   * const report = await col.ingest(sources.csv('docs.csv', { id: 'id', text: ['title', 'body'], metadata: ['year'] }), {
   *   onProgress: (p) => console.log(`${p.rows} rows`),
   * })
   * ```
   */
  async ingest(source: Source, options: IngestOptions = {}): Promise<IngestReport> {
    if (!(source instanceof Source)) throw invalidArg('ingest: expected a source made by sources.*')
    const { onProgress, signal, ...rest } = optionsObject(options, 'ingest')
    const specJson = optionsJson(source.spec, 'source')
    const optionsText = optionsJson(rest, 'ingest options')
    if (onProgress !== undefined && typeof onProgress !== 'function') throw invalidArg('ingest: onProgress must be a function')
    let callbackError: unknown
    let events = 0
    const cb = onProgress
      ? (json: string): void => {
          const p = JSON.parse(json) as IngestProgress
          if (p.phase === 'batch') events++
          try {
            onProgress(p)
          } catch (e) {
            callbackError ??= e
          }
        }
      : undefined
    const report = JSON.parse(await withCancel(signal, (id) => this.#native.ingest(specJson, optionsText, cb, id))) as IngestReport
    // progress events travel on their own queue: deliver the last ones (one 'batch' event per batch) before resolving
    for (let spins = 0; cb && events < report.batches && spins < 1000; spins++) await new Promise((r) => setImmediate(r))
    if (callbackError !== undefined) throw callbackError
    return report
  }

  /**
   * Attaches an embedder (or detaches with `null`): records upserted or ingested with text
   * but no vector are embedded, and searches with `text` but no `vector` embed the text
   * and run hybrid. `createCollection` / `collection` take it as the `embedder` option.
   */
  setEmbedder(embedder: Embedder | null): void {
    if (embedder !== null && !(embedder instanceof Embedder)) throw invalidArg('setEmbedder: expected an embedder made by embedders.*')
    this.#native.setEmbedder(embedder?.native ?? null)
  }

  /**
   * Answers a question from the collection: retrieves passages (hybrid when the collection
   * has an embedder, else BM25), reranks them, prompts the generator with the numbered
   * passages, and returns the answer with its citations (`[n]` mapped to record and chunk
   * ids and spans) and a grounding check of each sentence.
   * @example
   * ```ts
   * const { answer, citations } = await col.ask('How do I reset the device?', { generator: generators.local({ path: 'model.gguf' }) })
   * ```
   */
  async ask(question: string, options: AskOptions): Promise<Answer> {
    return this.#ask(question, options, undefined)
  }

  /**
   * Like {@link ask}, but yields `{ type: 'token', text }` events as the answer is
   * generated, then one `{ type: 'done', answer }` event.
   */
  async *askStream(question: string, options: AskOptions): AsyncGenerator<AskEvent, void, undefined> {
    const queue: AskEvent[] = []
    let wake: (() => void) | undefined
    let settled: { answer?: Answer; error?: unknown } | undefined
    const push = (e: AskEvent): void => {
      queue.push(e)
      wake?.()
    }
    this.#ask(question, options, (text) => push({ type: 'token', text })).then(
      (answer) => {
        settled = { answer }
        wake?.()
      },
      (error: unknown) => {
        settled = { error }
        wake?.()
      },
    )
    for (;;) {
      while (queue.length > 0) yield queue.shift() as AskEvent
      if (settled) {
        // #ask resolves only after every token was pushed
        while (queue.length > 0) yield queue.shift() as AskEvent
        if (settled.error !== undefined) throw settled.error
        yield { type: 'done', answer: settled.answer as Answer }
        return
      }
      await new Promise<void>((r) => (wake = r))
      wake = undefined
    }
  }

  async #ask(question: string, options: AskOptions, onToken: ((t: string) => void) | undefined): Promise<Answer> {
    if (typeof question !== 'string') throw invalidArg('ask: question must be a string')
    checkString(question, 'ask: question')
    if (!options || !(options.generator instanceof Generator)) throw invalidArg('ask: options.generator must be a generator made by generators.*')
    const { generator, rerank, signal, filter, ...rest } = options
    if (rerank !== undefined && !(rerank instanceof Reranker)) throw invalidArg('ask: rerank must be a reranker made by rerankers.*')
    if (filter !== undefined) filterJson(filter)
    for (const name of ['k', 'candidates', 'maxTokens', 'temperature', 'topP', 'repeatPenalty', 'groundingThreshold'] as const) {
      checkNumberOption((rest as Record<string, unknown>)[name], name, 'ask')
    }
    const json = optionsJson({ ...rest, filter }, 'ask options')
    return settleStream<Answer>((onPiece) => withCancel(signal, (id) => this.#native.ask(question, json, generator.native, rerank?.native, onPiece, id)), onToken)
  }

  /** Counts, sizes and configuration. */
  async stats(): Promise<CollectionStats> {
    return JSON.parse(await call(() => this.#native.stats())) as CollectionStats
  }

  /**
   * Resolves once the HNSW graph covers every vector written so far. Writes return as soon
   * as they are durable and a background indexer (at a lower priority than searches) builds
   * the graph; until it is done, new vectors are searched exactly, so results are complete
   * but slower at scale. This call does the remaining indexing work too, beside the
   * background indexer. `close()` does not wait: it saves the graph as far as it got, and the
   * next open resumes. `stats().index` shows the progress without waiting.
   * @example
   * ```ts
   * await col.ingest(sources.parquet('big.parquet', { id: 'id', vector: 'embedding' }))
   * await col.waitForIndex({ onProgress: (s) => console.log(`${s.pending} vectors to go`) })
   * ```
   */
  async waitForIndex(options: WaitForIndexOptions = {}): Promise<void> {
    options = optionsObject(options, 'waitForIndex')
    const { signal, onProgress } = options
    if (onProgress !== undefined && typeof onProgress !== 'function') throw invalidArg('waitForIndex: onProgress must be a function')
    let timer: NodeJS.Timeout | undefined
    if (onProgress) {
      const tick = (): void => {
        this.stats().then(
          (s) => {
            if (timer !== undefined) onProgress(s.index)
          },
          () => undefined,
        )
      }
      timer = setInterval(tick, 250)
    }
    try {
      await withCancel(signal, (id) => this.#native.waitForIndex(id))
    } finally {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
    }
    if (onProgress) onProgress((await this.stats()).index)
  }

  /**
   * Catches a handle opened with `readOnly: true` up with the writer (another process or
   * handle) now. Without it, a read-only handle follows the writer by itself: each call
   * first applies the writes acknowledged since it last looked, at most every 100 ms, so a
   * read sees every write acknowledged more than 100 ms before it, whole batches only (never
   * part of one); after the writer compacts it reloads from the new checkpoint. Resolves to
   * whether anything changed; `false` on a writable handle, which always sees its own writes.
   */
  async refresh(): Promise<boolean> {
    return call(() => this.#native.refresh())
  }

  /**
   * Writes a checkpoint (index files and a new manifest) so the next open is fast.
   * Writes are durable without it; `close()` does it too.
   */
  async flush(): Promise<void> {
    await call(() => this.#native.flush())
  }

  /**
   * Rewrites the collection without deleted records and rebuilds its indexes. Searches keep
   * running meanwhile; writes wait. Cancelling leaves the collection as it was.
   */
  async compact(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = optionsObject(options, 'compact')
    await withCancel(signal, (id) => this.#native.compact(id))
  }
}
