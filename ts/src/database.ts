/**
 * {@link open} and {@link Database}: a directory of collections.
 * @packageDocumentation
 */
import { Collection } from './collection'
import { call, invalidArg } from './errors'
import { native, type NativeDatabase } from './native'
import { Embedder, restoreEmbedder } from './rag'
import type { RepairReport, VerifyReport } from './reports'
import type { CollectionOptions, OpenOptions } from './types'
import { checkString, optionsJson, optionsObject } from './validate'

const CONFIG_KEYS = new Set(['dimension', 'metric', 'hnsw', 'quantization', 'analyzer', 'bm25', 'embedder', 'chunking', 'limits'])

/** Options of {@link Database.collection}. */
export interface OpenCollectionOptions {
  /**
   * The embedder to attach. Needed for collections made with a custom embedder (or an
   * OpenAI-compatible one without `OPENAI_API_KEY` in the environment); a local embedder
   * is re-attached from its path automatically.
   */
  embedder?: Embedder
}

/**
 * A database: a directory holding one subdirectory per collection. Open it with {@link open}.
 * One process at a time may open a database for writing; read-only opens work beside it.
 */
export class Database {
  readonly #native: NativeDatabase

  /** @internal */
  constructor(native: NativeDatabase) {
    this.#native = native
  }

  /** The database directory. */
  get path(): string {
    return this.#native.path
  }

  /** True when opened with `readOnly: true`. */
  get readOnly(): boolean {
    return this.#native.readOnly
  }

  /**
   * Creates a collection. Rejects with `ERR_EXISTS` if one of that name exists.
   * @param name - 1-64 characters of letters, digits, `_`, `-`, `.` (not starting with `.`)
   */
  async createCollection(name: string, options: CollectionOptions = {}): Promise<Collection> {
    if (typeof name !== 'string') throw invalidArg('collection name must be a string')
    if (options === null || typeof options !== 'object') throw invalidArg('collection options must be an object')
    for (const k of Object.keys(options)) {
      if (!CONFIG_KEYS.has(k)) throw invalidArg(`unknown collection option '${k}'`)
    }
    const { embedder, ...config } = options
    if (embedder !== undefined && !(embedder instanceof Embedder)) throw invalidArg('embedder must be made by embedders.*')
    const json = optionsJson(embedder ? { ...config, embedder: embedder.descriptor } : config, 'collection options')
    const col = new Collection(await call(() => this.#native.createCollection(name, json)), this)
    if (embedder) col.setEmbedder(embedder)
    return col
  }

  /** Opens an existing collection. Rejects with `ERR_NOT_FOUND` if there is none of that name. */
  async collection(name: string, options: OpenCollectionOptions = {}): Promise<Collection> {
    if (typeof name !== 'string') throw invalidArg('collection name must be a string')
    options = optionsObject(options, 'collection')
    const col = new Collection(await call(() => this.#native.collection(name)), this)
    if (options.embedder !== undefined) {
      if (!(options.embedder instanceof Embedder)) throw invalidArg('embedder must be made by embedders.*')
      col.setEmbedder(options.embedder)
    } else {
      const descriptor = (await col.stats()).config.embedder
      const restored = descriptor ? restoreEmbedder(descriptor) : null
      if (restored) col.setEmbedder(restored)
    }
    return col
  }

  /** Names of the collections, sorted. */
  async listCollections(): Promise<string[]> {
    return call(() => this.#native.listCollections())
  }

  /** Deletes a collection and its files. Resolves to false if it did not exist. */
  async dropCollection(name: string): Promise<boolean> {
    if (typeof name !== 'string') throw invalidArg('collection name must be a string')
    return call(() => this.#native.dropCollection(name))
  }

  /**
   * Rebuilds a collection's indexes (slot table, metadata, vectors, BM25 index, HNSW graph)
   * from its record log, the source of truth. The new files are written beside the current
   * ones and replace them (one atomic manifest write) only when they hold everything the
   * collection serves now. When the rebuild would lose something (a damaged log frame, a
   * log shorter than its checkpoint, records the log no longer holds), it rejects with
   * `ERR_CORRUPT` naming the frame and changes nothing; with `acceptLoss: true` it keeps
   * what the log still holds, rewrites the log without the damaged frames and reports
   * what was lost. Use it when opening the collection rejects with `ERR_CORRUPT`, or when
   * {@link Database.verify} finds damage. Collection handles opened before are closed;
   * open it again afterwards. `ERR_NOT_FOUND` if there is no such collection.
   * @example
   * ```ts
   * const report = await db.repair('docs')
   * console.log(report.records, report.lost)
   * const docs = await db.collection('docs')
   * ```
   */
  async repair(name: string, options: { acceptLoss?: boolean } = {}): Promise<RepairReport> {
    if (typeof name !== 'string') throw invalidArg('collection name must be a string')
    if (options === null || typeof options !== 'object') throw invalidArg('repair options must be an object')
    if (options.acceptLoss !== undefined && typeof options.acceptLoss !== 'boolean') throw invalidArg('acceptLoss must be a boolean')
    return call(() => this.#native.repair(name, options.acceptLoss === true))
  }

  /**
   * Reads back everything a collection stores and checks it against its checksums: every
   * live record's bytes, every vector row and every log frame. Resolves to a report listing
   * each damaged record and frame (empty lists when all is well); changes nothing. Reads of a
   * damaged record reject with `ERR_CORRUPT` anyway; this finds damage before a read does.
   * @example
   * ```ts
   * const report = await db.verify('docs')
   * if (report.damaged.length || report.damagedFrames.length) await db.repair('docs')
   * ```
   */
  async verify(name: string): Promise<VerifyReport> {
    if (typeof name !== 'string') throw invalidArg('collection name must be a string')
    return call(() => this.#native.verify(name))
  }

  /** Writes a checkpoint of every open collection and releases the writer lock. Idempotent. */
  async close(): Promise<void> {
    await call(() => this.#native.close())
  }
}

/**
 * Opens the database in directory `path`, creating it unless `readOnly` is set.
 * Rejects with `ERR_LOCKED` if another process (or handle) has it open for writing.
 * @example
 * ```ts
 * const db = await open('./kb')
 * const docs = await db.createCollection('docs', { dimension: 384 })
 * ```
 */
export async function open(path: string, options: OpenOptions = {}): Promise<Database> {
  if (typeof path !== 'string' || path.length === 0) throw invalidArg('open: path must be a non-empty string')
  // a path with an unpaired surrogate would reach the file system as a different name
  checkString(path, 'open: path')
  const { readOnly } = optionsObject(options, 'open')
  if (readOnly !== undefined && typeof readOnly !== 'boolean') throw invalidArg('open: readOnly must be a boolean')
  return new Database(await call(() => native.openDatabase(path, readOnly === true)))
}
