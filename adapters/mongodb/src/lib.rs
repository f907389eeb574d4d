//! # hektor-source-mongodb
//!
//! Streams the documents of a MongoDB collection into hektor records: `{ kind: "mongodb",
//! location: "mongodb://user:pass@host:27017/?authSource=admin", options: { db, collection,
//! filter, projection, sort, batchSize, limit } }`.
//!
//! - **Streaming**: one `find` cursor, read `batchSize` documents per round trip (default
//!   1000); each document is converted from its raw BSON bytes, so memory stays bounded by
//!   the batch.
//! - **Ids**: with no `id` mapping, a document's `_id` is the record id (an ObjectId as its
//!   24-hex-digit string) and `_id` is left out of the metadata; documents without `_id`
//!   get the generated `<source>:<row>` id. Map `id` to use another field.
//! - **Nested documents** stay nested: mapping paths reach into them (`"author.name"`,
//!   `"chunks.0.text"`), and `metadata: ["*"]` keeps every unmapped top-level field.
//! - **Vectors**: the mapped vector field is decoded straight from BSON into `Vec<f32>`: an
//!   array of doubles / int32 / int64, or a BSON binary vector (subtype 9: float32, int8,
//!   packed bits), as Atlas Vector Search stores them. Anything else is `ERR_INVALID_ARG`
//!   naming the row and field.
//! - **TLS** and authentication come from the URI (`tls=true`, `tlsCAFile=...`,
//!   `authSource`, `authMechanism`), handled by the official driver with rustls.
//!
//! ## Types
//! | BSON | JSON |
//! | --- | --- |
//! | double, int32, int64 | number (NaN and infinities as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`) |
//! | string, symbol, JavaScript code | string |
//! | boolean | boolean |
//! | null, undefined | null |
//! | document, array | object, array (nested) |
//! | ObjectId | 24-hex-digit string |
//! | date | ISO 8601 string, `"2024-01-31T12:00:00Z"` (milliseconds as a number when out of the ISO range) |
//! | Decimal128 | string (exact) |
//! | binary | base64 string; UUID (subtypes 3, 4) as `"xxxxxxxx-xxxx-..."`; vector (subtype 9) as an array of numbers |
//! | regular expression | `"/pattern/flags"` |
//! | timestamp | `{ "t": seconds, "i": increment }` |
//! | MinKey, MaxKey | `"MinKey"`, `"MaxKey"` |
//!
//! ## Errors
//! No reachable server within `timeoutMs` (default 5 s) `ERR_CONNECT`; refused credentials
//! `ERR_AUTH`; a collection that does not exist `ERR_NOT_FOUND`; a bad filter, projection,
//! sort or option `ERR_INVALID_ARG`; malformed BSON `ERR_PARSE`. Positions name the
//! redacted URI plus `db.collection`, the 0-based document number and the field; the
//! password never appears.
//!
//! ## Progress
//! Documents and their BSON bytes; the total only with `countTotal: true`
//! (`countDocuments` with the filter and limit).
#![warn(missing_docs)]

mod convert;
mod error;
mod options;
mod source;

pub use convert::{document_to_json, vector as decode_vector};
pub use options::MongoOptions;
pub use source::MongoSource;

use hektor_adapters_api::{AdapterError, Source, SourceSpec};

/// Opens a mongodb source: connects and opens the `find` cursor.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    Ok(Box::new(MongoSource::open(spec)?))
}
