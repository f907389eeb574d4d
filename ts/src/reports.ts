/**
 * Reports of {@link Database.repair} and {@link Database.verify}. Their shapes are generated
 * from the engine's definitions (`native/node/src/report.rs`), so they cannot drift.
 * @packageDocumentation
 */
import type * as NativeModule from '../native/index'

/**
 * A damaged stretch of a collection's record log: `offset` and `bytes` in the log file,
 * the frame's sequence number `seq` when its header was readable, and the `reason`.
 */
export type DamagedFrame = NativeModule.NativeDamagedFrame

/**
 * What {@link Database.repair} did: `records` after (and `recordsBefore`, when the
 * collection opened at all); the `droppedFrames` of the log, the records of those frames
 * `recovered` through the checkpoint's per-record checksums, and, with `acceptLoss`, the
 * number of records `lost` with the first 100 `lostIds`; `tornBytes` of an interrupted,
 * never acknowledged write cut off the log.
 */
export type RepairReport = NativeModule.NativeRepairReport

/** A record whose bytes (`part: 'record'`) or vector row (`part: 'vector'`) fail their checksum. */
export type DamagedRecord = NativeModule.NativeDamagedRecord

/**
 * What {@link Database.verify} found: how many `records`, `vectors` and log `frames` were
 * checked, and every `damaged` record and `damagedFrames` entry (both empty when all is well).
 */
export type VerifyReport = NativeModule.NativeVerifyReport
