/**
 * The generated N-API loader, typed. Private to the SDK: nothing here is exported
 * from the package.
 * @internal
 */
import type * as NativeModule from '../native/index'

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: typeof NativeModule = require('../native/index.js')
export type NativeDatabase = NativeModule.NativeDatabase
export type NativeCollection = NativeModule.NativeCollection
export type NativeEmbedder = NativeModule.NativeEmbedder
export type NativeReranker = NativeModule.NativeReranker
export type NativeGenerator = NativeModule.NativeGenerator
