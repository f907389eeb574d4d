/** Package version and native build facts. */
import { native } from './native'

/** The SDK version, the native engine's version and its SIMD kernels. */
export function version(): { sdk: string; native: string; simd: string } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require('../../package.json') as { version: string }
  const info = JSON.parse(native.nativeInfo()) as { version: string; simd: string }
  return { sdk: pkg.version, native: info.version, simd: info.simd }
}
