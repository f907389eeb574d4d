//! # hektor-models
//!
//! The model-backed stages of hektor's answer pipeline, behind the traits of
//! [`hektor_core::rag::models`]:
//!
//! | stage | in-process (pure Rust) | over HTTP (OpenAI-compatible) |
//! | --- | --- | --- |
//! | [`Embedder`](hektor_core::rag::models::Embedder) | [`BertEmbedder`]: a sentence-transformers folder (BERT family) | [`OpenAiEmbedder`] |
//! | [`CrossEncoder`](hektor_core::rag::models::CrossEncoder) | [`BertCrossEncoder`]: a BERT sequence-classification folder | (none: rerank with a JS callback) |
//! | [`Generator`](hektor_core::rag::models::Generator) | [`GgufChat`]: a quantized llama-family GGUF chat model | [`OpenAiChat`] |
//!
//! Nothing is downloaded: a local model is a folder or file the caller points at. The
//! HTTP clients speak to Ollama, the llama.cpp server, vLLM or OpenAI. Every failure is a
//! [`hektor_core::Error`] with a stable code: `ERR_NOT_FOUND` (missing model file),
//! `ERR_PARSE` (unreadable model, config or server reply), `ERR_INVALID_ARG` (bad
//! options), `ERR_CONNECT` (unreachable server, timeout, 429/5xx), `ERR_AUTH` (401/403),
//! `ERR_ABORTED`, `ERR_IO`. No message ever contains an API key.
//!
//! ```no_run
//! use hektor_core::rag::models::{Embedder, GenerateOptions, Generator};
//! use hektor_core::rag::prompt::Message;
//! use hektor_models::{BertEmbedder, BertOptions, GgufChat, GgufOptions};
//! use std::path::Path;
//!
//! let embedder = BertEmbedder::load(Path::new("models/all-MiniLM-L6-v2"), BertOptions::default())?;
//! let vectors = embedder.embed(&["a short sentence", "another one"])?;
//! assert_eq!(vectors[0].len(), embedder.dimension().unwrap_or(0));
//!
//! let chat = GgufChat::load(Path::new("models/SmolLM2-135M-Instruct.Q4_1.gguf"), GgufOptions::default())?;
//! let messages = [Message { role: "user".into(), content: "What is the capital of France?".into() }];
//! let opts = GenerateOptions { temperature: 0.0, max_tokens: 32, ..Default::default() };
//! let answer = chat.generate(&messages, &opts, &mut |piece| { print!("{piece}"); true })?;
//! println!("\n{} tokens ({})", answer.completion_tokens.unwrap_or(0), answer.finish_reason);
//! # Ok::<(), hektor_core::Error>(())
//! ```
//!
//! ## Threads and precision
//! Embedding and cross-encoding run their matrix products on rayon's global pool (one
//! thread per core), or on a pool of the embedder's own ([`BertOptions::threads`]). The
//! embedder's dense layers can run in int8 on CPUs with AVX-512 VNNI
//! ([`BertOptions::precision`], [`Precision::Int8`]; about twice the f32 speed, cosine >=
//! 0.995 to the f32 vectors), picked at run time, f32 elsewhere. GGUF generation runs on hektor's own engine
//! ([`llm`]: quantized weights, 8-bit integer kernels, a thread pool of the model's own,
//! [`GgufOptions::threads`]; candle only reads the GGUF container).
#![warn(missing_docs)]
// hektor_core::Error (code, message, location, causes) is the project-wide error type.
#![allow(clippy::result_large_err)]

mod bert;
mod cross;
mod encoder;
mod gguf;
mod gguf_tokenizer;
mod int8;
mod lazy;
pub mod llm;
mod openai;
mod stream;
mod template;

pub use bert::{BertEmbedder, BertOptions, Pooling, Precision};
pub use cross::{BertCrossEncoder, CrossEncoderOptions};
pub use gguf::{GenerationStats, GgufChat, GgufOptions};
pub use lazy::Lazy;
pub use openai::{OpenAiChat, OpenAiEmbedder};

use hektor_core::{Error, ErrorCode, Result};
use std::path::Path;

/// Wraps a candle error as `code` with `context` (what was being done).
pub(crate) fn candle_err(code: ErrorCode, context: impl std::fmt::Display) -> impl FnOnce(candle_core::Error) -> Error {
    move |e| Error::new(code, format!("{context}: {e}"))
}

/// Maps an inference failure (a bug or resource problem, not bad input) to ERR_INTERNAL.
pub(crate) fn infer_err(e: candle_core::Error) -> Error {
    Error::internal(format!("model inference failed: {e}"))
}

/// Reads a file that must exist: ERR_NOT_FOUND when absent, ERR_IO otherwise.
pub(crate) fn read_required(path: &Path, what: &str) -> Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::new(ErrorCode::NotFound, format!("{what} not found: {}", path.display())).with_source(path.display().to_string()))
        }
        Err(e) => Err(Error::io(e, format!("reading {what} {}", path.display())).with_source(path.display().to_string())),
    }
}

/// Reads and parses a JSON file that must exist.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let bytes = read_required(path, what)?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::new(ErrorCode::Parse, format!("{what} {} is not valid: {e}", path.display())).with_source(path.display().to_string())
    })
}

/// Reads and parses an optional JSON file: `Ok(None)` when it does not exist.
pub(crate) fn read_json_opt<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<Option<T>> {
    if !path.exists() {
        return Ok(None);
    }
    read_json(path, what).map(Some)
}

/// Checks that `dir` is an existing directory (ERR_NOT_FOUND otherwise).
pub(crate) fn require_dir(dir: &Path, what: &str) -> Result<()> {
    if dir.is_dir() {
        Ok(())
    } else if dir.exists() {
        Err(Error::invalid(format!("{what} must be a folder: {}", dir.display())))
    } else {
        Err(Error::new(ErrorCode::NotFound, format!("{what} not found: {}", dir.display())).with_source(dir.display().to_string()))
    }
}

/// Truncates `s` to at most `max` characters (on a char boundary), adding `...` when cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
