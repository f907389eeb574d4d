//! # hektor-source-arrow
//!
//! hektor's `arrow` and `feather` ingest sources, and the Arrow-to-record conversion that
//! the Parquet source shares ([`convert`]).
//!
//! - **Arrow IPC file** (`.arrow`, starts with `ARROW1`, footer at the end): random
//!   access; the total row count is known before reading (progress bars get a total).
//! - **Arrow IPC stream** (`.arrows`, anything not starting with `ARROW1`): read front to
//!   back; works from a pipe.
//! - **Feather v2**: an Arrow IPC file, possibly with LZ4 or ZSTD compressed buffers.
//!   Feather v1 (`FEA1`) is refused with `ERR_PARSE` and the command that converts it.
//!
//! Corrupt files are `ERR_PARSE`; an LZ4/ZSTD buffer declaring more than 1 GiB
//! uncompressed is `ERR_LIMIT` at open (checked before arrow would reserve it; streams read
//! from a pipe are not checked).
//!
//! Each row becomes a JSON object of the mapped columns only (nested structs become
//! objects that dotted paths reach into; type rules in [`convert::json`]); the vector
//! column (a list or fixed-size list of float32/float16/float64) is decoded straight to
//! `Vec<f32>`. A mapped column the file does not have, or a vector column of another
//! type, fails [`open`] with `ERR_INVALID_ARG` naming the field.
//!
//! ```
//! # use std::sync::Arc;
//! # use arrow::array::{Int64Array, StringArray, RecordBatch};
//! # let path = std::env::temp_dir().join(format!("hektor-arrow-doc-{}.arrow", std::process::id()));
//! # let batch = RecordBatch::try_from_iter([
//! #     ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
//! #     ("title", Arc::new(StringArray::from(vec!["a", "b"])) as _),
//! # ]).unwrap();
//! # let mut w = arrow::ipc::writer::FileWriter::try_new(std::fs::File::create(&path).unwrap(), &batch.schema()).unwrap();
//! # w.write(&batch).unwrap(); w.finish().unwrap();
//! use hektor_adapters_api::{FieldMapping, Source, SourceSpec};
//!
//! let spec = SourceSpec {
//!     kind: "arrow".into(),
//!     location: path.to_string_lossy().into_owned(),
//!     mapping: FieldMapping { id: Some("id".into()), text: vec!["title".into()], ..Default::default() },
//!     ..Default::default()
//! };
//! let mut src = hektor_source_arrow::open(&spec)?;
//! assert_eq!(src.progress().total_rows, Some(2));
//! let batch = src.next_batch(1000)?.unwrap();
//! assert_eq!(batch.rows[1].as_ref().unwrap().text.as_deref(), Some("b"));
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), hektor_adapters_api::AdapterError>(())
//! ```
#![warn(missing_docs)]

mod bodies;
pub mod convert;
pub mod cursor;
pub mod error;
mod footer;
pub mod io;
mod ipc;
mod options;

pub use ipc::IpcSource;
pub use options::ArrowOptions;

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position, Source, SourceSpec};

/// Opens an `arrow` or `feather` source.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    match spec.kind.as_str() {
        "arrow" | "feather" => Ok(Box::new(IpcSource::open(spec)?)),
        other => Err(AdapterError::new(
            AdapterErrorCode::InvalidArg,
            format!("source kind '{other}' is not read by the Arrow source (it reads 'arrow' and 'feather')"),
            Position { source: spec.display_location(), ..Default::default() },
        )),
    }
}
