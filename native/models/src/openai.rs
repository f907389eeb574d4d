//! Clients of OpenAI-compatible HTTP servers: `POST {base}/embeddings` and
//! `POST {base}/chat/completions` (streamed). They work with OpenAI, Ollama
//! (`http://localhost:11434/v1`), the llama.cpp server (`http://localhost:8080/v1`) and
//! vLLM (`http://localhost:8000/v1`).
//!
//! Failures map to stable codes: connection refused, DNS failure or timeout ->
//! `ERR_CONNECT`; HTTP 401/403 -> `ERR_AUTH`; 404 -> `ERR_NOT_FOUND` (wrong base URL or
//! model); 400/422 -> `ERR_INVALID_ARG`; 429 and 5xx -> `ERR_CONNECT` with the status and
//! the server's message (at most 300 characters); a reply that is not the expected JSON
//! -> `ERR_PARSE` naming what is missing. The API key is sent only in the
//! `Authorization` header: it is never part of an error, a log line or `describe()`.

use crate::stream::StopFilter;
use crate::truncate_chars;
use hektor_core::rag::models::{Embedder, GenerateOptions, Generation, Generator};
use hektor_core::rag::prompt::Message;
use hektor_core::{Error, ErrorCode, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::time::Duration;

/// The longest server message quoted in an error.
const MAX_SERVER_MESSAGE: usize = 300;
/// The largest response body read (embeddings of a big batch can be tens of MB).
const MAX_BODY: u64 = 256 * 1024 * 1024;

/// An embedder backed by an OpenAI-compatible `/embeddings` endpoint.
///
/// ```no_run
/// use hektor_core::rag::models::Embedder;
/// use hektor_models::OpenAiEmbedder;
/// let e = OpenAiEmbedder::new("http://localhost:11434/v1", "nomic-embed-text");
/// let v = e.embed(&["hello"])?;
/// # Ok::<(), hektor_core::Error>(())
/// ```
#[derive(Clone)]
pub struct OpenAiEmbedder {
    /// Base URL up to and including the API version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Model name, e.g. `text-embedding-3-small`.
    pub model: String,
    /// Bearer token, sent as `Authorization: Bearer ...` (never shown anywhere).
    pub api_key: Option<String>,
    /// Limit for one request, connection included. Default 60 s.
    pub timeout: Duration,
    /// Requested output dimension (OpenAI's `dimensions`, for models that can shorten
    /// their vectors); also the dimension reported before the first call.
    pub dimensions: Option<usize>,
    /// Texts per request. Default 64.
    pub batch_size: usize,
}

/// A generator backed by an OpenAI-compatible `/chat/completions` endpoint, streaming
/// (`stream: true`, server-sent events), with a fallback for servers that answer with one
/// JSON body instead.
///
/// ```no_run
/// use hektor_core::rag::models::{GenerateOptions, Generator};
/// use hektor_core::rag::prompt::Message;
/// use hektor_models::OpenAiChat;
/// let chat = OpenAiChat::new("http://localhost:11434/v1", "llama3.2");
/// let msgs = [Message { role: "user".into(), content: "Hi".into() }];
/// let g = chat.generate(&msgs, &GenerateOptions::default(), &mut |t| { print!("{t}"); true })?;
/// # Ok::<(), hektor_core::Error>(())
/// ```
#[derive(Clone)]
pub struct OpenAiChat {
    /// Base URL up to and including the API version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Model name, e.g. `gpt-4o-mini` or `llama3.2`.
    pub model: String,
    /// Bearer token, sent as `Authorization: Bearer ...` (never shown anywhere).
    pub api_key: Option<String>,
    /// Limit for connecting, for the server to start answering, and for any silence
    /// while it streams. Default 120 s.
    pub timeout: Duration,
}

impl std::fmt::Debug for OpenAiEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbedder")
            .field("base_url", &redact_url(&self.base_url))
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("dimensions", &self.dimensions)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl std::fmt::Debug for OpenAiChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiChat")
            .field("base_url", &redact_url(&self.base_url))
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `scheme://host[:port]/path` of `url` without credentials, query or fragment.
fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map(|(_, h)| h).unwrap_or(authority);
    match scheme {
        Some(s) => format!("{s}://{host}{path}"),
        None => format!("{host}{path}"),
    }
}

/// The endpoint URL `{base}/{path}`.
fn endpoint(base: &str, path: &str) -> Result<String> {
    let base = base.trim().trim_end_matches('/');
    if base.is_empty() {
        return Err(Error::invalid("baseURL is empty"));
    }
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(Error::invalid(format!("baseURL must start with http:// or https://, got '{}'", redact_url(base))));
    }
    Ok(format!("{base}/{path}"))
}

/// A blocking HTTP session for one request kind.
struct Http {
    agent: ureq::Agent,
    url: String,
    shown: String,
    api_key: Option<String>,
}

enum Reply {
    /// A streamed (`text/event-stream`) body.
    Stream(ureq::Body),
    /// A whole JSON body.
    Json(Value),
}

impl Http {
    fn new(base: &str, path: &str, api_key: &Option<String>, config: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>) -> Result<Http> {
        let url = endpoint(base, path)?;
        let agent: ureq::Agent = config.http_status_as_error(false).build().into();
        Ok(Http { agent, shown: redact_url(&url), url, api_key: api_key.clone().filter(|k| !k.is_empty()) })
    }

    /// Removes the API key from a server-provided text (some servers echo it).
    fn scrub(&self, text: &str) -> String {
        match &self.api_key {
            Some(k) if k.len() >= 4 => text.replace(k.as_str(), "[redacted]"),
            _ => text.to_string(),
        }
    }

    fn transport_error(&self, e: ureq::Error) -> Error {
        use ureq::Error as E;
        let (code, what) = match &e {
            E::Timeout(t) => (ErrorCode::Connect, format!("timed out ({t})")),
            E::HostNotFound => (ErrorCode::Connect, "host not found".to_string()),
            E::ConnectionFailed => (ErrorCode::Connect, "connection failed".to_string()),
            E::Io(io) => (ErrorCode::Connect, match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused (is the server running?)".to_string(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timed out".to_string(),
                _ => format!("I/O error: {io}"),
            }),
            E::Tls(m) => (ErrorCode::Connect, format!("TLS error: {m}")),
            E::BodyExceedsLimit(n) => (ErrorCode::Parse, format!("reply larger than {n} bytes")),
            E::BadUri(_) => (ErrorCode::InvalidArg, "invalid URL".to_string()),
            other => (ErrorCode::Connect, other.to_string()),
        };
        Error::new(code, format!("{}: {}", self.shown, self.scrub(&what))).with_source(self.shown.clone())
    }

    /// Sends `body`; returns the reply or the error its status means.
    fn post(&self, body: &Value) -> Result<Reply> {
        let mut req = self.agent.post(&self.url).header("Content-Type", "application/json").header("Accept", "application/json, text/event-stream");
        if let Some(k) = &self.api_key {
            req = req.header("Authorization", format!("Bearer {k}"));
        }
        let resp = req.send(body.to_string()).map_err(|e| self.transport_error(e))?;
        let status = resp.status().as_u16();
        let is_stream = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/event-stream"));
        let mut body = resp.into_body();
        if !(200..300).contains(&status) {
            let text = body.with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
            return Err(self.status_error(status, &text));
        }
        if is_stream {
            return Ok(Reply::Stream(body));
        }
        let text = body.with_config().limit(MAX_BODY).read_to_string().map_err(|e| self.transport_error(e))?;
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => {
                if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
                    return Err(self.status_error(500, &err.to_string()));
                }
                Ok(Reply::Json(v))
            }
            // Some servers stream without the event-stream content type.
            Err(_) if text.trim_start().starts_with("data:") => Ok(Reply::Json(Value::String(text))),
            Err(e) => Err(self.parse_error(format!("the reply is not JSON ({e}): {}", self.scrub(&truncate_chars(text.trim(), 120))))),
        }
    }

    fn status_error(&self, status: u16, body: &str) -> Error {
        let msg = server_message(body);
        let msg = truncate_chars(&self.scrub(msg.trim()), MAX_SERVER_MESSAGE);
        let (code, hint) = match status {
            401 | 403 => (ErrorCode::Auth, "the server refused the credentials (check apiKey)"),
            404 => (ErrorCode::NotFound, "not found (check baseURL and model)"),
            400 | 422 => (ErrorCode::InvalidArg, "the server rejected the request"),
            429 => (ErrorCode::Connect, "rate limited"),
            s if s >= 500 => (ErrorCode::Connect, "server error"),
            _ => (ErrorCode::Connect, "unexpected status"),
        };
        let text = if msg.is_empty() { format!("{}: HTTP {status}: {hint}", self.shown) } else { format!("{}: HTTP {status}: {hint}: {msg}", self.shown) };
        Error::new(code, text).with_source(self.shown.clone()).with_cause(format!("HTTP {status}"))
    }

    fn parse_error(&self, what: String) -> Error {
        Error::new(ErrorCode::Parse, format!("{}: {what}", self.shown)).with_source(self.shown.clone())
    }
}

/// The human message of an error body: `{"error": {"message": ...}}`, `{"error": "..."}`,
/// `{"message": ...}`, `{"detail": ...}`, or the text itself.
fn server_message(body: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return body.to_string();
    };
    let pick = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    v.get("error")
        .and_then(|e| e.get("message").and_then(pick).or_else(|| pick(e)))
        .or_else(|| v.get("message").and_then(pick))
        .or_else(|| v.get("detail").and_then(pick))
        .unwrap_or_else(|| body.to_string())
}

impl OpenAiEmbedder {
    /// A client of `{base_url}/embeddings` for `model`, without API key.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiEmbedder { base_url: base_url.into(), model: model.into(), api_key: None, timeout: Duration::from_secs(60), dimensions: None, batch_size: 64 }
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    fn http(&self) -> Result<Http> {
        if self.model.trim().is_empty() {
            return Err(Error::invalid("model is empty"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batchSize must be at least 1"));
        }
        let cfg = ureq::Agent::config_builder().timeout_global(Some(self.timeout)).timeout_connect(Some(self.timeout));
        Http::new(&self.base_url, "embeddings", &self.api_key, cfg)
    }

    fn embed_batch(&self, http: &Http, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut body = json!({ "model": self.model, "input": texts, "encoding_format": "float" });
        if let Some(d) = self.dimensions {
            body["dimensions"] = json!(d);
        }
        let v = match http.post(&body)? {
            Reply::Json(v) => v,
            Reply::Stream(_) => return Err(http.parse_error("expected a JSON reply, got an event stream".into())),
        };
        let data = v.get("data").and_then(Value::as_array).ok_or_else(|| http.parse_error("the reply has no 'data' array".into()))?;
        if data.len() != texts.len() {
            return Err(http.parse_error(format!("the reply has {} embeddings for {} inputs", data.len(), texts.len())));
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (pos, item) in data.iter().enumerate() {
            let index = match item.get("index") {
                Some(i) => i.as_u64().map(|i| i as usize).ok_or_else(|| http.parse_error(format!("data[{pos}].index is not a number")))?,
                None => pos,
            };
            let emb = item
                .get("embedding")
                .and_then(Value::as_array)
                .ok_or_else(|| http.parse_error(format!("data[{pos}] has no 'embedding' array (encoding_format 'float' expected)")))?;
            let vec = emb
                .iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<f32>>>()
                .ok_or_else(|| http.parse_error(format!("data[{pos}].embedding holds a value that is not a number")))?;
            if let Some(d) = self.dimensions {
                if vec.len() != d {
                    return Err(http.parse_error(format!("data[{pos}].embedding has {} values, {d} were requested", vec.len())));
                }
            }
            let slot = out.get_mut(index).ok_or_else(|| http.parse_error(format!("data[{pos}].index {index} is out of range")))?;
            if slot.is_some() {
                return Err(http.parse_error(format!("data[{pos}].index {index} appears twice")));
            }
            *slot = Some(vec);
        }
        let out: Vec<Vec<f32>> = out.into_iter().collect::<Option<_>>().ok_or_else(|| http.parse_error("the reply misses some indexes".into()))?;
        if let Some(first) = out.first() {
            if out.iter().any(|v| v.len() != first.len()) {
                return Err(http.parse_error("the reply's embeddings have different lengths".into()));
            }
        }
        Ok(out)
    }
}

impl Embedder for OpenAiEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let http = self.http()?;
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch_size) {
            out.extend(self.embed_batch(&http, chunk)?);
        }
        Ok(out)
    }

    fn dimension(&self) -> Option<usize> {
        self.dimensions
    }

    fn describe(&self) -> String {
        format!("openai:{}@{}", self.model, redact_url(&self.base_url))
    }
}

impl OpenAiChat {
    /// A client of `{base_url}/chat/completions` for `model`, without API key.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiChat { base_url: base_url.into(), model: model.into(), api_key: None, timeout: Duration::from_secs(120) }
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    fn request(&self, messages: &[Message], opts: &GenerateOptions) -> Result<Value> {
        if self.model.trim().is_empty() {
            return Err(Error::invalid("model is empty"));
        }
        opts.validate()?;
        let msgs: Vec<Value> = messages.iter().map(|m| json!({ "role": m.role, "content": m.content })).collect();
        let mut body = json!({
            "model": self.model,
            "messages": msgs,
            "stream": true,
            "stream_options": { "include_usage": true },
            "temperature": opts.temperature,
            "top_p": opts.top_p,
            "max_tokens": opts.max_tokens,
        });
        let stops: Vec<&String> = opts.stop.iter().filter(|s| !s.is_empty()).collect();
        if !stops.is_empty() {
            body["stop"] = json!(stops);
        }
        if let Some(seed) = opts.seed {
            body["seed"] = json!(seed);
        }
        Ok(body)
    }
}

/// Accumulates a generation from stream events or a whole reply.
struct Collector<'a, 'f> {
    stop: StopFilter<'a>,
    on_token: &'f mut dyn FnMut(&str) -> bool,
    text: String,
    finish: Option<String>,
    prompt_tokens: Option<usize>,
    completion_tokens: Option<usize>,
    aborted: bool,
    stopped: bool,
}

impl Collector<'_, '_> {
    /// Takes one piece of content; false when generation must end.
    fn content(&mut self, piece: &str) -> bool {
        let (emit, stopped) = self.stop.push(piece);
        self.emit(&emit);
        if stopped {
            self.stopped = true;
        }
        !(self.aborted || self.stopped)
    }

    fn emit(&mut self, s: &str) {
        if s.is_empty() || self.aborted {
            return;
        }
        self.text.push_str(s);
        if !(self.on_token)(s) {
            self.aborted = true;
        }
    }

    fn usage(&mut self, v: &Value) {
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            if let Some(p) = u.get("prompt_tokens").and_then(Value::as_u64) {
                self.prompt_tokens = Some(p as usize);
            }
            if let Some(c) = u.get("completion_tokens").and_then(Value::as_u64) {
                self.completion_tokens = Some(c as usize);
            }
        }
    }

    fn finish(mut self) -> Generation {
        if !self.aborted && !self.stopped {
            let tail = self.stop.finish("");
            self.emit(&tail);
        }
        let finish_reason = if self.aborted {
            "aborted".to_string()
        } else if self.stopped {
            "stop".to_string()
        } else {
            match self.finish.as_deref() {
                Some("length") => "length".to_string(),
                _ => "stop".to_string(),
            }
        };
        Generation { text: self.text, prompt_tokens: self.prompt_tokens, completion_tokens: self.completion_tokens, finish_reason }
    }
}

/// Handles one server-sent event's data; false when the stream is over.
fn stream_event(http: &Http, data: &str, c: &mut Collector) -> Result<bool> {
    let data = data.trim();
    if data.is_empty() {
        return Ok(true);
    }
    if data == "[DONE]" {
        return Ok(false);
    }
    let v: Value = serde_json::from_str(data).map_err(|e| http.parse_error(format!("a stream event is not JSON ({e}): {}", http.scrub(&truncate_chars(data, 120)))))?;
    if let Some(err) = v.get("error").filter(|e| !e.is_null()) {
        return Err(http.status_error(500, &json!({ "error": err }).to_string()));
    }
    c.usage(&v);
    let Some(choices) = v.get("choices").and_then(Value::as_array) else {
        // usage-only chunks have an empty or absent choices array
        if v.get("usage").is_some() {
            return Ok(true);
        }
        return Err(http.parse_error("a stream event has no 'choices'".into()));
    };
    if let Some(choice) = choices.first() {
        if let Some(r) = choice.get("finish_reason").and_then(Value::as_str) {
            c.finish = Some(r.to_string());
        }
        let delta = choice.get("delta").or_else(|| choice.get("message"));
        if let Some(piece) = delta.and_then(|d| d.get("content")).and_then(Value::as_str) {
            if !c.content(piece) {
                return Ok(false);
            }
        } else if delta.is_none() && choice.get("text").is_none() {
            return Err(http.parse_error("a stream event's choice has no 'delta'".into()));
        }
    }
    Ok(true)
}

impl Generator for OpenAiChat {
    fn generate(&self, messages: &[Message], opts: &GenerateOptions, on_token: &mut dyn FnMut(&str) -> bool) -> Result<Generation> {
        let body = self.request(messages, opts)?;
        let cfg = ureq::Agent::config_builder()
            .timeout_connect(Some(self.timeout))
            .timeout_recv_response(Some(self.timeout))
            .timeout_per_read(Some(self.timeout));
        let http = Http::new(&self.base_url, "chat/completions", &self.api_key, cfg)?;
        let mut c = Collector {
            stop: StopFilter::new(&opts.stop),
            on_token,
            text: String::new(),
            finish: None,
            prompt_tokens: None,
            completion_tokens: None,
            aborted: false,
            stopped: false,
        };
        match http.post(&body)? {
            Reply::Stream(body) => {
                let mut reader = BufReader::new(body.into_reader());
                let mut line = String::new();
                loop {
                    line.clear();
                    let n = reader.read_line(&mut line).map_err(|e| {
                        let what = match e.kind() {
                            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timed out while streaming",
                            _ => "the stream broke",
                        };
                        Error::new(ErrorCode::Connect, format!("{}: {what}: {e}", http.shown)).with_source(http.shown.clone())
                    })?;
                    if n == 0 {
                        break;
                    }
                    // OpenAI-compatible servers put each event's JSON on one `data:` line;
                    // `event:`, `id:`, `retry:` and `:` comment lines carry nothing we use.
                    let l = line.trim_end_matches(['\r', '\n']);
                    if let Some(rest) = l.strip_prefix("data:") {
                        if !stream_event(&http, rest, &mut c)? {
                            break;
                        }
                    }
                }
            }
            Reply::Json(Value::String(sse)) => {
                // An event stream served as another content type.
                for event in sse.split("\n\n") {
                    let data: Vec<&str> = event.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.strip_prefix(' ').unwrap_or(d)).collect();
                    if !stream_event(&http, &data.join("\n"), &mut c)? {
                        break;
                    }
                }
            }
            Reply::Json(v) => {
                // A server that ignored `stream: true` and answered in one body.
                c.usage(&v);
                let choice = v
                    .get("choices")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .ok_or_else(|| http.parse_error("the reply has no 'choices'".into()))?;
                let content = choice
                    .get("message")
                    .and_then(|m| m.get("content"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| http.parse_error("the reply has no 'choices[0].message.content'".into()))?;
                c.finish = choice.get("finish_reason").and_then(Value::as_str).map(str::to_string);
                c.content(content);
            }
        }
        Ok(c.finish())
    }

    fn describe(&self) -> String {
        format!("openai:{}@{}", self.model, redact_url(&self.base_url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_and_queries() {
        assert_eq!(redact_url("https://user:pw@api.example.com/v1?key=abc"), "https://api.example.com/v1");
        assert_eq!(redact_url("http://localhost:11434/v1"), "http://localhost:11434/v1");
        assert_eq!(endpoint("http://h/v1/", "embeddings").unwrap(), "http://h/v1/embeddings");
        assert_eq!(endpoint("ftp://h", "x").unwrap_err().code(), ErrorCode::InvalidArg);
    }

    #[test]
    fn server_messages() {
        assert_eq!(server_message(r#"{"error":{"message":"bad key","type":"x"}}"#), "bad key");
        assert_eq!(server_message(r#"{"error":"model not found"}"#), "model not found");
        assert_eq!(server_message(r#"{"detail":"nope"}"#), "nope");
        assert_eq!(server_message("plain"), "plain");
    }
}
