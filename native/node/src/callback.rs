//! JavaScript callbacks called from worker threads (custom embedders, rerankers,
//! generators). The worker sends `{ id, payload }` through a weak threadsafe function
//! (non-blocking; it never keeps Node alive) and waits on a channel; the SDK's wrapper
//! runs the user's async function and answers with `callbackPush` (streamed pieces),
//! `callbackResolve` or `callbackReject`. The worker stops waiting when the call is
//! cancelled or times out, and later answers to that id are ignored.

use hektor_core::{Cancel, Error, ErrorCode, Result};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A JS function taking one JSON string.
pub type JsFn = ThreadsafeFunction<String, (), String, Status, false, true>;

enum Msg {
    Piece(String),
    Done(std::result::Result<Value, String>),
}

fn pending() -> &'static Mutex<HashMap<u32, SyncSender<Msg>>> {
    static P: OnceLock<Mutex<HashMap<u32, SyncSender<Msg>>>> = OnceLock::new();
    P.get_or_init(|| Mutex::new(HashMap::new()))
}

static NEXT: AtomicU32 = AtomicU32::new(1);

/// Delivers a message; false when nobody waits for `id` any more (finished, aborted, timed out).
fn send(id: u32, m: Msg) -> bool {
    let tx = pending().lock().get(&id).cloned();
    match tx {
        Some(tx) => tx.send(m).is_ok(),
        None => false,
    }
}

/// Answers a pending call with a JSON value.
#[napi]
pub fn callback_resolve(id: u32, value_json: String) {
    let v = serde_json::from_str(&value_json).unwrap_or(Value::Null);
    send(id, Msg::Done(Ok(v)));
}


/// Fails a pending call.
#[napi]
pub fn callback_reject(id: u32, message: String) {
    send(id, Msg::Done(Err(message)));
}

/// Streams a piece of a pending call's result (custom generators). Returns false when the
/// call is no longer awaited, so the caller stops producing.
#[napi]
pub fn callback_push(id: u32, piece: String) -> bool {
    send(id, Msg::Piece(piece))
}

/// A user callback, callable from any thread.
pub struct JsCallback {
    func: JsFn,
    what: &'static str,
}

impl JsCallback {
    /// Wraps a JS function; `what` names it in errors ("custom embedder").
    pub fn new(func: JsFn, what: &'static str) -> Self {
        JsCallback { func, what }
    }

    /// Calls the function with `payload` and waits for its result, forwarding streamed
    /// pieces to `on_piece` (return false from it to stop waiting).
    pub fn call(&self, payload: Value, cancel: Option<&Cancel>, timeout: Duration, on_piece: &mut dyn FnMut(&str) -> bool) -> Result<Value> {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let (tx, rx): (SyncSender<Msg>, Receiver<Msg>) = sync_channel(1024);
        pending().lock().insert(id, tx);
        let _guard = Forget(id);
        let status = self.func.call(json!({ "id": id, "payload": payload }).to_string(), ThreadsafeFunctionCallMode::NonBlocking);
        if status != Status::Ok {
            return Err(Error::new(ErrorCode::Closed, format!("the {} can no longer be called ({status})", self.what)));
        }
        let start = Instant::now();
        loop {
            if cancel.is_some_and(|c| c.is_cancelled()) {
                return Err(Error::new(ErrorCode::Aborted, "the operation was aborted"));
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Msg::Piece(p)) => {
                    if !on_piece(&p) {
                        return Ok(Value::Null);
                    }
                }
                Ok(Msg::Done(Ok(v))) => return Ok(v),
                Ok(Msg::Done(Err(m))) => return Err(Error::new(ErrorCode::Callback, format!("the {} failed: {m}", self.what)).with_cause(m)),
                Err(RecvTimeoutError::Timeout) => {
                    if start.elapsed() > timeout {
                        return Err(Error::new(ErrorCode::Connect, format!("the {} did not answer within {} s", self.what, timeout.as_secs())));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Err(Error::internal("callback channel closed")),
            }
        }
    }
}

/// Removes a pending id when the call ends, however it ends.
struct Forget(u32);

impl Drop for Forget {
    fn drop(&mut self) {
        pending().lock().remove(&self.0);
    }
}
