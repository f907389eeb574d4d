/**
 * Errors. Every error hektor throws or rejects with is a {@link HektorError} with a
 * stable {@link HektorError.code | code}; test `err.code`, not the message text.
 * @packageDocumentation
 */

/**
 * Every error code, with what it means and what to do. This table is the contract:
 * codes are never renamed.
 */
export const ERROR_CODES = {
  ERR_INVALID_ARG: 'An argument is malformed or out of range (non-string id, NaN in a vector, unknown filter operator, bad option). Fix the call; nothing was changed.',
  ERR_DIMENSION_MISMATCH: "A vector's length differs from the collection's dimension. Use vectors of the collection's dimension (see `stats().dimension`).",
  ERR_PARSE: 'Input data could not be parsed. The error location names the source, row and field.',
  ERR_CONNECT: 'A server could not be reached, timed out, or failed (HTTP 429/5xx). Check the address and that the server runs; retry later.',
  ERR_AUTH: 'A server refused the credentials.',
  ERR_NOT_FOUND: 'The database, collection, model file or folder does not exist. Create it first or check the path.',
  ERR_EXISTS: 'A collection with this name already exists. Open it with `db.collection(name)` or drop it.',
  ERR_LOCKED: 'Another process (or another open handle) holds the database for writing. Close it, or open with `{ readOnly: true }`.',
  ERR_ABORTED: 'The operation was cancelled through its AbortSignal. Work completed before the abort is kept.',
  ERR_IO: 'The operating system reported an I/O error (disk full, permissions). See the cause.',
  ERR_CORRUPT: 'A store file is damaged (torn, truncated or wrong checksum). The error names the file.',
  ERR_VERSION: 'The database or collection was written by a newer version of hektor (its format version is higher than this version reads). Upgrade hektor; nothing was changed (do not run repair on it).',
  ERR_CLOSED: 'The database or collection was closed. Open it again.',
  ERR_READ_ONLY: 'A write was attempted on a database opened with `readOnly: true`.',
  ERR_LIMIT: 'A configured limit was exceeded (batch size, dimension, ...). Split the work or raise the limit.',
  ERR_CALLBACK: 'Your callback (custom embedder, reranker or generator) threw or rejected. The cause holds its error.',
  ERR_INTERNAL: 'A bug in hektor (an invariant broke or a panic was caught). Please report it with the message.',
} as const

/** A stable error code. */
export type ErrorCode = keyof typeof ERROR_CODES

/** Where an error happened, when known. */
export interface ErrorLocation {
  /** A file path, a collection name or a server address (never with credentials). */
  source?: string
  /** 0-based row or record number. */
  row?: number
  /** Byte offset in the input. */
  byte?: number
  /** Field name or dotted path. */
  field?: string
}

/** The error type of hektor. */
export class HektorError extends Error {
  /** Stable code, one of {@link ERROR_CODES}. */
  readonly code: ErrorCode
  /** Where it happened, when known. */
  readonly location?: ErrorLocation

  /**
   * @param code - a stable code
   * @param message - what went wrong
   * @param options - `cause` (an underlying error) and `location`
   */
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; location?: ErrorLocation } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'HektorError'
    this.code = code
    if (options.location && Object.keys(options.location).length > 0) this.location = options.location
  }
}

const MARKER = '\u0001hektor:'

function formatLocation(l: ErrorLocation): string {
  const parts: string[] = []
  if (l.source !== undefined) parts.push(l.source)
  if (l.row !== undefined) parts.push(`row ${l.row}`)
  if (l.byte !== undefined) parts.push(`byte ${l.byte}`)
  if (l.field !== undefined) parts.push(`field '${l.field}'`)
  return parts.join(', ')
}

/**
 * Rebuilds a {@link HektorError} from an error thrown by the native addon.
 * @internal
 */
export function fromNative(err: unknown): HektorError {
  if (err instanceof HektorError) return err
  const msg = err instanceof Error ? err.message : String(err)
  const at = msg.indexOf(MARKER)
  if (at >= 0) {
    try {
      const body = JSON.parse(msg.slice(at + MARKER.length)) as {
        code: ErrorCode
        message: string
        location?: ErrorLocation
        causes?: string[]
      }
      let cause: Error | undefined
      for (const c of [...(body.causes ?? [])].reverse()) cause = new Error(c, cause ? { cause } : undefined)
      const loc = body.location ?? {}
      const where = formatLocation(loc)
      const code = body.code in ERROR_CODES ? body.code : 'ERR_INTERNAL'
      return new HektorError(code, where ? `${body.message} (at ${where})` : body.message, { cause, location: loc })
    } catch {
      // fall through
    }
  }
  return new HektorError('ERR_INTERNAL', msg, { cause: err })
}

/**
 * Runs a native call, converting its synchronous throw (argument checks) or its
 * rejection into a {@link HektorError}.
 * @internal
 */
export async function call<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f()
  } catch (e) {
    throw fromNative(e)
  }
}

/** Runs a synchronous native call, turning its errors into `HektorError`s. @internal */
export function callSync<T>(f: () => T): T {
  try {
    return f()
  } catch (e) {
    throw fromNative(e)
  }
}

/** Shorthand for an `ERR_INVALID_ARG` error. @internal */
export function invalidArg(message: string, location?: ErrorLocation): HektorError {
  return new HektorError('ERR_INVALID_ARG', message, location ? { location } : {})
}

/** The error thrown when an AbortSignal fired. @internal */
export function abortedError(signal?: AbortSignal): HektorError {
  return new HektorError('ERR_ABORTED', 'the operation was aborted', { cause: signal?.reason })
}
