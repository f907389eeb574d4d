//! Embedders, rerankers and generators as JS handles, and `ask`.
//!
//! Each handle wraps an engine trait object: in-process models (`hektor-models`),
//! OpenAI-compatible HTTP clients, or a JavaScript callback ([`crate::callback`]).

use crate::callback::{JsCallback, JsFn};
use crate::cancel;
use crate::collection::NativeCollection;
use crate::error::{invalid, to_js};
use crate::run::{job, parse_json, Job};
use hektor_core::rag::ask::{ask, AskOptions, Rerank};
use hektor_core::rag::chunk::{chunk, ChunkOptions};
use hektor_core::rag::cite::{grounding_with_embedder, DEFAULT_THRESHOLD};
use hektor_core::text::{Analyzer, AnalyzerConfig};
use hektor_core::rag::models::{CrossEncoder, Embedder, GenerateOptions, Generation, Generator};
use hektor_core::rag::prompt::{Message, Template};
use hektor_core::{Error, ErrorCode, Filter, Fusion, Mode, Result};
use napi::bindgen_prelude::AsyncTask;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Streams text pieces to an optional JS callback and counts the ones queued, so that the
/// SDK can wait for every piece before it settles the promise: a threadsafe-function call
/// and the promise's resolution travel on different queues, in no fixed order.
struct TokenSink {
    func: Option<JsFn>,
    sent: u64,
}

impl TokenSink {
    fn new(func: Option<JsFn>) -> Self {
        TokenSink { func, sent: 0 }
    }

    fn send(&mut self, piece: &str) {
        if let Some(f) = &self.func {
            if f.call(piece.to_string(), ThreadsafeFunctionCallMode::NonBlocking) == napi::Status::Ok {
                self.sent += 1;
            }
        }
    }

    /// `{"streamed": <pieces queued>, "value": <value>}`, what the SDK's `settleStream` reads.
    fn finish<T: serde::Serialize>(&self, value: &T) -> String {
        json!({ "streamed": self.sent, "value": value }).to_string()
    }
}

/// How long a JS callback may take before the call fails.
const CALLBACK_TIMEOUT: Duration = Duration::from_secs(600);

/// A JavaScript embedding function: `(texts: string[]) => Promise<number[][]>`.
struct JsEmbedder {
    cb: JsCallback,
    dimension: Mutex<Option<usize>>,
}

impl Embedder for JsEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let v = self.cb.call(json!(texts), None, CALLBACK_TIMEOUT, &mut |_| true)?;
        let bad = || Error::new(ErrorCode::Callback, "the custom embedder must resolve to an array of number arrays, one per text");
        let rows = v.as_array().ok_or_else(bad)?;
        let out: Vec<Vec<f32>> = rows
            .iter()
            .map(|r| r.as_array().and_then(|a| a.iter().map(|x| x.as_f64().map(|f| f as f32)).collect::<Option<Vec<f32>>>()).ok_or_else(bad))
            .collect::<Result<_>>()?;
        if out.len() != texts.len() {
            return Err(Error::new(ErrorCode::Callback, format!("the custom embedder returned {} vectors for {} texts", out.len(), texts.len())));
        }
        if let Some(first) = out.first() {
            self.dimension.lock().get_or_insert(first.len());
        }
        Ok(out)
    }
    fn dimension(&self) -> Option<usize> {
        *self.dimension.lock()
    }
    fn describe(&self) -> String {
        "custom embedder".into()
    }
}

/// A JavaScript reranking function: `(query, passages) => Promise<number[]>`.
struct JsReranker(JsCallback);

impl CrossEncoder for JsReranker {
    fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>> {
        let v = self.0.call(json!({ "query": query, "passages": passages }), None, CALLBACK_TIMEOUT, &mut |_| true)?;
        v.as_array()
            .and_then(|a| a.iter().map(|x| x.as_f64().map(|f| f as f32)).collect::<Option<Vec<f32>>>())
            .ok_or_else(|| Error::new(ErrorCode::Callback, "the custom reranker must resolve to an array of numbers, one per passage"))
    }
}

/// A JavaScript generator: `(messages, options) => Promise<string> | AsyncIterable<string>`.
struct JsGenerator(JsCallback);

impl Generator for JsGenerator {
    fn generate(&self, messages: &[Message], opts: &GenerateOptions, on_token: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        let mut text = String::new();
        let mut streamed = false;
        let mut stopped = false;
        let v = self.0.call(json!({ "messages": messages, "options": opts }), None, CALLBACK_TIMEOUT, &mut |piece| {
            streamed = true;
            text.push_str(piece);
            let go = on_token(piece);
            stopped = !go;
            go
        })?;
        if !streamed {
            text = match v {
                Value::String(s) => s,
                _ => return Err(Error::new(ErrorCode::Callback, "the custom generator must resolve to a string (or yield strings)")),
            };
            on_token(&text);
        }
        Ok(Generation { text, prompt_tokens: None, completion_tokens: None, finish_reason: if stopped { "aborted" } else { "stop" }.into() })
    }
    fn describe(&self) -> String {
        "custom generator".into()
    }
}

/// An embedder handle (private: wrapped by the SDK's `embedders.*`).
#[napi]
pub struct NativeEmbedder {
    pub(crate) inner: Arc<dyn Embedder>,
}

/// An embedder calling a JS function.
#[napi]
pub fn embedder_custom(#[napi(ts_arg_type = "(callJson: string) => void")] func: JsFn, dimension: Option<u32>) -> NativeEmbedder {
    NativeEmbedder { inner: Arc::new(JsEmbedder { cb: JsCallback::new(func, "custom embedder"), dimension: Mutex::new(dimension.map(|d| d as usize)) }) }
}

#[napi]
impl NativeEmbedder {
    /// Embeds texts; resolves to a flat Float32-compatible JSON array of vectors.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn embed(&self, texts: Vec<String>) -> AsyncTask<Job<String>> {
        let e = self.inner.clone();
        job(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            Ok(serde_json::to_string(&e.embed(&refs)?).unwrap())
        })
    }

    /// Loads the model now if it is a local one not loaded yet; resolves to
    /// `{"loadMs": <ms this call spent loading, 0 when already loaded>}`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn ready(&self) -> AsyncTask<Job<String>> {
        let e = self.inner.clone();
        job(move || Ok(json!({ "loadMs": e.warm_up(&hektor_core::Cancel::new())? }).to_string()))
    }

    /// A description (model path or name).
    #[napi(getter)]
    pub fn description(&self) -> String {
        self.inner.describe()
    }
}

/// A reranker handle (private: wrapped by the SDK's `rerankers.*`).
#[napi]
pub struct NativeReranker {
    pub(crate) inner: Rerank,
}

/// MMR reranker.
#[napi]
pub fn reranker_mmr(lambda: f64) -> napi::Result<NativeReranker> {
    if !(0.0..=1.0).contains(&lambda) {
        return Err(invalid("mmr lambda must be between 0 and 1"));
    }
    Ok(NativeReranker { inner: Rerank::Mmr { lambda: lambda as f32 } })
}

/// RRF reranker over the candidates' vector and text rankings.
#[napi]
pub fn reranker_rrf(k: Option<f64>) -> napi::Result<NativeReranker> {
    let k = k.unwrap_or(60.0);
    if !(k.is_finite() && k >= 0.0) {
        return Err(invalid("rrf k must be a number >= 0"));
    }
    Ok(NativeReranker { inner: Rerank::Rrf { k: k as f32 } })
}

/// A reranker calling a JS function.
#[napi]
pub fn reranker_custom(#[napi(ts_arg_type = "(callJson: string) => void")] func: JsFn) -> NativeReranker {
    NativeReranker { inner: Rerank::Model(Arc::new(JsReranker(JsCallback::new(func, "custom reranker")))) }
}

/// A generator handle (private: wrapped by the SDK's `generators.*`).
#[napi]
pub struct NativeGenerator {
    pub(crate) inner: Arc<dyn Generator>,
}

/// A generator calling a JS function.
#[napi]
pub fn generator_custom(#[napi(ts_arg_type = "(callJson: string) => void")] func: JsFn) -> NativeGenerator {
    NativeGenerator { inner: Arc::new(JsGenerator(JsCallback::new(func, "custom generator"))) }
}

#[napi]
impl NativeGenerator {
    /// Generates from chat messages (JSON), streaming pieces to `on_token`; resolves to
    /// `{ streamed, value: Generation }` as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn generate(
        &self,
        messages_json: String,
        options_json: String,
        #[napi(ts_arg_type = "((piece: string) => void) | undefined | null")] on_token: Option<JsFn>,
        cancel_id: Option<u32>,
    ) -> napi::Result<AsyncTask<Job<String>>> {
        let messages: Vec<Message> = serde_json::from_value(parse_json("messages", &messages_json)?).map_err(|e| invalid(format!("invalid messages: {e}")))?;
        let opts: GenerateOptions = serde_json::from_value(parse_json("options", &options_json)?).map_err(|e| invalid(format!("invalid generate options: {e}")))?;
        let g = self.inner.clone();
        let cancel = cancel::get(cancel_id);
        Ok(job(move || {
            let mut sink = TokenSink::new(on_token);
            let out = g.generate(&messages, &opts, &mut |piece| {
                sink.send(piece);
                !cancel.is_cancelled()
            })?;
            cancel.check()?;
            Ok(sink.finish(&out))
        }))
    }

    /// Loads the model now if it is a local one not loaded yet; resolves to
    /// `{"loadMs": <ms this call spent loading, 0 when already loaded>}`.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn ready(&self) -> AsyncTask<Job<String>> {
        let g = self.inner.clone();
        job(move || Ok(json!({ "loadMs": g.warm_up(&hektor_core::Cancel::new())? }).to_string()))
    }

    /// A description (model path or name).
    #[napi(getter)]
    pub fn description(&self) -> String {
        self.inner.describe()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AskJson {
    k: Option<usize>,
    candidates: Option<usize>,
    filter: Option<Value>,
    mode: Option<Mode>,
    fusion: Option<Fusion>,
    template: Option<Value>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    max_tokens: Option<usize>,
    stop: Option<Vec<String>>,
    seed: Option<u64>,
    repeat_penalty: Option<f32>,
    grounding_threshold: Option<f32>,
}

fn ask_options(json: &str) -> napi::Result<AskOptions> {
    let j: AskJson = serde_json::from_value(parse_json("ask options", json)?).map_err(|e| invalid(format!("invalid ask options: {e}")))?;
    let mut o = AskOptions::default();
    if let Some(k) = j.k {
        o.k = k;
    }
    o.candidates = j.candidates;
    o.filter = j.filter.as_ref().map(Filter::parse).transpose().map_err(to_js)?;
    o.mode = j.mode;
    if let Some(f) = j.fusion {
        o.fusion = f;
    }
    if let Some(t) = j.template {
        o.template = match t {
            Value::String(s) => Template::from_user(&s).map_err(to_js)?,
            v => serde_json::from_value::<Template>(v).map_err(|e| invalid(format!("invalid template: {e}")))?,
        };
        o.template.validate().map_err(to_js)?;
    }
    let g = &mut o.generate;
    if let Some(t) = j.temperature {
        g.temperature = t;
    }
    if let Some(p) = j.top_p {
        g.top_p = p;
    }
    if let Some(m) = j.max_tokens {
        g.max_tokens = m;
    }
    if let Some(s) = j.stop {
        g.stop = s;
    }
    g.seed = j.seed;
    if let Some(r) = j.repeat_penalty {
        g.repeat_penalty = r;
    }
    g.validate().map_err(to_js)?;
    if let Some(t) = j.grounding_threshold {
        o.grounding_threshold = t;
    }
    Ok(o)
}

#[napi]
impl NativeCollection {
    /// Attaches (or, with `null`, detaches) an embedder.
    #[napi]
    pub fn set_embedder(&self, embedder: Option<&NativeEmbedder>) {
        self.inner().set_embedder(embedder.map(|e| e.inner.clone()));
    }

    /// Answers a question (see the SDK's `Collection.ask`); resolves to `{ streamed, value: Answer }` as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn ask(
        &self,
        question: String,
        options_json: String,
        generator: &NativeGenerator,
        reranker: Option<&NativeReranker>,
        #[napi(ts_arg_type = "((piece: string) => void) | undefined | null")] on_token: Option<JsFn>,
        cancel_id: Option<u32>,
    ) -> napi::Result<AsyncTask<Job<String>>> {
        let opts = ask_options(&options_json)?;
        let col = self.inner();
        let gen = generator.inner.clone();
        let rerank = reranker.map_or(Rerank::None, |r| r.inner.clone());
        let cancel = cancel::get(cancel_id);
        Ok(job(move || {
            let mut sink = TokenSink::new(on_token);
            let answer = ask(&col, &question, &opts, &rerank, gen.as_ref(), &cancel, &mut |piece| sink.send(piece))?;
            Ok(sink.finish(&answer))
        }))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GroundingJson {
    threshold: Option<f32>,
    analyzer: Option<AnalyzerConfig>,
}

/// Checks how well `passages` support each sentence of `answer` (the check `ask` runs; see
/// the SDK's `checkGrounding`); resolves to the `Grounding` as JSON.
#[napi(ts_return_type = "Promise<string>")]
pub fn check_grounding(answer: String, passages: Vec<String>, options_json: String, embedder: Option<&NativeEmbedder>) -> napi::Result<AsyncTask<Job<String>>> {
    let o: GroundingJson = serde_json::from_value(parse_json("grounding options", &options_json)?).map_err(|e| invalid(format!("invalid grounding options: {e}")))?;
    let threshold = o.threshold.unwrap_or(DEFAULT_THRESHOLD);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(invalid("threshold must be between 0 and 1"));
    }
    let analyzer = Analyzer::new(&o.analyzer.unwrap_or_default()).map_err(to_js)?;
    let e = embedder.map(|e| e.inner.clone());
    Ok(job(move || {
        let refs: Vec<&str> = passages.iter().map(String::as_str).collect();
        let g = grounding_with_embedder(&answer, &refs, &analyzer, e.as_deref(), threshold)?;
        Ok(serde_json::to_string(&g).unwrap())
    }))
}

/// Splits text into chunks; returns `[{ text, start, end, size }]` as JSON (UTF-16 spans).
/// Sizes are in tokens of `embedder`'s tokenizer when it has one, else in characters.
#[napi(ts_return_type = "Promise<string>")]
pub fn chunk_text(text: String, options_json: String, embedder: Option<&NativeEmbedder>) -> napi::Result<AsyncTask<Job<String>>> {
    let opts: ChunkOptions = serde_json::from_value(parse_json("chunk options", &options_json)?).map_err(|e| invalid(format!("invalid chunk options: {e}")))?;
    let e = embedder.map(|e| e.inner.clone());
    Ok(job(move || {
        let measure = |s: &str| e.as_ref().and_then(|e| e.count_tokens(s)).unwrap_or_else(|| s.chars().count());
        let chunks = chunk(&text, &opts, &measure)?;
        let out: Vec<Value> = chunks
            .iter()
            .map(|c| {
                let (s, en) = c.span_utf16(&text);
                json!({ "text": &text[c.start..c.end], "start": s, "end": en, "size": c.size })
            })
            .collect();
        Ok(serde_json::to_string(&out).unwrap())
    }))
}
