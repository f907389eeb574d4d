//! Arrow errors and decoder panics as [`AdapterError`]s.

use arrow::error::ArrowError;
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Maps an Arrow error met while reading to an adapter error at `pos`: an unexpected end
/// of file is `ERR_PARSE` ("truncated"), other I/O failures `ERR_IO`, everything else
/// (malformed flatbuffers, bad offsets, failed validation) `ERR_PARSE`.
pub fn from_arrow(e: &ArrowError, context: &str, pos: Position) -> AdapterError {
    match e {
        ArrowError::IoError(_, io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            AdapterError::new(AdapterErrorCode::Parse, format!("{context}: the file is truncated ({e})"), pos)
        }
        ArrowError::IoError(..) => AdapterError::new(AdapterErrorCode::Io, format!("{context}: {e}"), pos),
        _ => AdapterError::new(AdapterErrorCode::Parse, format!("{context}: {e}"), pos),
    }
}

/// Runs `f`, turning a panic inside a decoder (corrupt input the library did not expect)
/// into `ERR_PARSE` at `pos` instead of unwinding into the caller.
pub fn guard<T>(pos: impl FnOnce() -> Position, f: impl FnOnce() -> Result<T, AdapterError>) -> Result<T, AdapterError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown failure".into());
            Err(AdapterError::new(AdapterErrorCode::Parse, format!("corrupt input: the decoder failed ({what})"), pos()))
        }
    }
}
