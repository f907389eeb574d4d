//! # hektor-source-avro
//!
//! Reads Avro Object Container Files (`.avro`) record by record: the `avro` source kind.
//! Rows are decoded from a buffered file with apache-avro's `Reader` (memory stays at one
//! data block plus one batch whatever the file size), resolved against an optional reader
//! schema, converted to JSON and mapped; the mapped vector field (an `array<float>` or
//! `array<double>`) is decoded straight into `Vec<f32>`.
//!
//! ## Options (`SourceSpec::options`)
//! | option | type | default | meaning |
//! | --- | --- | --- | --- |
//! | `readerSchema` | string (schema JSON) or object | none: read as written | the schema to read the file as (schema evolution) |
//!
//! Unknown options are `ERR_INVALID_ARG`. Codecs: `null`, `deflate`, `snappy`, `zstandard`
//! and `bzip2` (`xz` is not built in: it would link liblzma from C).
//!
//! ## Schema evolution
//! With `readerSchema`, each record is resolved as the Avro specification says: fields are
//! matched by name or by the reader field's `aliases`; writer fields the reader lacks are
//! dropped; reader fields the file lacks take their `default` (a reader field with neither is
//! `ERR_INVALID_ARG` at open); `int → long → float → double` and `string ↔ bytes` promote;
//! named types match by unqualified name or reader alias; an enum symbol unknown to the
//! reader takes the reader enum's `default`. Incompatibilities are found when the source is
//! opened, except a writer union branch that the reader cannot take, which fails only the
//! rows that use it.
//!
//! ## JSON types
//! | Avro | JSON |
//! | --- | --- |
//! | record, map | object (a file whose records are not records gives rows `{"value": ...}`) |
//! | array | array |
//! | union | the chosen branch's value (`null` for the null branch) |
//! | enum | the symbol |
//! | int, long | number; a string when beyond ±(2^53 - 1), which a JavaScript number cannot hold |
//! | float, double | number (`float` via its shortest decimal: `0.1f32` is `0.1`); NaN and ±infinity as `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | bytes, fixed | standard base64 string |
//! | decimal, big-decimal | number when the value round-trips exactly through an `f64`, otherwise a string with every digit (with an exponent, `"12E-5000"`, past 1,000 leading zeros) |
//! | date | `"YYYY-MM-DD"` |
//! | time-millis / time-micros | `"HH:MM:SS.sss"` / `"HH:MM:SS.ssssss"` |
//! | timestamp-millis / -micros / -nanos | ISO-8601 UTC: `"2024-05-01T12:34:56.789Z"` (3, 6 or 9 fractional digits) |
//! | local-timestamp-* | the same without `Z` |
//! | uuid | hyphenated string |
//! | duration | `{ "months": n, "days": n, "millis": n }` |
//!
//! ## Errors
//! A missing file is `ERR_NOT_FOUND`; a file that is not Avro, a truncated file, a corrupt
//! block or sync marker are `ERR_PARSE`, which ends the stream (rows read before it are
//! delivered first); a block length beyond [`MAX_ALLOCATION`] is `ERR_LIMIT`, and so is, with
//! a recursive schema, a record nested deeper than [`MAX_DEPTH`] levels. A record that
//! cannot be resolved or mapped is a row error (`ERR_INVALID_ARG`) naming its field. Avro
//! records have no offsets of their own: `Position::byte` is the offset of the data block
//! that holds the record.
//!
//! ```no_run
//! use hektor_adapters_api::{FieldMapping, SourceSpec};
//! let spec = SourceSpec {
//!     kind: "avro".into(),
//!     location: "products.avro".into(),
//!     options: serde_json::json!({}),
//!     mapping: FieldMapping { id: Some("sku".into()), text: vec!["title".into()], vector: Some("embedding".into()), metadata: vec!["*".into()] },
//! };
//! let mut source = hektor_source_avro::open(&spec)?;
//! while let Some(batch) = source.next_batch(1024)? {
//!     for row in batch.rows {
//!         let record = row?;
//!         println!("{} {:?}", record.id, record.text);
//!     }
//! }
//! # Ok::<(), hektor_adapters_api::AdapterError>(())
//! ```
#![warn(missing_docs)]

mod convert;
mod depth;
mod json;
mod resolve;
mod source;
mod time;

use hektor_adapters_api::{AdapterError, Source, SourceSpec};
use serde::Deserialize;

pub use depth::MAX_DEPTH;
pub use source::{AvroSource, MAX_ALLOCATION};

/// Options of the `avro` source.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AvroOptions {
    /// The reader schema (JSON text, or the schema as a JSON object) to resolve each record
    /// against; `None` reads records as the file's writer schema describes them.
    pub reader_schema: Option<serde_json::Value>,
}

/// Opens an `avro` source.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    Ok(Box::new(AvroSource::open(spec)?))
}
