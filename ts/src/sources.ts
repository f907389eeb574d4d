/**
 * Ingest sources: where records come from. Each `sources.*` function describes a source
 * (nothing is opened yet); pass it to {@link Collection.ingest}, or read it on its own with
 * `for await (const batch of source.read())`. Reading is streamed in Rust in bounded
 * batches, so memory stays flat whatever the input size.
 *
 * Every source takes a field mapping: which input fields become the record's `id`,
 * `text`, `vector` and `metadata` (a field name, a list of names, or a dotted path into
 * nested data; `metadata: '*'` keeps every unmapped field). Without an `id` mapping, ids
 * are generated as `<source>:<row>`, stable across re-ingests of the same input.
 * @packageDocumentation
 */
import { throwIfAborted } from './abort'
import { call, HektorError, invalidArg, type ErrorLocation } from './errors'
import { native } from './native'
import type { Metadata, StoredRecord } from './types'
import { checkJson, MAX_OPTIONS_DEPTH, optionsJson, optionsObject } from './validate'

/** Which input fields become the record's parts. */
export interface FieldMapping {
  /** Id field (string or number values). Default: generated `<source>:<row>`. */
  id?: string
  /** Text field(s); several are joined with a blank line. */
  text?: string | string[]
  /** Vector field (an array of numbers, or the format's native float list / 2-D dataset). */
  vector?: string
  /** Metadata field(s) kept as the record's metadata; `'*'` keeps every unmapped field. */
  metadata?: string | string[]
}

/** Options shared by the text file sources (csv, json, jsonl, xml). */
export interface FileOptions {
  /** Read through gzip (default: detected from the `.gz` name or the gzip magic bytes). */
  gzip?: boolean
  /** Largest input one record may span, in bytes (default 16 MiB); more is `ERR_LIMIT`. */
  maxRecordBytes?: number
}

/** CSV options. */
export interface CsvOptions extends FileOptions {
  /** Field delimiter, default `,`. */
  delimiter?: string
  /** Quote character, default `"`. */
  quote?: string
  /** Escape character (default: quotes are doubled). */
  escape?: string
  /** First row holds column names (default true). */
  header?: boolean
  /** Column names (override or supply them). */
  columns?: string[]
  /** Per-column types: `string`, `number`, `integer`, `boolean`, `json`, `vector`. */
  types?: Record<string, 'string' | 'number' | 'integer' | 'boolean' | 'json' | 'vector'>
  /** Turn numeric / boolean cells into numbers / booleans and empty cells into null (default true). */
  inferTypes?: boolean
  /** Lines starting with this character are skipped. */
  comment?: string
  /** Rows to skip before the header. */
  skipRows?: number
  /** Separator of a vector cell written as a plain list (default: a `[..]` list, commas, else whitespace). */
  vectorSeparator?: string
  /** Cell values read as null (default `[""]` with type inference). */
  nullValues?: string[]
  /** Trim whitespace around cells. */
  trim?: boolean
  /** Only `utf-8` is supported; anything else is `ERR_INVALID_ARG`. */
  encoding?: string
}

/** JSON options. */
export interface JsonOptions extends FileOptions {
  /** JSON pointer to the array of records, e.g. `/data/items` (default: the top-level array). */
  pointer?: string
}

/** XML options. */
export interface XmlOptions extends FileOptions {
  /** Element path of the records from the root, e.g. `catalog/book` (required). */
  path: string
  /** Prefix for attribute fields (default none). */
  attributePrefix?: string
  /** Namespace prefix -> URI map, when names must match namespaces exactly. */
  namespaces?: Record<string, string>
  /** Turn numeric / boolean text into numbers / booleans (default true). */
  inferTypes?: boolean
  /** Key of an element's own text when it also has attributes or children (default `#text`). */
  textKey?: string
  /** Trim element text (default true). */
  trimText?: boolean
  /** Element names that always become arrays, even when they occur once. */
  arrays?: string[]
  /** Element names whose whole content becomes one string, tags dropped. */
  textContent?: string[]
  /** Separator of a vector written as element text (default: commas or whitespace). */
  vectorSeparator?: string
  /** Deepest element nesting accepted (default 256). */
  maxDepth?: number
}

/** Parquet options. */
export interface ParquetOptions {
  /** Rows per batch read from a row group. */
  batchSize?: number
  /** Only these row groups. */
  rowGroups?: number[]
}

/** Avro options. */
export interface AvroOptions {
  /** Reader schema (JSON string or object) for schema evolution. */
  readerSchema?: string | object
}

/** Protocol Buffers options. */
export interface ProtobufOptions {
  /** A `.proto` file declaring the message type (compiled in-process, no protoc needed)... */
  proto?: string
  /** ...or a descriptor set written by `protoc -o`. */
  descriptorSet?: string
  /** Include directories for `.proto` imports. */
  includes?: string[]
  /** Fully-qualified message type, e.g. `shop.Product` (required). */
  messageType: string
  /** `delimited` (a stream of length-prefixed messages, default) or `single` (one message). */
  framing?: 'delimited' | 'single'
  /** With `single`: the repeated field holding the records. */
  recordsField?: string
}

/** HDF5 options: the datasets that hold the columns (they are also the field mapping). */
export interface Hdf5Options {
  /** 2-D float dataset (N x D) of vectors. */
  vectors?: string
  /** 1-D dataset of ids (strings or integers). */
  ids?: string
  /** 1-D string dataset of texts. */
  texts?: string
  /** Metadata field -> 1-D dataset. */
  metadata?: Record<string, string>
  /** Group prefix of the dataset paths. */
  group?: string
}

/** PostgreSQL source. */
export interface PostgresOptions extends FieldMapping {
  /** Connection URL, e.g. `postgres://user:pass@host:5432/db?sslmode=require` (never echoed in errors). */
  url: string
  /** SQL to stream, with `$1`, `$2` parameters. */
  query: string
  /** Parameter values. */
  params?: unknown[]
  /** Rows per fetch from the server-side cursor. */
  batchSize?: number
  /** TLS: `disable`, `prefer` or `require` (rustls; also read from `sslmode`). */
  tls?: 'disable' | 'prefer' | 'require'
  /** CA certificate file for TLS. */
  caFile?: string
  /** Run a COUNT first so progress knows the total. */
  countTotal?: boolean
}

/** MongoDB source. */
export interface MongoOptions extends FieldMapping {
  /** Connection URI (never echoed in errors). */
  uri: string
  /** Database name. */
  db: string
  /** Collection name. */
  collection: string
  /** Query filter (extended JSON accepted). */
  filter?: object
  /** Projection. */
  projection?: object
  /** Sort. */
  sort?: object
  /** Documents per cursor batch. */
  batchSize?: number
  /** Stop after this many documents. */
  limit?: number
  /** Server selection timeout in ms (default 5000). */
  timeoutMs?: number
  /** Count matching documents first so progress knows the total. */
  countTotal?: boolean
}

/** Redis source. */
export interface RedisOptions extends FieldMapping {
  /** `redis://` or `rediss://` (TLS) URL (never echoed in errors). */
  url: string
  /** SCAN MATCH pattern, default `*`. */
  pattern?: string
  /** SCAN COUNT hint. */
  count?: number
  /** Value type: `hash`, `json` (strings holding JSON), `rejson` (RedisJSON) or `auto` (default). */
  type?: 'hash' | 'json' | 'rejson' | 'auto'
  /** Infer numbers / booleans in hash fields (default true). */
  inferTypes?: boolean
  /** Vector encoding in a hash field: `json` (default) or `f32le` (raw bytes, as RediSearch stores them). */
  vectorEncoding?: 'json' | 'f32le'
}

/** A row that could not be read or mapped. */
export interface RowError {
  /** Stable error code. */
  code: string
  /** What went wrong. */
  message: string
  /** Where. */
  location: ErrorLocation
}

/** How far a read has got. */
export interface ReadProgress {
  /** Rows read. */
  rows: number
  /** Input bytes read (when the source knows). */
  bytes: number
  /** Total rows, when known up front. */
  totalRows: number | null
  /** Total bytes, when known (file size). */
  totalBytes: number | null
}

/** Options of {@link Source.read}. */
export interface ReadOptions {
  /** Records per batch (default 1000). */
  batchSize?: number
  /** `stop` (default) throws at the first bad row; `skip` leaves bad rows out. */
  onError?: 'stop' | 'skip'
  /** Stops the read with `ERR_ABORTED`. */
  signal?: AbortSignal
}

/**
 * Progress of {@link Collection.ingest}: after each batch is written (`phase: 'batch'`) and,
 * with an embedder on the collection, while a batch's texts are embedded: the model's load on
 * first use (`loadingModel`, then `modelLoaded` with `loadMs`) and the texts embedded so far
 * (`embedding`, after each group of 256 texts), so that a long batch never goes quiet.
 * The counts (`rows`, `upserted`, ...) are the totals as of the event.
 */
export interface IngestProgress extends ReadProgress {
  /** What happened: a batch was written, or a model is loading / loaded, or texts were embedded. */
  phase: 'batch' | 'loadingModel' | 'modelLoaded' | 'embedding'
  /** Records written so far. */
  upserted: number
  /** Rows skipped so far (`onError: 'skip'`). */
  skipped: number
  /** Time since the start. */
  elapsedMs: number
  /** `embedding`: texts of the current batch embedded so far. */
  embedded?: number
  /** `embedding`: texts of the current batch to embed. */
  toEmbed?: number
  /** `loadingModel` / `modelLoaded`: the model's description (a path or name). */
  model?: string
  /** `modelLoaded`: how long the load took, ms. */
  loadMs?: number
}

/** Options of {@link Collection.ingest}. */
export interface IngestOptions {
  /** Called after each batch, and during a batch while a model loads and embeds (never blocks the ingest). */
  onProgress?: (progress: IngestProgress) => void
  /** Cancels between batches with `ERR_ABORTED`; whole batches already written are kept. */
  signal?: AbortSignal
  /** Records per atomic batch (default 1000). */
  batchSize?: number
  /** `stop` (default): the first bad row rejects with its location; `skip`: bad rows are counted and reported. */
  onError?: 'stop' | 'skip'
}

/** Result of {@link Collection.ingest}. */
export interface IngestReport {
  /** The source (a path, or a server address without credentials). */
  source: string
  /** Rows read. */
  rows: number
  /** Records written. */
  upserted: number
  /** Rows skipped. */
  skipped: number
  /** Batches written. */
  batches: number
  /** The first 20 skipped rows' errors. */
  errors: RowError[]
  /** Duration. */
  elapsedMs: number
  /** Throughput. */
  rowsPerSecond: number
}

/** What the engine receives. @internal */
export interface SourceSpec {
  kind: string
  location: string
  options: Record<string, unknown>
  mapping: { id?: string; text: string[]; vector?: string; metadata: string[] }
}

const MAPPING_KEYS = ['id', 'text', 'vector', 'metadata'] as const
const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])

function splitMapping(kind: string, opts: Record<string, unknown>, locationKey?: string): { mapping: SourceSpec['mapping']; options: Record<string, unknown> } {
  if (opts === null || typeof opts !== 'object') throw invalidArg(`sources.${kind}: options must be an object`)
  const options: Record<string, unknown> = {}
  const m: FieldMapping = {}
  for (const [k, v] of Object.entries(opts)) {
    if (v === undefined || k === locationKey) continue
    // hdf5's `metadata` option maps field names to datasets (an object); the mapping's is a list
    const isHdf5Datasets = kind === 'hdf5' && k === 'metadata' && v !== null && typeof v === 'object' && !Array.isArray(v)
    if ((MAPPING_KEYS as readonly string[]).includes(k) && !isHdf5Datasets) (m as Record<string, unknown>)[k] = v
    else options[k] = v
  }
  for (const k of ['id', 'vector'] as const) {
    if (m[k] !== undefined && typeof m[k] !== 'string') throw invalidArg(`sources.${kind}: '${k}' must be a field name`)
  }
  for (const k of ['text', 'metadata'] as const) {
    const v = m[k]
    if (v !== undefined && typeof v !== 'string' && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) {
      throw invalidArg(`sources.${kind}: '${k}' must be a field name or a list of field names`)
    }
  }
  const mapping: SourceSpec['mapping'] = { text: asList(m.text), metadata: asList(m.metadata) }
  if (m.id !== undefined) mapping.id = m.id
  if (m.vector !== undefined) mapping.vector = m.vector
  return { mapping, options }
}

/** A described source. Create one with a `sources.*` function. */
export class Source {
  readonly #spec: SourceSpec

  /** @internal */
  constructor(spec: SourceSpec) {
    this.#spec = spec
  }

  /** The source kind (`csv`, `parquet`, `postgres`, ...). */
  get kind(): string {
    return this.#spec.kind
  }

  /** @internal */
  get spec(): SourceSpec {
    return this.#spec
  }

  /**
   * Reads the source on its own, in batches of records (no collection needed).
   * @example
   * ```ts
   * for await (const batch of sources.jsonl('items.jsonl', { id: 'sku', text: 'title' }).read()) console.log(batch.length)
   * ```
   */
  async *read(options: ReadOptions = {}): AsyncGenerator<StoredRecord[], void, undefined> {
    options = optionsObject(options, 'read')
    const batchSize = options.batchSize ?? 1000
    if (!Number.isInteger(batchSize) || batchSize < 1) throw invalidArg('batchSize must be a positive integer')
    const spec = optionsJson(this.#spec, 'source')
    const src = await call(async () => native.openSource(spec))
    try {
      for (;;) {
        throwIfAborted(options.signal)
        const raw = await call(() => src.next(batchSize))
        if (raw === null) return
        const b = JSON.parse(raw) as { records: { id: string; text: string | null; vector: number[] | null; metadata: Metadata | null }[]; errors: RowError[] }
        if (b.errors.length > 0 && options.onError !== 'skip') {
          const e = b.errors[0]
          throw new HektorError(e.code as never, e.message, { location: e.location })
        }
        yield b.records.map((r) => {
          const out: StoredRecord = { id: r.id }
          if (r.text !== null) out.text = r.text
          if (r.vector !== null) out.vector = Float32Array.from(r.vector)
          if (r.metadata !== null) out.metadata = r.metadata
          return out
        })
      }
    } finally {
      src.close()
    }
  }

  /** Same as `read()`. */
  [Symbol.asyncIterator](): AsyncGenerator<StoredRecord[], void, undefined> {
    return this.read()
  }

  /** A description without credentials (safe to log). */
  toString(): string {
    return `Source(${this.#spec.kind})`
  }
}

/**
 * A source of `spec`, checked now: every string (path, field names, options, query
 * parameters) well-formed and every value one JSON keeps, so a bad option fails where it
 * is written rather than at `ingest`.
 */
function checkedSource(spec: SourceSpec): Source {
  checkJson(spec, { what: `sources.${spec.kind}`, maxDepth: MAX_OPTIONS_DEPTH, depthCode: 'ERR_INVALID_ARG' })
  return new Source(spec)
}

function fileSource<O extends object>(kind: string) {
  return (path: string, options: O & FieldMapping = {} as O & FieldMapping): Source => {
    if (typeof path !== 'string' || path.length === 0) throw invalidArg(`sources.${kind}: path must be a non-empty string`)
    const { mapping, options: rest } = splitMapping(kind, options as Record<string, unknown>)
    return checkedSource({ kind, location: path, options: rest, mapping })
  }
}

function serverSource<O extends FieldMapping>(kind: string, locationKey: keyof O & string) {
  return (options: O): Source => {
    const loc = (options as Record<string, unknown>)?.[locationKey]
    if (typeof loc !== 'string' || loc.length === 0) throw invalidArg(`sources.${kind}: '${locationKey}' must be a connection string`)
    const { mapping, options: rest } = splitMapping(kind, options as Record<string, unknown>, locationKey)
    return checkedSource({ kind, location: loc, options: rest, mapping })
  }
}

/**
 * The 13 sources. Files: `csv`, `json`, `jsonl`, `parquet`, `arrow` (IPC file or stream),
 * `feather` (v2), `avro`, `xml`, `protobuf`, `hdf5`. Servers: `postgres`, `mongodb`, `redis`.
 * @example
 * ```ts
 * await col.ingest(sources.parquet('products.parquet', { id: 'sku', text: ['title', 'body'], vector: 'embedding', metadata: ['price'] }))
 * await col.ingest(sources.postgres({ url: process.env.DATABASE_URL!, query: 'SELECT * FROM docs WHERE updated > $1', params: ['2024-01-01'], id: 'id', text: 'body' }))
 * ```
 */
export const sources = {
  /** Comma- (or otherwise) separated values, optionally gzipped. */
  csv: fileSource<CsvOptions>('csv'),
  /** A JSON array of records, or the array at a JSON pointer; streamed. */
  json: fileSource<JsonOptions>('json'),
  /** One JSON object per line, optionally gzipped. */
  jsonl: fileSource<FileOptions>('jsonl'),
  /** Apache Parquet, row groups streamed, only mapped columns decoded. */
  parquet: fileSource<ParquetOptions>('parquet'),
  /** Arrow IPC, file (`.arrow`) or stream format. */
  arrow: fileSource<object>('arrow'),
  /** Feather v2 (Arrow IPC file, possibly compressed). */
  feather: fileSource<object>('feather'),
  /** Avro object container files, with optional reader schema. */
  avro: fileSource<AvroOptions>('avro'),
  /** XML, records at an element path; streamed. */
  xml: fileSource<XmlOptions>('xml'),
  /** Protocol Buffers messages decoded dynamically from a `.proto` or descriptor set. */
  protobuf: fileSource<ProtobufOptions>('protobuf'),
  /**
   * HDF5 datasets (vectors, ids, texts, metadata columns), read in chunks. The dataset
   * options are also the mapping: rows are `{ id, text, <metadata names> }` with the vector
   * from `vectors`, so no `id`/`text` mapping is needed.
   */
  hdf5: (
    path: string,
    options: Hdf5Options & Omit<FieldMapping, 'metadata'> & { metadata?: Record<string, string> | string | string[]; metadataFields?: string | string[] },
  ) => {
    // `metadata` is the dataset map here; `metadataFields` picks which of its fields the
    // records keep (the mapping's `metadata`; default all, `'*'` too)
    const { metadataFields, ...rest } = optionsObject(options, 'sources.hdf5')
    const src = fileSource<Hdf5Options>('hdf5')(path, rest as Hdf5Options & FieldMapping)
    if (metadataFields !== undefined) src.spec.mapping.metadata = asList(metadataFields)
    return src
  },
  /** A PostgreSQL query streamed through a server-side cursor. */
  postgres: serverSource<PostgresOptions>('postgres', 'url'),
  /** A MongoDB collection streamed through a cursor. */
  mongodb: serverSource<MongoOptions>('mongodb', 'uri'),
  /** Redis keys matching a pattern (SCAN), as hashes, JSON strings or RedisJSON. */
  redis: serverSource<RedisOptions>('redis', 'url'),
}
