//! # hektor-adapters-api
//!
//! The contract every ingest source of hektor implements: a [`Source`] streams
//! [`SourceRecord`]s in bounded batches; a [`FieldMapping`] says which fields become the
//! record's id, text, vector and metadata; an [`AdapterError`] says what broke and where.
//! This crate depends on neither the engine nor N-API, so each adapter stays a small,
//! pure-Rust module that can be tested on its own.
//!
//! ```
//! use hektor_adapters_api::{Batch, FieldMapping, Progress, Source, SourceRecord, AdapterError, Position};
//!
//! /// A source over an in-memory list of JSON objects.
//! struct Vecs { rows: Vec<serde_json::Value>, next: usize, mapping: FieldMapping }
//!
//! impl Source for Vecs {
//!     fn name(&self) -> String { "memory".into() }
//!     fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
//!         if self.next >= self.rows.len() { return Ok(None) }
//!         let end = (self.next + max).min(self.rows.len());
//!         let mut batch = Batch::default();
//!         for (row, v) in self.rows[self.next..end].iter().enumerate() {
//!             let pos = Position::row(&self.name(), (self.next + row) as u64);
//!             batch.rows.push(self.mapping.apply(v, &pos));
//!         }
//!         self.next = end;
//!         Ok(Some(batch))
//!     }
//!     fn progress(&self) -> Progress { Progress { rows: self.next as u64, total_rows: Some(self.rows.len() as u64), ..Default::default() } }
//! }
//!
//! let mapping = FieldMapping { id: Some("key".into()), text: vec!["title".into()], ..Default::default() };
//! let mut src = Vecs { rows: vec![serde_json::json!({"key": 7, "title": "hello"})], next: 0, mapping };
//! let b = src.next_batch(100)?.unwrap();
//! let rec = b.rows[0].as_ref().unwrap();
//! assert_eq!(rec.id, "7");
//! assert_eq!(rec.text.as_deref(), Some("hello"));
//! # Ok::<(), AdapterError>(())
//! ```
#![warn(missing_docs)]

pub mod input;
pub mod json;
#[cfg(feature = "tokio")]
pub mod runtime;
pub mod scalar;

use serde_json::{Map, Value};
use std::fmt;

/// A record produced by a source, ready to be upserted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceRecord {
    /// The id (mapped, or generated as `<source>:<row>` when no id field is mapped).
    pub id: String,
    /// Text, from one field or several joined by a blank line.
    pub text: Option<String>,
    /// Vector.
    pub vector: Option<Vec<f32>>,
    /// Metadata object.
    pub metadata: Option<Map<String, Value>>,
}

/// A bounded batch of rows. A row that could not be read or mapped is an `Err` carrying
/// its position; the ingest driver stops on it or, with `onError: 'skip'`, counts it and
/// goes on. Errors that end the stream (I/O, lost connection, a truncated file) are
/// returned by [`Source::next_batch`] itself instead.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// The rows, in input order.
    pub rows: Vec<Result<SourceRecord, AdapterError>>,
}

impl Batch {
    /// Number of rows (records and row errors).
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    /// True when the batch holds no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// How far a source has read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Rows read so far.
    pub rows: u64,
    /// Input bytes read so far, when the source knows.
    pub bytes: u64,
    /// Total rows, when known up front (Parquet metadata, HDF5 shapes, COUNT).
    pub total_rows: Option<u64>,
    /// Total bytes, when known (file size).
    pub total_bytes: Option<u64>,
}

/// Stable codes of adapter errors (same strings as the engine's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AdapterErrorCode {
    /// Malformed input.
    Parse,
    /// A value has the wrong type for its mapping (e.g. a string where a vector is mapped).
    InvalidArg,
    /// A vector has the wrong dimension.
    DimensionMismatch,
    /// A server could not be reached.
    Connect,
    /// Credentials were refused.
    Auth,
    /// A file or server-side object does not exist.
    NotFound,
    /// I/O failure.
    Io,
    /// Cancelled.
    Aborted,
    /// A limit (record size, nesting depth) was exceeded.
    Limit,
}

impl AdapterErrorCode {
    /// The stable `ERR_*` string.
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterErrorCode::Parse => "ERR_PARSE",
            AdapterErrorCode::InvalidArg => "ERR_INVALID_ARG",
            AdapterErrorCode::DimensionMismatch => "ERR_DIMENSION_MISMATCH",
            AdapterErrorCode::Connect => "ERR_CONNECT",
            AdapterErrorCode::Auth => "ERR_AUTH",
            AdapterErrorCode::NotFound => "ERR_NOT_FOUND",
            AdapterErrorCode::Io => "ERR_IO",
            AdapterErrorCode::Aborted => "ERR_ABORTED",
            AdapterErrorCode::Limit => "ERR_LIMIT",
        }
    }
}

/// Where in a source something happened. Sources never put credentials in `source`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    /// File path, or redacted server address plus query/collection.
    pub source: String,
    /// 0-based row / record / message number.
    pub row: Option<u64>,
    /// Byte offset in the input.
    pub byte: Option<u64>,
    /// Field name or dotted path.
    pub field: Option<String>,
}

impl Position {
    /// A position at `row` of `source`.
    pub fn row(source: &str, row: u64) -> Position {
        Position { source: source.to_string(), row: Some(row), ..Default::default() }
    }
    /// The same position, naming `field`.
    pub fn field(&self, field: &str) -> Position {
        Position { field: Some(field.to_string()), ..self.clone() }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)?;
        if let Some(r) = self.row {
            write!(f, ", row {r}")?;
        }
        if let Some(b) = self.byte {
            write!(f, ", byte {b}")?;
        }
        if let Some(x) = &self.field {
            write!(f, ", field '{x}'")?;
        }
        Ok(())
    }
}

/// An error of a source: a code, a message and where.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code:?}: {message} (at {position})")]
pub struct AdapterError {
    /// Stable code.
    pub code: AdapterErrorCode,
    /// What went wrong.
    pub message: String,
    /// Where.
    pub position: Position,
}

impl AdapterError {
    /// A new error.
    pub fn new(code: AdapterErrorCode, message: impl Into<String>, position: Position) -> Self {
        AdapterError { code, message: message.into(), position }
    }
}

/// A stream of records from one input.
///
/// Implementations read lazily and keep memory bounded by the batch size: `next_batch`
/// reads at most `max` rows. A row that cannot be mapped is an error carrying its
/// [`Position`]; the caller decides whether to stop or to skip and count it.
pub trait Source: Send {
    /// A human-readable name used in errors and progress: a file path or a redacted address.
    fn name(&self) -> String;
    /// The next batch of at most `max` records; `None` at the end.
    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError>;
    /// How far the source has read.
    fn progress(&self) -> Progress;
}

/// Which input fields become the record's id, text, vector and metadata. Field names may
/// be dotted paths into nested objects (`"author.name"`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldMapping {
    /// Id field; `None` generates `<source>:<row>` ids (stable across re-ingests of the same input).
    pub id: Option<String>,
    /// Text fields, joined with a blank line.
    pub text: Vec<String>,
    /// Vector field.
    pub vector: Option<String>,
    /// Metadata fields (an empty list keeps no metadata; `["*"]` keeps every unmapped field).
    pub metadata: Vec<String>,
}

/// What the SDK asks for: a kind (`"csv"`, `"postgres"`, ...), where (a file path or a
/// connection URL), format options and the field mapping.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceSpec {
    /// Source kind.
    pub kind: String,
    /// File path, or connection URL/URI (may hold credentials: never print it, use [`redact_url`]).
    pub location: String,
    /// Format-specific options (a JSON object; each adapter rejects unknown keys).
    pub options: Value,
    /// Field mapping.
    pub mapping: FieldMapping,
}

impl SourceSpec {
    /// Parses the adapter's options into `T` (`ERR_INVALID_ARG` naming the bad key).
    pub fn options<T: serde::de::DeserializeOwned>(&self) -> Result<T, AdapterError> {
        let v = if self.options.is_null() { Value::Object(Map::new()) } else { self.options.clone() };
        serde_json::from_value(v).map_err(|e| {
            AdapterError::new(AdapterErrorCode::InvalidArg, format!("invalid {} options: {e}", self.kind), Position { source: self.display_location(), ..Default::default() })
        })
    }
    /// The location with any password or secret removed, for messages.
    pub fn display_location(&self) -> String {
        redact_url(&self.location)
    }
}

/// Removes credentials from a connection string: the password of `scheme://user:pass@host`
/// (user kept), and `password=...` style parameters. Plain paths are returned unchanged.
pub fn redact_url(s: &str) -> String {
    let mut out = s.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let rest = &out[rest_start..];
        let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let redacted = if userinfo.contains(':') { format!("{user}:***") } else { user.to_string() };
            out = format!("{}{}{}", &out[..rest_start], redacted, &rest[at..]);
        }
    }
    // key=value parameters (query strings, libpq "key=value" strings)
    let mut result = String::with_capacity(out.len());
    let lower = out.to_ascii_lowercase();
    let mut i = 0;
    let keys = ["password=", "pass=", "pwd=", "secret=", "token=", "apikey=", "api_key=", "sslpassword="];
    while i < out.len() {
        if let Some(k) = keys.iter().find(|k| lower[i..].starts_with(*k) && (i == 0 || !lower.as_bytes()[i - 1].is_ascii_alphanumeric())) {
            result.push_str(&out[i..i + k.len()]);
            result.push_str("***");
            i += k.len();
            while i < out.len() && !matches!(out.as_bytes()[i], b'&' | b' ' | b';') {
                i += 1;
            }
        } else {
            let ch = out[i..].chars().next().unwrap();
            result.push(ch);
            i += ch.len_utf8();
        }
    }
    result
}

/// Replaces every occurrence of each secret (3 characters or more) by `***`.
pub fn scrub_secrets(message: &str, secrets: &[&str]) -> String {
    let mut m = message.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 3) {
        m = m.replace(*s, "***");
    }
    m
}

/// The password of a `scheme://user:pass@host` URL, raw and percent-decoded, for
/// [`scrub_secrets`] (drivers sometimes echo the URL or the password in their errors).
pub fn url_passwords(uri: &str) -> Vec<String> {
    let Some(start) = uri.find("://").map(|i| i + 3) else { return Vec::new() };
    let rest = &uri[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..end].rfind('@') else { return Vec::new() };
    let Some((_, pass)) = rest[..at].split_once(':') else { return Vec::new() };
    let mut out = vec![pass.to_string()];
    let decoded = percent_decode(pass);
    if decoded != pass {
        out.push(decoded);
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Looks up a dotted path in a JSON value.
pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(x) = v.get(path) {
        return Some(x);
    }
    let mut cur = v;
    for seg in path.split('.') {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn scalar_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl FieldMapping {
    /// Maps one input row, already converted to a JSON object, into a record.
    pub fn apply(&self, row: &Value, pos: &Position) -> Result<SourceRecord, AdapterError> {
        self.apply_with(row, None, pos)
    }

    /// Like [`apply`](Self::apply), for sources that decode the mapped vector column
    /// natively (Arrow, Parquet, HDF5, pgvector): `vector`, when given, is used instead of
    /// looking the vector field up in `row` (which then need not contain it).
    pub fn apply_with(&self, row: &Value, vector: Option<Vec<f32>>, pos: &Position) -> Result<SourceRecord, AdapterError> {
        let bad = |code, field: &str, msg: String| AdapterError::new(code, msg, pos.field(field));
        let id = match &self.id {
            Some(f) => match lookup(row, f) {
                Some(v) => scalar_to_string(v).filter(|s| !s.is_empty()).ok_or_else(|| {
                    bad(AdapterErrorCode::InvalidArg, f, "id must be a non-empty string or a number".into())
                })?,
                None => return Err(bad(AdapterErrorCode::InvalidArg, f, format!("missing id field '{f}'"))),
            },
            None => format!("{}:{}", pos.source, pos.row.unwrap_or(0)),
        };
        let mut parts = Vec::new();
        for f in &self.text {
            match lookup(row, f) {
                None | Some(Value::Null) => {}
                Some(v) => parts.push(
                    scalar_to_string(v)
                        .ok_or_else(|| bad(AdapterErrorCode::InvalidArg, f, "text field must be a string".into()))?,
                ),
            }
        }
        let text = if parts.is_empty() { None } else { Some(parts.join("\n\n")) };
        let vector = match (&self.vector, vector) {
            (_, Some(v)) => Some(v),
            (None, None) => None,
            (Some(f), None) => match lookup(row, f) {
                None | Some(Value::Null) => None,
                Some(Value::Array(a)) => Some(
                    a.iter()
                        .map(|x| x.as_f64().map(|f| f as f32))
                        .collect::<Option<Vec<f32>>>()
                        .ok_or_else(|| bad(AdapterErrorCode::InvalidArg, f, "vector must be an array of numbers".into()))?,
                ),
                Some(_) => return Err(bad(AdapterErrorCode::InvalidArg, f, "vector must be an array of numbers".into())),
            },
        };
        let metadata = if self.metadata.is_empty() {
            None
        } else {
            let mut m = Map::new();
            if self.metadata.iter().any(|f| f == "*") {
                if let Value::Object(o) = row {
                    let mapped: Vec<&String> = self.id.iter().chain(&self.text).chain(self.vector.iter()).collect();
                    for (k, v) in o {
                        if !mapped.contains(&k) {
                            m.insert(k.clone(), v.clone());
                        }
                    }
                }
            }
            for f in self.metadata.iter().filter(|f| *f != "*") {
                if let Some(v) = lookup(row, f) {
                    m.insert(f.clone(), v.clone());
                }
            }
            Some(m)
        };
        Ok(SourceRecord { id, text, vector, metadata })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mapping_paths_text_vector_metadata() {
        let m = FieldMapping {
            id: Some("meta.key".into()),
            text: vec!["title".into(), "body".into()],
            vector: Some("emb".into()),
            metadata: vec!["year".into(), "author.name".into()],
        };
        let row = json!({"meta": {"key": 12}, "title": "T", "body": "B", "emb": [1, 2.5], "year": 2020, "author": {"name": "A"}});
        let r = m.apply(&row, &Position::row("f.csv", 3)).unwrap();
        assert_eq!(r.id, "12");
        assert_eq!(r.text.as_deref(), Some("T\n\nB"));
        assert_eq!(r.vector, Some(vec![1.0, 2.5]));
        assert_eq!(r.metadata.unwrap()["author.name"], json!("A"));
    }

    #[test]
    fn passwords_to_scrub() {
        assert_eq!(url_passwords("mongodb://u:p%40ss@h1,h2/db"), vec!["p%40ss".to_string(), "p@ss".to_string()]);
        assert!(url_passwords("mongodb://h/db").is_empty());
        assert_eq!(scrub_secrets("failed for p@ss at host", &["p@ss"]), "failed for *** at host");
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("postgres://bob:s3cret@db:5432/x?sslmode=require"), "postgres://bob:***@db:5432/x?sslmode=require");
        assert_eq!(redact_url("mongodb://u:p%40ss@h1,h2/db?authSource=admin"), "mongodb://u:***@h1,h2/db?authSource=admin");
        assert_eq!(redact_url("redis://:pw@localhost:6379/0"), "redis://:***@localhost:6379/0");
        assert_eq!(redact_url("host=db user=bob password=s3cret dbname=x"), "host=db user=bob password=*** dbname=x");
        assert_eq!(redact_url("https://h/x?api_key=abc&q=1"), "https://h/x?api_key=***&q=1");
        assert_eq!(redact_url("/data/file.csv"), "/data/file.csv");
        assert!(!redact_url("rediss://default:topsecret@h").contains("topsecret"));
    }

    #[test]
    fn errors_name_the_row_and_field() {
        let m = FieldMapping { id: Some("id".into()), vector: Some("v".into()), ..Default::default() };
        let e = m.apply(&json!({"id": "x", "v": "oops"}), &Position::row("a.jsonl", 9)).unwrap_err();
        assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
        assert_eq!(e.position.row, Some(9));
        assert_eq!(e.position.field.as_deref(), Some("v"));
        assert!(e.to_string().contains("a.jsonl, row 9, field 'v'"));
        let e = m.apply(&json!({"v": [1]}), &Position::row("a.jsonl", 1)).unwrap_err();
        assert!(e.message.contains("missing id"));
        let gen = FieldMapping::default().apply(&json!({}), &Position::row("a.jsonl", 4)).unwrap();
        assert_eq!(gen.id, "a.jsonl:4");
    }
}
