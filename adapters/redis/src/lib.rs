//! # hektor-source-redis
//!
//! Streams keys from Redis into hektor records: `{ kind: "redis", location:
//! "redis://:password@host:6379/0" (or `rediss://` for TLS), options: { pattern, type } }`.
//!
//! - **Streaming**: `SCAN` (with `MATCH pattern` and the `count` hint) walks the keyspace;
//!   each batch of keys is read with one pipelined round trip (`HGETALL` / `GET` /
//!   `JSON.GET`), two in `auto` mode (`TYPE` first). Memory is bounded by the batch.
//!   `SCAN` may return a key twice when the keyspace is resized mid-scan; the key is the
//!   record id, so the repeat is an idempotent upsert.
//! - **Values** (`type`): `auto` (default) reads hashes as their fields, strings as JSON
//!   (a string that is not a JSON object becomes `{ "value": ... }`) and RedisJSON
//!   documents with `JSON.GET key $`; `hash`, `json` and `rejson` read one kind only (a key
//!   of another type, or a `json` string that does not parse, is a row error). `rejson`
//!   against a server without the RedisJSON module fails at open with `ERR_INVALID_ARG`.
//!   Lists, sets, sorted sets and streams are row errors in `auto` mode: narrow the pattern.
//! - **Ids**: the row object carries the key as `_key`; with no `id` mapping the key is the
//!   record id (and `_key` stays out of `metadata: ["*"]`).
//! - **Hash fields are strings**: with `inferTypes` (default true) a field that is exactly
//!   a canonical integer (`"42"`, `"-7"`, within i64) or decimal (`"3.50"`) becomes a
//!   number and `"true"`/`"false"` a boolean; forms that would not round-trip (`"007"`,
//!   `"1e3"`, `"+1"`) stay strings. Binary field values become base64.
//! - **Vectors** in a hash field are decoded natively: a JSON array as text
//!   (`vectorEncoding: "json"`, default) or raw little-endian float32 bytes as RediSearch
//!   stores them (`"f32le"`). In JSON values the vector is a JSON array.
//! - **TLS**: `rediss://` URLs, rustls with the system's roots, or `caFile`.
//!
//! ## Errors
//! Unreachable server `ERR_CONNECT`; `WRONGPASS` / `NOAUTH` `ERR_AUTH` (at open: the source
//! pings the server); bad URL or options `ERR_INVALID_ARG`. Row errors name the redacted
//! URL plus the pattern, the 0-based record number, the key and the field. The password
//! never appears.
//!
//! ## Progress
//! Records and the bytes of the values read; no total (a pattern count would need a full
//! extra `SCAN`).
#![warn(missing_docs)]

mod convert;
mod error;
mod options;
mod source;

pub use convert::infer_scalar;
pub use options::{RedisOptions, ValueType, VectorEncoding};
pub use source::RedisSource;

use hektor_adapters_api::{AdapterError, Source, SourceSpec};

/// Opens a redis source: connects, authenticates and pings the server.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    Ok(Box::new(RedisSource::open(spec)?))
}
