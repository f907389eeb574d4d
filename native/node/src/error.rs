//! Engine errors -> JavaScript errors.
//!
//! The JS error's message is a marker followed by JSON carrying the stable code, the
//! human message, the location and the cause chain; the TypeScript SDK turns that
//! into a `HektorError` with `code`, `location` and a real `cause` chain.

use hektor_core::{Error, ErrorCode};
use napi::Status;

/// Prefix of a structured message; the SDK strips it.
pub const MARKER: &str = "\u{1}hektor:";

/// Converts an engine error. napi-rs only rejects promises with its own status
/// codes, so the stable `ERR_*` code travels in the JSON body with the message,
/// location and causes; the SDK rebuilds a `HektorError` from it.
pub fn to_js(e: Error) -> napi::Error {
    let body = serde_json::json!({
        "code": e.code().as_str(),
        "message": e.message(),
        "location": e.location(),
        "causes": e.causes(),
    });
    napi::Error::new(Status::GenericFailure, format!("{MARKER}{body}"))
}
/// An `ERR_INVALID_ARG` from the binding itself.
pub fn invalid(msg: impl Into<String>) -> napi::Error {
    to_js(Error::new(ErrorCode::InvalidArg, msg))
}

/// Turns a caught panic payload into `ERR_INTERNAL`.
pub fn panic_error(payload: Box<dyn std::any::Any + Send>) -> napi::Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    to_js(Error::internal(format!("internal error (a bug in hektor, please report it): {what}")))
}
