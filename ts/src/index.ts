/**
 * hektor: local, offline retrieval for Node.js. Vector (HNSW and exact), BM25 and hybrid
 * search over on-disk collections, with a Rust core. Every call is async and runs off the
 * JavaScript thread.
 *
 * @example
 * ```ts
 * import { open } from 'hektor'
 * const db = await open('./kb')
 * const col = await db.createCollection('docs', { dimension: 3 })
 * await col.upsert([{ id: 'a', text: 'hello world', vector: [1, 0, 0], metadata: { lang: 'en' } }])
 * const hits = await col.search({ text: 'hello', vector: [1, 0, 0], k: 5 })
 * await db.close()
 * ```
 * @packageDocumentation
 */
export { Collection } from './collection'
export { Database, open } from './database'
export type { OpenCollectionOptions } from './database'
export { Source, sources } from './sources'
export { checkGrounding, chunkText, Embedder, embedders, Generator, generators, Reranker, rerankers } from './rag'
export type * from './rag'
export type * from './sources'
export { ERROR_CODES, HektorError } from './errors'
export type { ErrorCode, ErrorLocation } from './errors'
export type * from './types'
export type * from './reports'
export { version } from './version'
export type { VersionInfo } from './version'
