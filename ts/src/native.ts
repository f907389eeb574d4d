/**
 * The generated N-API loader, typed. Private to the SDK: nothing here is exported
 * from the package.
 * @internal
 */
import type * as NativeModule from '../native/index'

/** The npm package that carries the native binary for this platform. */
export function expectedBinaryPackage(): string {
  const { platform, arch } = process
  let abi = ''
  if (platform === 'linux') {
    const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined
    abi = report?.header?.glibcVersionRuntime ? '-gnu' : '-musl'
  } else if (platform === 'win32') {
    abi = '-msvc'
  }
  return `hektor-${platform}-${arch}${abi}`
}

function load(): typeof NativeModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../native/index.js') as typeof NativeModule
  } catch (e) {
    const pkg = expectedBinaryPackage()
    const err = new Error(
      `hektor: no native binary for ${process.platform}-${process.arch} (Node ${process.versions.node}). ` +
        `It comes in the optional dependency '${pkg}'; reinstall with optional dependencies enabled ` +
        `(npm install --include=optional), and make sure your lockfile was not created on another platform. ` +
        `Supported: linux x64/arm64 (glibc), linux x64 (musl), macOS x64/arm64, Windows x64.`,
      { cause: e },
    ) as Error & { code: string }
    err.code = 'ERR_NATIVE_BINDING'
    throw err
  }
}

export const native: typeof NativeModule = load()
export type NativeDatabase = NativeModule.NativeDatabase
export type NativeCollection = NativeModule.NativeCollection
export type NativeEmbedder = NativeModule.NativeEmbedder
export type NativeReranker = NativeModule.NativeReranker
export type NativeGenerator = NativeModule.NativeGenerator
