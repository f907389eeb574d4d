/** Package version and native build facts. */
import { native } from './native'

/** Versions and build facts, from {@link version}. */
export interface VersionInfo {
  /** The SDK (npm package) version. */
  sdk: string
  /** The native engine's version. */
  native: string
  /** The SIMD kernels picked at run time (`avx512f`, `avx2+fma`, `neon`, `scalar`). */
  simd: string
}

/** The SDK version, the native engine's version and its SIMD kernels. */
export function version(): VersionInfo {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('../../package.json') as { version: string }
  const info = JSON.parse(native.nativeInfo()) as { version: string; simd: string }
  return { sdk: pkg.version, native: info.version, simd: info.simd }
}
