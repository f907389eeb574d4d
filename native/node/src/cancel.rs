//! Cancellation tokens addressed by number, so async calls can take them as plain
//! arguments. The SDK creates one per call that has an `AbortSignal`, cancels it from
//! the signal's `abort` event and releases it when the call settles.

use hektor_core::Cancel;
use napi_derive::napi;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

static NEXT: AtomicU32 = AtomicU32::new(1);

fn registry() -> &'static Mutex<HashMap<u32, Cancel>> {
    static R: OnceLock<Mutex<HashMap<u32, Cancel>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Creates a token; returns its id.
#[napi]
pub fn cancel_token_create() -> u32 {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    registry().lock().insert(id, Cancel::new());
    id
}

/// Cancels a token (no-op for unknown ids).
#[napi]
pub fn cancel_token_cancel(id: u32) {
    if let Some(c) = registry().lock().get(&id) {
        c.cancel();
    }
}

/// Forgets a token.
#[napi]
pub fn cancel_token_release(id: u32) {
    registry().lock().remove(&id);
}

/// The token for `id` (a fresh, never-cancelled one for `None` or unknown ids).
pub fn get(id: Option<u32>) -> Cancel {
    id.and_then(|id| registry().lock().get(&id).cloned()).unwrap_or_default()
}
