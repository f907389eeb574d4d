//! # hektor-source-postgres
//!
//! Streams the rows of a SQL query from PostgreSQL into hektor records: `{ kind: "postgres",
//! location: "postgres://user:pass@host:5432/db?sslmode=require", options: { query, params } }`.
//!
//! - **Streaming**: the query runs in a read-only, repeatable-read transaction as a
//!   server-side portal; each fetch executes it for at most `batchSize` rows (default: the
//!   batch the ingest asks for), so memory stays bounded whatever the table size.
//! - **Parameters**: `params` bind to `$1..$n`; each JSON value is sent as text and the
//!   server converts it to the type it inferred (see [`PostgresOptions::params`]).
//! - **Vectors**: when the mapped vector column is `real[]`, `double precision[]`, or
//!   pgvector's `vector`, `halfvec` or `sparsevec`, it is decoded from the binary wire
//!   format straight into `Vec<f32>`. Any other column type goes through JSON (a `jsonb`
//!   array works; a `text` column is an `ERR_INVALID_ARG` naming the row and column).
//! - **TLS**: rustls (no OpenSSL), with libpq's modes `disable`, `prefer` (default),
//!   `require`, `verify-ca`, `verify-full` from the `tls` option or `sslmode` in the URL,
//!   and `caFile` / `sslrootcert`.
//!
//! ## Types
//! | PostgreSQL | JSON |
//! | --- | --- |
//! | `int2`, `int4`, `int8`, `oid` | number |
//! | `float4`, `float8` | number (`"NaN"`, `"Infinity"`, `"-Infinity"` as strings) |
//! | `numeric` | number (f64), or the exact decimal string with `numericAsString: true`; NaN and infinities as strings |
//! | `money` | number of currency units (cents / 100) |
//! | `text`, `varchar`, `char(n)`, `name`, `citext`, `xml`, enums, `"char"` | string |
//! | `bool` | boolean |
//! | `json`, `jsonb` | nested JSON |
//! | `uuid` | string |
//! | `date` | `"2024-01-31"` |
//! | `time`, `timetz` | `"13:45:00.5"`, `"13:45:00+02:00"` |
//! | `timestamp` | `"2024-01-31T13:45:00.123"` (no zone) |
//! | `timestamptz` | `"2024-01-31T11:45:00Z"` (UTC) |
//! | `interval` | ISO 8601 duration, `"P1Y2M3DT4H5M6S"` |
//! | `bytea` | base64 string |
//! | `inet`, `cidr`, `macaddr`, `bit`, `varbit` | their text form |
//! | arrays of any of these | arrays (nested for multi-dimensional arrays) |
//! | `vector`, `halfvec`, `sparsevec` (pgvector) | array of numbers (dense) |
//! | domains | as their base type |
//!
//! Any other type (composites, ranges, geometric types, `tsvector`, ...) fails at open with
//! `ERR_INVALID_ARG` naming the column and its type: cast it in the query (`col::text`).
//! SQL NULL is JSON `null` (a NULL vector column gives a record without a vector).
//!
//! ## Errors
//! Unreachable server or timeout `ERR_CONNECT`; refused credentials (SQLSTATE class 28) or
//! missing privilege `ERR_AUTH`; unknown database or table `ERR_NOT_FOUND`; any other SQL
//! error `ERR_PARSE` with the server's message and SQLSTATE; a parameter the server cannot
//! convert or bad options `ERR_INVALID_ARG`. Positions name the redacted URL plus
//! `" query"`, the 0-based row and the column; the password never appears.
//!
//! ## Progress
//! Rows and the bytes of the values received; the total only with `countTotal: true` (one
//! `SELECT count(*)` over the query, in the same snapshot).
#![warn(missing_docs)]

mod decode;
mod error;
mod options;
mod params;
mod source;
mod tls;

pub use decode::{to_vector as decode_vector, Decoder};
pub use options::PostgresOptions;
pub use source::PostgresSource;
pub use tls::TlsMode;

use hektor_adapters_api::{AdapterError, Source, SourceSpec};

/// Opens a postgres source: connects, prepares `options.query` and opens a portal.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    Ok(Box::new(PostgresSource::open(spec)?))
}
