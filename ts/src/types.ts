/**
 * Public types of the SDK.
 * @packageDocumentation
 */
import type { Embedder } from './rag'

/** Any JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/** A record's metadata: a JSON object (nested objects and arrays allowed). */
export type Metadata = { [key: string]: JsonValue }

/** Distance metric of a collection. */
export type Metric = 'cosine' | 'l2' | 'dot'

/** A record to write. */
export interface RecordInput {
  /** Unique id in the collection (1-1024 bytes); upserting an existing id replaces that record. */
  id: string
  /** Text indexed for BM25 search (and returned by searches). */
  text?: string
  /** Vector of the collection's dimension. */
  vector?: Float32Array | number[]
  /** JSON metadata, filterable with {@link Filter}s. */
  metadata?: Metadata
}

/** A record read back. */
export interface StoredRecord {
  /** The id. */
  id: string
  /** The text, if any (and selected). */
  text?: string
  /** The vector as written (not normalised), if any (and selected). */
  vector?: Float32Array
  /** The metadata, if any (and selected). */
  metadata?: Metadata
}

/** Comparison operators of a field condition. */
export interface FieldOperators {
  /** Equal (deep equality for arrays/objects; an array field matches if any element is equal). */
  $eq?: JsonValue
  /** Not equal (also matches records without the field). */
  $ne?: JsonValue
  /** Greater than (numbers with numbers, strings with strings). */
  $gt?: number | string
  /** Greater than or equal. */
  $gte?: number | string
  /** Less than. */
  $lt?: number | string
  /** Less than or equal. */
  $lte?: number | string
  /** Equal to one of. */
  $in?: JsonValue[]
  /** Equal to none of (also matches records without the field). */
  $nin?: JsonValue[]
  /** Field present (true) or absent (false). */
  $exists?: boolean
  /** Negates an operator object. */
  $not?: FieldOperators
}

/**
 * A Mongo-style metadata filter: `{ field: value }` (equality), `{ field: { $op: value } }`,
 * dotted paths into nested objects (`"author.name"`), and `$and`, `$or`, `$nor`, `$not`
 * to combine. Compiled and evaluated in Rust, inside the HNSW traversal.
 * @example `{ year: { $gte: 2020 }, tags: 'rust', $or: [{ lang: 'en' }, { lang: 'de' }] }`
 */
export interface Filter {
  /** All of. */
  $and?: Filter[]
  /** Any of. */
  $or?: Filter[]
  /** None of. */
  $nor?: Filter[]
  /** Not. */
  $not?: Filter
  /** A field condition: a literal (equality) or an operator object. */
  [field: string]: JsonValue | FieldOperators | Filter | Filter[] | undefined
}

/** How hybrid search fuses the vector and text rankings. */
export type Fusion =
  /** Reciprocal rank fusion: `sum 1 / (k + rank)`; `k` defaults to 60. */
  | {
      /** Reciprocal rank fusion. */
      type: 'rrf'
      /** The RRF constant, default 60. */
      k?: number
    }
  /** `alpha * vector + (1 - alpha) * text` on min-max normalised scores. */
  | {
      /** Weighted fusion of normalised scores. */
      type: 'weighted'
      /** Weight of the vector score in [0, 1]; the text score gets `1 - alpha`. */
      alpha: number
    }

/** Which index answers a search. */
export type SearchMode = 'vector' | 'text' | 'hybrid'

/** Fields a hit or a `get` can carry besides the id. */
export type SelectField = 'id' | 'text' | 'metadata' | 'vector'

/** A search request. Give `vector`, `text` or both. */
export interface SearchOptions {
  /** Query text (BM25 and hybrid modes). */
  text?: string
  /** Query vector (vector and hybrid modes). */
  vector?: Float32Array | number[]
  /** Number of hits (1-10000), default 10. `NaN`, `Infinity` or `null` reject with `ERR_INVALID_ARG`. */
  k?: number
  /** Metadata filter, applied inside the search (you still get `k` hits when `k` exist). */
  filter?: Filter
  /** Default: `hybrid` when both `text` and `vector` are given, else the one that is. */
  mode?: SearchMode
  /** Hybrid fusion, default RRF with k = 60. */
  fusion?: Fusion
  /** HNSW beam width for this query (default: the collection's `efSearch`); higher = better recall, slower. */
  ef?: number
  /** Exact brute-force vector search (SIMD) instead of HNSW. */
  exact?: boolean
  /**
   * Range query: only hits whose vector is within this distance of the query vector
   * (`distance <= maxDistance`; cosine `1 - cos`, l2 squared Euclidean, dot `-dot`). A finite
   * number. It applies to the vector component in every mode:
   * - `vector`: the nearest hits within range (fewer than `k` when fewer are in range);
   * - `hybrid`: both candidate lists are restricted before fusion, so a record whose vector
   *   is farther, or that has no vector, is never a hit;
   * - `text`: BM25 ranks only the records within range, and hits carry `distance`; the query
   *   vector is `vector`, or the text embedded by the collection's embedder.
   *
   * Without a query vector (none given, no embedder) the search rejects with `ERR_INVALID_ARG`.
   */
  maxDistance?: number
  /** Fields to return besides id and scores; default `['text', 'metadata']`. */
  select?: SelectField[]
  /** Hybrid: candidates taken from each list before fusion (default max(2k, 50)). */
  candidates?: number
  /** Cancels the search (`ERR_ABORTED`). */
  signal?: AbortSignal
}

/** One search result, best first. */
export interface Hit {
  /** Record id (in a chunked collection: the parent record of the matching chunk). */
  id: string
  /** In a chunked collection: the matching chunk's id. */
  chunkId?: string
  /** In a chunked collection: the chunk's `[start, end)` span in the parent's text (`text.slice(start, end)`). */
  span?: [number, number]
  /** Ranking score of the mode, higher is better: vector similarity, BM25, or the fused score. */
  score: number
  /** Vector similarity: cosine similarity (`cosine`), inner product (`dot`), `1 / (1 + distance)` (`l2`). */
  vectorScore?: number
  /** BM25 score. */
  textScore?: number
  /** Metric distance: `1 - cos` (cosine), squared Euclidean (l2), `-dot` (dot). */
  distance?: number
  /** The record's text (if selected; in a chunked collection the chunk's text). */
  text?: string
  /** The record's metadata (if selected). */
  metadata?: Metadata
  /** The record's vector (if selected). */
  vector?: Float32Array
}

/** Chunking of `text` on upsert and ingest (see {@link CollectionOptions.chunking}). */
export interface ChunkingOptions {
  /** `recursive` (paragraphs, then sentences, then words; default), `sentence` or `paragraph`. */
  mode?: 'recursive' | 'sentence' | 'paragraph'
  /** Largest chunk, in tokens of the collection's embedder (or characters without one), default 256. */
  size?: number
  /** Overlap between consecutive chunks, default 32. */
  overlap?: number
}

/**
 * Caps on the records of one upsert or ingest batch (see {@link CollectionOptions.limits}).
 * Exceeding one rejects with `ERR_LIMIT` naming the row and field, and nothing of the
 * batch is written. Stored data is never checked again, so lowering a cap is safe.
 */
export interface LimitsOptions {
  /**
   * Largest record in bytes: id + text (UTF-8) + vector (4 bytes a value) + metadata as
   * compact JSON. Default 16 MiB (16,777,216); 1024 to 1 GiB.
   */
  maxRecordBytes?: number
  /** Deepest metadata nesting (the metadata object itself is depth 1). Default 32; 1 to 100. */
  maxMetadataDepth?: number
  /** Largest vector dimension. Default and at most 65,536. */
  maxDimension?: number
  /** Most records in one write batch (`UpsertOptions.batchSize`, an ingest batch). Default 1,000,000. */
  maxBatchRecords?: number
}

/** HNSW graph parameters. */
export interface HnswOptions {
  /** Links per node (layer 0 keeps 2m), 2-128, default 16. */
  m?: number
  /** Beam width while building, default 200. */
  efConstruction?: number
  /** Default beam width while searching (raised to k), default 64. */
  efSearch?: number
}

/** Text analysis for BM25. */
export interface AnalyzerOptions {
  /** Language for stemming and stopwords (`english` default; `french`, `de`, ... 18 Snowball languages). */
  language?: string
  /** Snowball stemming, default true. */
  stemming?: boolean
  /** The language's stopword list (true, default), none (false) or your own list. */
  stopwords?: boolean | string[]
}

/** Options of {@link Database.createCollection}. */
export interface CollectionOptions {
  /** Vector dimension; learnt from the first vector when omitted. */
  dimension?: number
  /** Distance metric, default `cosine`. */
  metric?: Metric
  /** HNSW parameters. */
  hnsw?: HnswOptions
  /**
   * Vector storage in the graph. `'none'` (default): full-precision `f32`. `'sq8'`: the graph
   * is traversed on 8-bit codes (one byte per dimension, a quarter of the memory, trained
   * per dimension once the collection holds 1,000 vectors and again at each `compact()`),
   * then the beam's candidates are re-ranked on the full vectors from the memory-mapped
   * file, so scores are exact and recall stays close to `'none'`. `'pq'` is not available
   * in this version (`ERR_INVALID_ARG`).
   */
  quantization?: 'none' | 'sq8' | 'pq'
  /** Text analysis. */
  analyzer?: AnalyzerOptions
  /** BM25 parameters (k1 default 1.2, b default 0.75). */
  bm25?: {
    /** Term-frequency saturation, default 1.2. */
    k1?: number
    /** Length normalisation in [0, 1], default 0.75. */
    b?: number
  }
  /**
   * Embeds records that have text but no vector, and query texts. A local embedder is
   * re-attached automatically when the collection is reopened.
   */
  embedder?: Embedder
  /**
   * Splits each record's `text` into chunks on upsert and ingest; search and `ask` then run
   * over chunks, and hits name the parent record (`id`), the chunk (`chunkId`) and its `span`.
   * `get` and `count` see the parent records.
   */
  chunking?: ChunkingOptions
  /** Caps on record size, metadata depth, vector dimension and batch size (defaults in {@link LimitsOptions}). */
  limits?: LimitsOptions
}

/** Options of {@link open}. */
export interface OpenOptions {
  /** Open without the writer lock (any number of readers may run beside one writer). */
  readOnly?: boolean
}

/** Options of {@link Collection.upsert}. */
export interface UpsertOptions {
  /**
   * Records per atomic, durable batch (default 2000). The whole call is validated before the
   * first batch is written, whatever the batch size.
   */
  batchSize?: number
  /** Stops between batches with `ERR_ABORTED`; batches already written are kept. */
  signal?: AbortSignal
}

/** Result of an upsert. */
export interface UpsertResult {
  /** Distinct records written (an id given twice in one call counts once). */
  upserted: number
}

/** Result of a delete. */
export interface DeleteResult {
  /** Records that existed and were deleted. */
  deleted: number
}

/**
 * Where a collection's vector index stands. Writes return as soon as they are durable; a
 * background indexer then puts their vectors into the HNSW graph. Vectors it has not reached
 * are searched exactly, so results are always complete, only slower while `pending` is large.
 */
export interface IndexStatus {
  /** Vectors searchable through the graph. */
  indexed: number
  /** Vectors not in the graph yet. */
  pending: number
  /** `'building'` while the indexer works, else `'idle'`. */
  state: 'idle' | 'building'
  /** Estimated seconds until `pending` reaches 0 (while building, once a rate is known). */
  etaSeconds?: number
}

/** Options of {@link Collection.waitForIndex}. */
export interface WaitForIndexOptions {
  /** Stops waiting with `ERR_ABORTED`; the indexing done so far stays. */
  signal?: AbortSignal
  /** Called with the index status about every 250 ms while waiting. */
  onProgress?: (status: IndexStatus) => void
}

/** Counts, sizes and configuration of a collection. */
export interface CollectionStats {
  /** Collection name. */
  name: string
  /** Live records. */
  count: number
  /** Deleted records awaiting {@link Collection.compact}. */
  deleted: number
  /** Vector dimension, once known. */
  dimension: number | null
  /** Distance metric. */
  metric: Metric
  /** Vectors searchable through the HNSW graph. */
  indexedVectors: number
  /** Vectors not yet in the graph (searched exactly until the background indexer reaches them). */
  pendingVectors: number
  /** The vector index as the background indexer leaves it (see {@link Collection.waitForIndex}). */
  index: IndexStatus
  /** Vectors with an 8-bit code (`quantization: 'sq8'` once trained; absent otherwise). */
  quantizedVectors?: number
  /** Documents in the BM25 index. */
  textDocs: number
  /** Distinct terms in the BM25 index. */
  terms: number
  /** Bytes on disk. */
  diskBytes: number
  /** Checkpoint generation. */
  generation: number
  /** SIMD kernels in use (`avx2+fma`, `avx512f`, `neon` or `scalar`). */
  simd: string
  /** Opened read-only. */
  readOnly: boolean
  /** Chunk records (chunked collections only; `count` counts their parents). */
  chunks?: number
  /** The configuration. */
  config: Required<Omit<CollectionOptions, 'dimension' | 'embedder' | 'chunking' | 'limits'>> & {
    /** The caps in force, every field filled in. */
    limits: Required<LimitsOptions>
    /** Vector dimension, once known. */
    dimension: number | null
    /** Chunking on upsert, when configured. */
    chunking?: Required<ChunkingOptions>
    /** How the embedder is re-created on open (kind, path or model; never a key). */
    embedder: Record<string, unknown> | null
  }
}
