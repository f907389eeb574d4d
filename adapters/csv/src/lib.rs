//! # hektor-source-csv
//!
//! hektor's `csv` ingest source: a CSV (or TSV) file, optionally gzip-compressed, read
//! record by record with the [`csv`] crate, in batches of at most `max` rows and with
//! memory bounded by the batch, whatever the file size.
//!
//! ```
//! use hektor_adapters_api::{FieldMapping, Source, SourceSpec};
//! # let dir = std::env::temp_dir().join(format!("hektor-csv-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let path = dir.join("docs.csv");
//! let mut w = csv::Writer::from_path(&path).unwrap();
//! w.write_record(["id", "title", "year", "emb"]).unwrap();
//! w.write_record(["a1", "Hello", "2021", "[0.5, 1.5]"]).unwrap();
//! w.flush().unwrap();
//!
//! let spec = SourceSpec {
//!     kind: "csv".into(),
//!     location: path.to_string_lossy().into_owned(),
//!     options: serde_json::json!({ "delimiter": "," }),
//!     mapping: FieldMapping { id: Some("id".into()), text: vec!["title".into()], vector: Some("emb".into()), metadata: vec!["year".into()] },
//! };
//! let mut src = hektor_source_csv::open(&spec)?;
//! let batch = src.next_batch(1000)?.unwrap();
//! let rec = batch.rows[0].as_ref().unwrap();
//! assert_eq!(rec.id, "a1");
//! assert_eq!(rec.vector, Some(vec![0.5, 1.5]));
//! assert_eq!(rec.metadata.as_ref().unwrap()["year"], 2021); // inferred as a number
//!
//! // An option that does not exist is refused.
//! let bad = SourceSpec { options: serde_json::json!({ "delimeter": ";" }), ..spec };
//! assert_eq!(hektor_source_csv::open(&bad).err().unwrap().code.as_str(), "ERR_INVALID_ARG");
//! # Ok::<(), hektor_adapters_api::AdapterError>(())
//! ```
//!
//! ## Options ([`CsvOptions`])
//! `delimiter` (`,`; a tab for `.tsv`/`.tab`), `quote` (`"`; `""` = no quoting), `escape`
//! (none: quotes are doubled), `header` (`true`), `columns` (names; without a header the
//! columns are `"0"`, `"1"`, ...), `types` (per column: `string | number | integer |
//! boolean | json | vector`), `inferTypes` (`true`), `nullValues` (`[""]` with inference),
//! `comment` (none), `skipRows` (0 preamble lines), `trim` (`false`), `gzip` (detected by
//! `.gz` or magic bytes), `encoding` (`utf-8` only), `vectorSeparator` (auto),
//! `maxRecordBytes` (16 MiB).
//!
//! ## From cells to JSON
//! - With `inferTypes`, a cell in JSON number syntax becomes a number (64-bit integers
//!   stay exact; larger integers, leading zeros like `007`, a leading `+`, `NaN` stay
//!   strings), `true`/`false` in any case become booleans, an empty cell is `null`.
//!   Inference is per cell: declare a column's type in `types` to make it uniform.
//! - A `json` column is parsed into nested values, so dotted mapping paths reach into it
//!   (`"meta.author"`).
//! - The mapped vector column is decoded straight to `f32`s: a JSON list `[0.1, 0.2]`,
//!   or numbers separated by `vectorSeparator` (unset: commas if any, else whitespace).
//!   An empty cell is no vector.
//! - Column names are the header's (a UTF-8 byte-order mark is dropped); an empty name
//!   becomes the column's position and a repeated one gets `.1`, `.2`, ... Every mapped
//!   field must name a column (or a path into a `json` column): a typo is
//!   `ERR_INVALID_ARG` at open, listing the columns.
//!
//! ## Errors
//! Positions carry the file, the 0-based data row (the header is not a row), the byte
//! offset of the record (in the decompressed text for gzip input) and the column.
//! A record with the wrong number of fields or invalid UTF-8 is `ERR_PARSE`; a cell that
//! does not fit its declared type or the vector is `ERR_INVALID_ARG`; both are row
//! errors inside the batch, and reading goes on. A record spanning more than
//! `maxRecordBytes` (usually an unclosed quote) is `ERR_LIMIT`, a corrupt or truncated
//! gzip stream is `ERR_PARSE`, a missing file `ERR_NOT_FOUND`: these end the stream.
#![warn(missing_docs)]

mod options;
mod source;

pub use options::{ColumnType, CsvOptions};
pub use source::CsvSource;

use hektor_adapters_api::{AdapterError, Source, SourceSpec};

/// Opens a `csv` source.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    Ok(Box::new(CsvSource::open(spec)?))
}
