//! Durable storage primitives: the record log, the record encoding and file helpers.

pub mod fsutil;
pub mod log;
pub mod record;

pub use log::{FrameKind, RecordLog};
pub use record::Record;
