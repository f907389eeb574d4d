//! Model-backed stages as JS handles: in-process models (loaded on first use, on a
//! worker thread) and OpenAI-compatible HTTP clients. Options arrive as JSON in the
//! SDK's camelCase names.

use crate::error::{invalid, to_js};
use crate::rag::{NativeEmbedder, NativeGenerator, NativeReranker};
use crate::run::parse_json;
use hektor_core::rag::ask::Rerank;
use hektor_core::Error;
use hektor_models::{
    BertCrossEncoder, BertEmbedder, BertOptions, CrossEncoderOptions, GgufChat, GgufOptions, Lazy, OpenAiChat, OpenAiEmbedder, Pooling, Precision,
};
use napi_derive::napi;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

fn options<T: DeserializeOwned>(what: &str, json: &str) -> napi::Result<T> {
    serde_json::from_value(parse_json(what, json)?).map_err(|e| invalid(format!("invalid {what}: {e}")))
}

/// A model path as given, checked to exist now so that a typo fails at once.
fn existing(path: &str, what: &str) -> napi::Result<PathBuf> {
    let p = PathBuf::from(path);
    if p.exists() {
        Ok(p)
    } else {
        Err(to_js(Error::new(hektor_core::ErrorCode::NotFound, format!("{what} not found: {path}")).with_source(path.to_string())))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LocalEmbedderJson {
    path: String,
    max_length: Option<usize>,
    batch_size: Option<usize>,
    normalize: Option<bool>,
    pooling: Option<String>,
    threads: Option<usize>,
    precision: Option<String>,
}

/// A sentence-embedding model folder (BERT family, sentence-transformers layout), loaded on first use.
#[napi]
pub fn embedder_local(options_json: String) -> napi::Result<NativeEmbedder> {
    let j: LocalEmbedderJson = options("local embedder options", &options_json)?;
    // probe_dimension reads the folder's config now: a missing folder is ERR_NOT_FOUND at once
    let dir = PathBuf::from(&j.path);
    let pooling = match j.pooling.as_deref() {
        None => None,
        Some("mean") => Some(Pooling::Mean),
        Some("cls") => Some(Pooling::Cls),
        Some("max") => Some(Pooling::Max),
        Some("meanSqrtLen") => Some(Pooling::MeanSqrtLen),
        Some("lastToken") => Some(Pooling::LastToken),
        Some(p) => return Err(invalid(format!("unknown pooling '{p}' (mean, cls, max, meanSqrtLen, lastToken)"))),
    };
    let precision = match j.precision.as_deref() {
        None => None,
        Some("f32") => Some(Precision::F32),
        Some("int8") => Some(Precision::Int8),
        Some(p) => return Err(invalid(format!("unknown precision '{p}' (f32, int8)"))),
    };
    if j.threads == Some(0) || j.threads.is_some_and(|t| t > 256) {
        return Err(invalid("threads must be between 1 and 256"));
    }
    let opts = BertOptions { max_length: j.max_length, batch_size: j.batch_size, normalize: j.normalize, pooling, threads: j.threads, precision };
    let dimension = BertEmbedder::probe_dimension(&dir, &opts).map_err(to_js)?;
    let description = format!("local:{}", dir.display());
    let lazy = Lazy::new(description, Some(dimension), move || BertEmbedder::load(&dir, opts.clone()));
    Ok(NativeEmbedder { inner: Arc::new(lazy) })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpenAiJson {
    #[serde(rename = "baseURL")]
    base_url: String,
    model: String,
    api_key: Option<String>,
    timeout_ms: Option<u64>,
    dimensions: Option<usize>,
    batch_size: Option<usize>,
}

impl OpenAiJson {
    fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }
}

/// An OpenAI-compatible `/embeddings` client.
#[napi]
pub fn embedder_openai(options_json: String) -> napi::Result<NativeEmbedder> {
    let j: OpenAiJson = options("openai embedder options", &options_json)?;
    let mut e = OpenAiEmbedder::new(&j.base_url, &j.model);
    e.api_key = j.api_key.clone();
    if let Some(t) = j.timeout() {
        e.timeout = t;
    }
    e.dimensions = j.dimensions;
    if let Some(b) = j.batch_size {
        e.batch_size = b;
    }
    Ok(NativeEmbedder { inner: Arc::new(e) })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CrossEncoderJson {
    path: String,
    max_length: Option<usize>,
    batch_size: Option<usize>,
}

/// A cross-encoder (BERT sequence-classification) folder, loaded on first use.
#[napi]
pub fn reranker_cross_encoder(options_json: String) -> napi::Result<NativeReranker> {
    let j: CrossEncoderJson = options("cross-encoder options", &options_json)?;
    let dir = existing(&j.path, "cross-encoder model folder")?;
    let opts = CrossEncoderOptions { max_length: j.max_length, batch_size: j.batch_size };
    let lazy = Lazy::new(format!("cross-encoder:{}", dir.display()), None, move || BertCrossEncoder::load_with(&dir, opts.clone()));
    Ok(NativeReranker { inner: Rerank::Model(Arc::new(lazy)) })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LocalGeneratorJson {
    path: String,
    threads: Option<usize>,
    requantize: Option<bool>,
    dequantize: Option<bool>,
}

/// A GGUF chat model file, loaded on first use.
#[napi]
pub fn generator_local(options_json: String) -> napi::Result<NativeGenerator> {
    let j: LocalGeneratorJson = options("local generator options", &options_json)?;
    let path = existing(&j.path, "GGUF model")?;
    if j.threads == Some(0) {
        return Err(invalid("threads must be at least 1"));
    }
    let opts = GgufOptions { threads: j.threads, requantize: j.requantize.unwrap_or(false), dequantize: j.dequantize };
    let lazy = Lazy::new(format!("local:{}", path.display()), None, move || GgufChat::load(&path, opts.clone()));
    Ok(NativeGenerator { inner: Arc::new(lazy) })
}

/// An OpenAI-compatible `/chat/completions` client (streaming).
#[napi]
pub fn generator_openai(options_json: String) -> napi::Result<NativeGenerator> {
    let j: OpenAiJson = options("openai generator options", &options_json)?;
    if j.dimensions.is_some() || j.batch_size.is_some() {
        return Err(invalid("dimensions and batchSize are embedder options"));
    }
    let mut g = OpenAiChat::new(&j.base_url, &j.model);
    g.api_key = j.api_key.clone();
    if let Some(t) = j.timeout() {
        g.timeout = t;
    }
    Ok(NativeGenerator { inner: Arc::new(g) })
}
