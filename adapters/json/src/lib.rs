//! # hektor-source-json
//!
//! hektor's `json` and `jsonl` ingest sources, both streamed with memory bounded by one
//! batch whatever the file size, both reading gzip.
//!
//! - **`json`**: a JSON array of records: the document itself, or the array a JSON
//!   pointer names (`pointer: "/data/items"`). A small structural scanner skips to the
//!   pointer without building anything, then cuts the array's elements out one at a time
//!   and hands each to `serde_json`: a 10 GB array costs one element of memory.
//! - **`jsonl`**: JSON Lines / NDJSON, one object per line; blank lines are skipped.
//!
//! ```
//! use hektor_adapters_api::{FieldMapping, Source, SourceSpec};
//! # let dir = std::env::temp_dir().join(format!("hektor-json-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let path = dir.join("export.json");
//! let doc = serde_json::json!({ "meta": { "n": 1 }, "data": { "items": [
//!     { "id": 7, "title": "Hello", "emb": [0.5, 1.5], "author": { "name": "Ann" } }
//! ] } });
//! serde_json::to_writer(std::fs::File::create(&path).unwrap(), &doc).unwrap();
//!
//! let spec = SourceSpec {
//!     kind: "json".into(),
//!     location: path.to_string_lossy().into_owned(),
//!     options: serde_json::json!({ "pointer": "/data/items" }),
//!     mapping: FieldMapping { id: Some("id".into()), text: vec!["title".into()], vector: Some("emb".into()), metadata: vec!["author.name".into()] },
//! };
//! let mut src = hektor_source_json::open(&spec)?;
//! let rec = src.next_batch(100)?.unwrap().rows.remove(0)?;
//! assert_eq!((rec.id.as_str(), rec.vector), ("7", Some(vec![0.5, 1.5])));
//! assert_eq!(rec.metadata.unwrap()["author.name"], "Ann");
//!
//! // Without the pointer, an object document is refused with a hint.
//! let e = hektor_source_json::open(&SourceSpec { options: serde_json::Value::Null, ..spec }).err().unwrap();
//! assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
//! assert!(e.message.contains("pointer"));
//! # Ok::<(), hektor_adapters_api::AdapterError>(())
//! ```
//!
//! ## Options
//! `json` ([`JsonOptions`]): `pointer` (`""`), `gzip` (detected by `.gz` or magic bytes),
//! `maxRecordBytes` (16 MiB). `jsonl` ([`JsonlOptions`]): `gzip`, `maxRecordBytes`.
//!
//! ## Types
//! Records keep their JSON types: numbers, strings, booleans, `null`, nested objects
//! (reached with dotted mapping paths such as `"author.name"`) and arrays; a vector is
//! an array of numbers.
//!
//! ## Errors
//! Positions carry the file, the 0-based record number (array element, or non-blank
//! line for `jsonl`) and the byte offset (in the decompressed text for gzip input) of the
//! record, or of the error inside it for malformed JSON. Row errors stay in the batch and
//! reading goes on: a malformed record is `ERR_PARSE` (nesting deeper than 128 is
//! `ERR_LIMIT`), a record that is not an object `ERR_INVALID_ARG`. These end the stream:
//! a truncated file or broken structure between records, or after the records' array
//! (the rest of the document is read through to its end) (`ERR_PARSE`), a record larger
//! than `maxRecordBytes` (`ERR_LIMIT`), a value skipped on the way to the pointer nested
//! deeper than 10,000 levels (`ERR_LIMIT`), a pointer that leads nowhere (`ERR_NOT_FOUND`),
//! a document that is not an array (`ERR_INVALID_ARG`, with a hint for `pointer` or
//! `jsonl`), a missing file (`ERR_NOT_FOUND`). JSON is UTF-8 (RFC 8259); a UTF-16 file is
//! `ERR_INVALID_ARG`.
#![warn(missing_docs)]

mod array;
mod lines;
mod options;
mod scanner;

pub use array::JsonSource;
pub use lines::JsonlSource;
pub use options::{JsonOptions, JsonlOptions};

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position, Source, SourceSpec};

/// Opens a `json` or `jsonl` source, by `spec.kind`.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    match spec.kind.as_str() {
        "json" => Ok(Box::new(JsonSource::open(spec)?)),
        "jsonl" => Ok(Box::new(JsonlSource::open(spec)?)),
        other => Err(AdapterError::new(
            AdapterErrorCode::InvalidArg,
            format!("the json crate reads kinds 'json' and 'jsonl', not '{other}'"),
            Position { source: spec.display_location(), ..Default::default() },
        )),
    }
}
