/**
 * AbortSignal support: a native cancellation token per call, cancelled from the
 * signal's `abort` event and released when the call settles (so no listener or
 * handle outlives the call).
 * @internal
 */
import { abortedError, call } from './errors'
import { native } from './native'

/** Throws `ERR_ABORTED` if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal)
}

/** Runs `fn` with a native cancellation token id bound to `signal` (undefined without one). */
export async function withCancel<T>(signal: AbortSignal | undefined, fn: (cancelId: number | undefined) => Promise<T>): Promise<T> {
  if (!signal) return call(() => fn(undefined))
  throwIfAborted(signal)
  const id = native.cancelTokenCreate()
  const onAbort = (): void => native.cancelTokenCancel(id)
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await call(() => fn(id))
  } catch (e) {
    // the engine stopped because of this signal: report it with the signal's reason
    if (signal.aborted && (e as { code?: unknown }).code === 'ERR_ABORTED') throw abortedError(signal)
    throw e
  } finally {
    signal.removeEventListener('abort', onAbort)
    native.cancelTokenRelease(id)
  }
}
