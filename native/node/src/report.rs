//! Typed reports of `repair` and `verify`, crossing to JavaScript as plain objects (the
//! `.d.ts` is generated from these definitions).

use hektor_core::collection::{DamagedRecord, RepairReport, VerifyReport};
use hektor_core::store::log::DamagedFrame;
use napi_derive::napi;

/// A damaged stretch of a record log.
#[napi(object)]
pub struct NativeDamagedFrame {
    /// Byte offset of the damaged frame in the log.
    pub offset: f64,
    /// Bytes it spans.
    pub bytes: f64,
    /// Its sequence number, when its header could be read.
    pub seq: Option<f64>,
    /// What is wrong with it.
    pub reason: String,
}

impl From<DamagedFrame> for NativeDamagedFrame {
    fn from(f: DamagedFrame) -> Self {
        NativeDamagedFrame { offset: f.offset as f64, bytes: f.bytes as f64, seq: f.seq.map(|s| s as f64), reason: f.reason }
    }
}

/// What a repair did.
#[napi(object)]
pub struct NativeRepairReport {
    /// Live records after the repair.
    pub records: u32,
    /// Live records served before, when the collection could be opened at all.
    pub records_before: Option<u32>,
    /// Damaged log frames dropped (only with `acceptLoss`).
    pub dropped_frames: Vec<NativeDamagedFrame>,
    /// Records of damaged frames recovered through the checkpoint's checksums.
    pub recovered: u32,
    /// Ids of records served before and not after (at most 100).
    pub lost_ids: Vec<String>,
    /// Records lost in all.
    pub lost: u32,
    /// Bytes of an interrupted, never acknowledged write cut off the log.
    pub torn_bytes: f64,
}

impl From<RepairReport> for NativeRepairReport {
    fn from(r: RepairReport) -> Self {
        NativeRepairReport {
            records: r.records as u32,
            records_before: r.records_before.map(|n| n as u32),
            dropped_frames: r.dropped_frames.into_iter().map(Into::into).collect(),
            recovered: r.recovered as u32,
            lost_ids: r.lost_ids,
            lost: r.lost as u32,
            torn_bytes: r.torn_bytes as f64,
        }
    }
}

/// A record whose stored bytes or vector row fail their checksum.
#[napi(object)]
pub struct NativeDamagedRecord {
    /// The record id.
    pub id: String,
    /// `"record"` (its bytes in the log) or `"vector"` (its vector row).
    pub part: String,
    /// The error a read of it gives.
    pub message: String,
}

impl From<DamagedRecord> for NativeDamagedRecord {
    fn from(d: DamagedRecord) -> Self {
        NativeDamagedRecord { id: d.id, part: d.part.to_string(), message: d.message }
    }
}

/// What a verification found.
#[napi(object)]
pub struct NativeVerifyReport {
    /// Live records checked (chunks included).
    pub records: u32,
    /// Vector rows checked.
    pub vectors: u32,
    /// Valid log frames read.
    pub frames: u32,
    /// Damaged records.
    pub damaged: Vec<NativeDamagedRecord>,
    /// Damaged log frames.
    pub damaged_frames: Vec<NativeDamagedFrame>,
}

impl From<VerifyReport> for NativeVerifyReport {
    fn from(r: VerifyReport) -> Self {
        NativeVerifyReport {
            records: r.records as u32,
            vectors: r.vectors as u32,
            frames: r.frames as u32,
            damaged: r.damaged.into_iter().map(Into::into).collect(),
            damaged_frames: r.damaged_frames.into_iter().map(Into::into).collect(),
        }
    }
}
