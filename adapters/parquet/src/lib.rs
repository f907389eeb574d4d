//! # hektor-source-parquet
//!
//! hektor's `parquet` ingest source: row groups streamed through the Arrow reader with
//! column projection, nested columns as nested JSON, and `list<float>` /
//! `fixed_size_list<float>` columns decoded natively as vectors. The Arrow-to-record
//! conversion is shared with the Arrow/Feather source ([`hektor_source_arrow::convert`]),
//! so both map types the same way.
//!
//! Options ([`ParquetOptions`]): `batchSize` (rows per decoded batch) and `rowGroups`
//! (which row groups to read). Progress has the total row count from the footer from the
//! start, and the bytes actually read.
//!
//! ```
//! # use std::sync::Arc;
//! # use arrow::array::{Int64Array, StringArray, RecordBatch};
//! # let path = std::env::temp_dir().join(format!("hektor-parquet-doc-{}.parquet", std::process::id()));
//! # let batch = RecordBatch::try_from_iter([
//! #     ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
//! #     ("body", Arc::new(StringArray::from(vec!["a", "b"])) as _),
//! #     ("unused", Arc::new(StringArray::from(vec!["x", "y"])) as _),
//! # ]).unwrap();
//! # let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
//! # w.write(&batch).unwrap(); w.close().unwrap();
//! use hektor_adapters_api::{FieldMapping, Source, SourceSpec};
//!
//! let spec = SourceSpec {
//!     kind: "parquet".into(),
//!     location: path.to_string_lossy().into_owned(),
//!     options: serde_json::json!({ "batchSize": 4096 }),
//!     mapping: FieldMapping { id: Some("id".into()), text: vec!["body".into()], ..Default::default() },
//! };
//! let mut src = hektor_source_parquet::open(&spec)?; // decodes `id` and `body` only
//! assert_eq!(src.progress().total_rows, Some(2));
//! let batch = src.next_batch(1000)?.unwrap();
//! assert_eq!(batch.rows[0].as_ref().unwrap().id, "1");
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), hektor_adapters_api::AdapterError>(())
//! ```
#![warn(missing_docs)]

mod chunk;
mod options;
mod source;

pub use options::ParquetOptions;
pub use source::ParquetSource;

use hektor_adapters_api::{AdapterError, Source, SourceSpec};

/// Opens a `parquet` source.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    Ok(Box::new(ParquetSource::open(spec)?))
}
