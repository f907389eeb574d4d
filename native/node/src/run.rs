//! Running engine calls off the JavaScript thread, with panics caught.
//!
//! Every export returns a promise backed by a libuv work item (`napi_create_async_work`):
//! the closure runs on libuv's thread pool and the result is converted on the JS thread.
//! (An earlier version used napi-rs `async fn` + tokio `spawn_blocking`; its two thread
//! hops cost ~110 microseconds of CPU per call, ten times this path.)

use crate::error::{panic_error, to_js};
use napi::bindgen_prelude::{AsyncTask, ToNapiValue, TypeName};
use napi::{Env, Task};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A unit of blocking engine work producing a `T`.
pub struct Job<T> {
    work: Option<Box<dyn FnOnce() -> hektor_core::Result<T> + Send>>,
}

impl<T> Task for Job<T>
where
    T: ToNapiValue + TypeName + Send + 'static,
{
    type Output = T;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<T> {
        let f = self.work.take().ok_or_else(|| to_js(hektor_core::Error::internal("job ran twice")))?;
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => r.map_err(to_js),
            Err(payload) => Err(panic_error(payload)),
        }
    }

    fn resolve(&mut self, _env: Env, output: T) -> napi::Result<T> {
        Ok(output)
    }
}

/// Wraps blocking engine work into a promise-returning task; a panic becomes `ERR_INTERNAL`.
pub fn job<T, F>(f: F) -> AsyncTask<Job<T>>
where
    F: FnOnce() -> hektor_core::Result<T> + Send + 'static,
    T: ToNapiValue + TypeName + Send + 'static,
{
    AsyncTask::new(Job { work: Some(Box::new(f)) })
}

/// Parses a JSON argument, naming it in the error.
pub fn parse_json(what: &str, s: &str) -> napi::Result<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| crate::error::invalid(format!("{what} is not valid JSON: {e}")))
}
