/**
 * Reports of {@link Database.repair} and {@link Database.verify}. The binding defines them
 * (`native/node/src/report.rs`); the interfaces here document them, and a compile-time check
 * keeps the two the same.
 * @packageDocumentation
 */
import type * as NativeModule from '../native/index'

/**
 * A damaged stretch of a collection's record log, as {@link Database.verify} and
 * {@link Database.repair} report it.
 */
export interface DamagedFrame {
  /** Byte offset of the damaged frame in the log file. */
  offset: number
  /** Bytes it spans. */
  bytes: number
  /** The frame's sequence number, when its header was readable. */
  seq?: number
  /** What is wrong with it (`checksum mismatch`, `bad frame header`, ...). */
  reason: string
}

/** What {@link Database.repair} did. */
export interface RepairReport {
  /** Live records after the repair. */
  records: number
  /** Live records the collection served before, when it could be opened at all. */
  recordsBefore?: number
  /** Damaged log frames that were dropped (the log is rewritten without them). */
  droppedFrames: DamagedFrame[]
  /** Records of those frames recovered through the checkpoint's per-record checksums. */
  recovered: number
  /** Ids of records served before and not after (with `acceptLoss`; the first 100). */
  lostIds: string[]
  /** Records lost in all. */
  lost: number
  /** Bytes of an interrupted, never acknowledged write cut off the end of the log. */
  tornBytes: number
}

/** A record whose stored bytes or vector row fail their checksum. */
export interface DamagedRecord {
  /** The record id. */
  id: string
  /** `'record'` (its bytes in the log) or `'vector'` (its vector row). */
  part: string
  /** The error a read of it gives. */
  message: string
}

/** What {@link Database.verify} found (both lists empty when all is well). */
export interface VerifyReport {
  /** Live records checked (chunks included). */
  records: number
  /** Vector rows checked. */
  vectors: number
  /** Valid log frames read. */
  frames: number
  /** Records whose bytes or vector row are damaged. */
  damaged: DamagedRecord[]
  /** Damaged log frames. */
  damagedFrames: DamagedFrame[]
}

// The shapes above are the binding's (native/node/src/report.rs, generated into
// ts/native/index.d.ts): these checks fail the build if the two ever differ.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const sameShapes: [
  Same<DamagedFrame, NativeModule.NativeDamagedFrame>,
  Same<RepairReport, NativeModule.NativeRepairReport>,
  Same<DamagedRecord, NativeModule.NativeDamagedRecord>,
  Same<VerifyReport, NativeModule.NativeVerifyReport>,
] = [true, true, true, true]
void sameShapes
