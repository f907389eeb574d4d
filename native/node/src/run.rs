//! Running engine calls off the JavaScript thread, with panics caught.

use crate::error::{panic_error, to_js, JsResult};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs blocking engine work on tokio's blocking pool; a panic becomes `ERR_INTERNAL`.
pub async fn blocking<T, F>(f: F) -> JsResult<T>
where
    F: FnOnce() -> hektor_core::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(move || catch_unwind(AssertUnwindSafe(f))).await {
        Ok(Ok(r)) => r.map_err(to_js),
        Ok(Err(payload)) => Err(panic_error(payload)),
        Err(join) => Err(to_js(hektor_core::Error::internal(format!("task failed: {join}")))),
    }
}

/// Parses a JSON argument, naming it in the error.
pub fn parse_json(what: &str, s: &str) -> JsResult<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| crate::error::invalid(format!("{what} is not valid JSON: {e}")))
}
