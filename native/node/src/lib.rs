//! N-API binding of hektor: a thin layer that decodes arguments, runs engine calls
//! off the JavaScript thread with panics caught, and maps errors to coded JS errors.
//! The public API is the TypeScript SDK in `ts/`; these exports are private to it.
#![deny(clippy::all)]

mod callback;
mod cancel;
mod collection;
mod database;
mod error;
mod ingest;
mod models;
mod rag;
mod report;
mod run;

use napi_derive::napi;

/// Engine version and build facts.
#[napi]
pub fn native_info() -> String {
    serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "simd": hektor_core::vector::distance::simd_level(),
    })
    .to_string()
}

/// Test hook: panics inside a native call, to prove a panic becomes `ERR_INTERNAL`.
#[napi(ts_return_type = "Promise<void>")]
pub fn debug_panic(message: String) -> napi::bindgen_prelude::AsyncTask<run::Job<()>> {
    run::job(move || -> hektor_core::Result<()> { panic!("{message}") })
}
