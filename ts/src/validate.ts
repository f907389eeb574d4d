/**
 * Checks on values on their way into the engine, so that nothing is stored other than
 * what was given:
 *
 * - strings must be well-formed UTF-16. An unpaired surrogate (`'\ud800'`, `'\udfff'`)
 *   has no UTF-8 form: it would become U+FFFD in Rust, so `'\ud800'` and `'\ufffd'` would
 *   be the same id. Such strings are refused with `ERR_INVALID_ARG`.
 * - values sent as JSON (metadata, filters, options) must be JSON: finite numbers (no
 *   `NaN`, `Infinity`, which `JSON.stringify` turns into `null`), no `BigInt`, no cycles,
 *   no functions or symbols, plain objects and arrays only (a `Map` would become `{}`),
 *   and bounded nesting.
 *
 * Every failure is a {@link HektorError} naming the row (when there is one) and the field
 * or path.
 * @packageDocumentation
 * @internal
 */
import { HektorError, invalidArg, type ErrorCode, type ErrorLocation } from './errors'

/** An unpaired high surrogate, or a low surrogate without a high one before it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

const nativeWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed

/**
 * True when `s` is well-formed UTF-16 (no unpaired surrogate): `String.prototype.isWellFormed`
 * where the runtime has it (Node >= 20), a regular expression on Node 18.
 * @internal
 */
export function isWellFormed(s: string): boolean {
  return nativeWellFormed ? nativeWellFormed.call(s) : !LONE_SURROGATE.test(s)
}

/** Index of the first unpaired surrogate of `s`, or -1. */
function loneSurrogateAt(s: string): number {
  return LONE_SURROGATE.exec(s)?.index ?? -1
}

/** What is wrong with a string that has an unpaired surrogate. */
function surrogateProblem(s: string): string {
  const i = loneSurrogateAt(s)
  const unit = s.charCodeAt(i).toString(16)
  return `contains an unpaired UTF-16 surrogate (\\u${unit} at index ${i}), which has no UTF-8 form and would be stored as U+FFFD; use well-formed text (String.prototype.toWellFormed() replaces it explicitly)`
}

/**
 * Throws `ERR_INVALID_ARG` (with `location`) unless `s` is well-formed UTF-16.
 * @param what - how the message names the string, e.g. `record 3: id`
 * @internal
 */
export function checkString(s: string, what: string, location?: ErrorLocation): void {
  if (!isWellFormed(s)) throw invalidArg(`${what} ${surrogateProblem(s)}`, location)
}

/** Rules for {@link checkJson}. @internal */
export interface JsonRules {
  /** How messages name the value, e.g. `metadata`, `filter`, `search options`. */
  what: string
  /** The row (record number) errors report, if any. */
  row?: number
  /** The field the value sits in; paths inside it are appended with dots (`metadata.a.0`). */
  field?: string
  /** Deepest nesting accepted: the value itself, if an object or array, is depth 1. */
  maxDepth: number
  /** The code of a too-deep value (`ERR_LIMIT` for data, `ERR_INVALID_ARG` for filters). */
  depthCode: ErrorCode
}

/** Deepest nesting of option objects and filters the SDK sends (the engine's filter limit is lower). */
export const MAX_OPTIONS_DEPTH = 100

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function kindOf(v: object): string {
  const ctor = (v as { constructor?: { name?: unknown } }).constructor
  return typeof ctor?.name === 'string' && ctor.name ? `a ${ctor.name}` : 'an object that is not plain'
}

/**
 * The common case, without allocating: true when `v` holds only well-formed strings, finite
 * numbers, booleans, `null`, `undefined`, arrays and plain objects, nested at most `maxDepth`
 * deep. False sends the value through the walk that names the problem (or accepts a
 * `toJSON` object such as a `Date`); a cycle ends here at the depth bound. May throw (a
 * getter, the stack): {@link checkJson} calls it guarded.
 * @internal
 */
export function simpleJson(v: unknown, depth: number, maxDepth: number): boolean {
  switch (typeof v) {
    case 'string':
      return isWellFormed(v)
    case 'number':
      return Number.isFinite(v)
    case 'boolean':
    case 'undefined':
      return true
    case 'object': {
      if (v === null) return true
      if (depth > maxDepth) return false
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!simpleJson(v[i], depth + 1, maxDepth)) return false
        return true
      }
      if (!isPlain(v) || typeof (v as { toJSON?: unknown }).toJSON === 'function') return false
      const keys = Object.keys(v)
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]
        if (!isWellFormed(k) || !simpleJson((v as Record<string, unknown>)[k], depth + 1, maxDepth)) return false
      }
      return true
    }
    default:
      return false
  }
}

/**
 * Checks that `value` is a JSON value `JSON.stringify` serialises without loss (see the
 * module docs); throws a {@link HektorError} naming the row and path otherwise. `undefined`
 * object properties are allowed (they are left out, as JSON does); objects with a `toJSON`
 * method (a `Date`) are checked as what it returns.
 * @internal
 */
export function checkJson(value: unknown, rules: JsonRules): void {
  try {
    if (simpleJson(value, 1, rules.maxDepth)) return
  } catch {
    // a getter threw, or the stack ran out: the walk below reports it
  }
  const path: (string | number)[] = []
  let ancestors: Set<object> | undefined
  const fail = (code: ErrorCode, problem: string): never => {
    const field = [rules.field, ...path].filter((p) => p !== undefined && p !== '').join('.')
    const where = field ? `'${field}'` : rules.what
    const prefix = rules.row !== undefined ? `record ${rules.row}: ` : ''
    const location: ErrorLocation = {}
    if (rules.row !== undefined) location.row = rules.row
    if (field) location.field = field
    throw new HektorError(code, `${prefix}${rules.what}: ${where} ${problem}`, { location })
  }
  const walk = (v: unknown, depth: number): void => {
    switch (typeof v) {
      case 'string':
        if (!isWellFormed(v)) fail('ERR_INVALID_ARG', surrogateProblem(v))
        return
      case 'number':
        if (!Number.isFinite(v)) fail('ERR_INVALID_ARG', `is ${v}, which JSON cannot hold (it would become null); use a finite number or null`)
        return
      case 'boolean':
      case 'undefined':
        return
      case 'bigint':
        fail('ERR_INVALID_ARG', 'is a BigInt, which JSON cannot hold; convert it with Number() or String()')
        return
      case 'function':
      case 'symbol':
        fail('ERR_INVALID_ARG', `is a ${typeof v}, which JSON cannot hold (it would be dropped)`)
        return
    }
    if (v === null) return
    const obj = v as object
    ancestors ??= new Set()
    if (ancestors.has(obj)) fail('ERR_INVALID_ARG', 'refers back to an object that contains it (a cycle), which JSON cannot hold')
    const toJSON = (obj as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function' && !Array.isArray(obj)) {
      ancestors.add(obj)
      walk((toJSON as (this: object) => unknown).call(obj), depth)
      ancestors.delete(obj)
      return
    }
    if (depth > rules.maxDepth) fail(rules.depthCode, `is nested more than ${rules.maxDepth} levels deep`)
    ancestors.add(obj)
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        path.push(i)
        const x: unknown = obj[i]
        // JSON writes undefined array items (and holes) as null: that is not a loss of data
        if (x !== undefined) walk(x, depth + 1)
        path.pop()
      }
    } else {
      if (!isPlain(obj)) fail('ERR_INVALID_ARG', `is ${kindOf(obj)}, not a plain object or array (JSON would not keep its contents)`)
      for (const k of Object.keys(obj)) {
        if (!isWellFormed(k)) {
          path.push(JSON.stringify(k))
          fail('ERR_INVALID_ARG', `(a key) ${surrogateProblem(k)}`)
        }
        path.push(k)
        walk((obj as Record<string, unknown>)[k], depth + 1)
        path.pop()
      }
    }
    ancestors.delete(obj)
  }
  try {
    walk(value, 1)
  } catch (e) {
    if (e instanceof HektorError) throw e
    // a getter or toJSON threw, or the stack ran out
    throw new HektorError('ERR_INVALID_ARG', `${rules.row !== undefined ? `record ${rules.row}: ` : ''}${rules.what} could not be read: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e,
      location: { ...(rules.row !== undefined ? { row: rules.row } : {}), ...(rules.field ? { field: rules.field } : {}) },
    })
  }
}

/**
 * {@link checkJson} then `JSON.stringify`: the JSON text of a value that is known to
 * survive the trip.
 * @internal
 */
export function toJson(value: unknown, rules: JsonRules): string {
  checkJson(value, rules)
  return JSON.stringify(value)
}

/**
 * JSON text of an options object or filter (nesting up to {@link MAX_OPTIONS_DEPTH}; deeper
 * is `ERR_INVALID_ARG`).
 * @internal
 */
export function optionsJson(value: unknown, what: string, field?: string): string {
  return toJson(value, { what, field, maxDepth: MAX_OPTIONS_DEPTH, depthCode: 'ERR_INVALID_ARG' })
}

/**
 * An options argument: `undefined` becomes `{}`; anything but a plain object (including
 * `null`) is `ERR_INVALID_ARG`.
 * @internal
 */
export function optionsObject<T extends object>(options: T | undefined | null, what: string): T {
  if (options === undefined) return {} as T
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArg(`${what}: options must be an object${options === null ? ', not null (leave it out for the defaults)' : ''}`)
  }
  return options
}

/**
 * Checks an optional numeric option `name` of `what`: absent, or a finite number (`NaN`, `Infinity`, `null`
 * and non-numbers are `ERR_INVALID_ARG` rather than silently the default).
 * @internal
 */
export function checkNumberOption(value: unknown, name: string, what: string): void {
  if (value === undefined) return
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    const got = typeof value === 'number' ? String(value) : value === null ? 'null' : `a ${typeof value}`
    throw invalidArg(`${what}: ${name} must be a finite number, got ${got}`, { field: name })
  }
}
