/**
 * A bound on the result conversion a collection's reads leave to the JavaScript thread.
 *
 * Engine work runs on libuv's thread pool, but each result is converted on the JavaScript
 * thread (a JSON string parsed, vectors copied into `Float32Array`s), and libuv hands every
 * finished work item to JavaScript in one pass of the event loop. Ten thousand concurrent
 * searches with `k: 100` and vectors selected therefore finished faster than the thread
 * could convert them, piled up, and were converted in one pass that stalled the event loop
 * for seconds while every result string was held at once.
 *
 * Each read is weighed by the size of what it returns (hits or records, times
 * {@link VECTOR_WEIGHT} when vectors are selected) and reads wait here, in call order, while
 * the weight in flight would exceed {@link CAPACITY}: a pass of the event loop then converts
 * a bounded amount, timers and I/O run between passes, and memory holds a bounded amount of
 * unconverted results. Cheap reads (`k: 10`, no vectors) are effectively never held back; a
 * read heavier than the whole capacity runs alone.
 * @packageDocumentation
 * @internal
 */
import { abortedError } from './errors'

/** Weight of one hit or record with its vector, relative to one without (a vector of a few hundred numbers). @internal */
export const VECTOR_WEIGHT = 50

/**
 * Weight allowed in flight per collection: sixteen searches of `k: 100` with vectors, a
 * few thousand cheap ones, or a `get` of 1,600 records with vectors. @internal
 */
export const CAPACITY = 16 * 100 * VECTOR_WEIGHT

/** The weight of a read returning `items` hits or records, with or without vectors. @internal */
export function readWeight(items: number, vectors: boolean): number {
  return Math.max(1, items) * (vectors ? VECTOR_WEIGHT : 1)
}

interface Waiter {
  weight: number
  go: () => void
}

/** A FIFO gate admitting calls while their total weight stays within {@link CAPACITY}. @internal */
export class Limiter {
  #used = 0
  readonly #waiting: Waiter[] = []

  /**
   * Runs `f` once the weight in flight leaves room for `weight` (or nothing runs), after
   * the calls that came before it. A call still waiting when `signal` fires rejects with
   * `ERR_ABORTED` without starting.
   */
  async run<T>(weight: number, f: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#waiting.length === 0 && this.#fits(weight)) this.#used += weight
    else await this.#turn(weight, signal)
    try {
      return await f()
    } finally {
      this.#used -= weight
      this.#admit()
    }
  }

  #fits(weight: number): boolean {
    return this.#used === 0 || this.#used + weight <= CAPACITY
  }

  /** Waits until {@link #admit} starts this call (its weight then counts as in flight). */
  #turn(weight: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortedError(signal))
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(waiter)
        if (i >= 0) this.#waiting.splice(i, 1)
        reject(abortedError(signal))
        // the head may have been waiting behind this one
        this.#admit()
      }
      const waiter: Waiter = {
        weight,
        go: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push(waiter)
    })
  }

  /** Starts waiting calls, in order, while they fit. */
  #admit(): void {
    while (this.#waiting.length > 0 && this.#fits(this.#waiting[0].weight)) {
      const w = this.#waiting.shift() as Waiter
      this.#used += w.weight
      w.go()
    }
  }
}
