//! For server sources: each owns a small current-thread tokio runtime and blocks on it
//! from the ingest worker thread.

use crate::{AdapterError, AdapterErrorCode, Position};
use tokio::runtime::{Handle, Runtime};

/// Runs `f` on `rt`, refusing with `ERR_IO` (instead of tokio's panic) when called from
/// inside another async runtime. `name` is the source's (redacted) name for the error.
pub fn block<F: std::future::Future>(rt: &Runtime, name: &str, f: F) -> Result<F::Output, AdapterError> {
    if Handle::try_current().is_ok() {
        return Err(AdapterError::new(
            AdapterErrorCode::Io,
            "server sources block: call them from a plain thread, not from inside an async runtime",
            Position { source: name.to_string(), ..Default::default() },
        ));
    }
    Ok(rt.block_on(f))
}
