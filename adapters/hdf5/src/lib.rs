//! # hektor-source-hdf5
//!
//! The `hdf5` ingest source of hektor: records from datasets of one HDF5 file (as written
//! by h5py, PyTables' array API, MATLAB v7.3, the ann-benchmarks files, or any HDF5
//! library), row `i` of each dataset making record `i`.
//!
//! ## Options ([`Hdf5Options`])
//! | option | type | default | meaning |
//! |---|---|---|---|
//! | `vectors` | dataset path | none | 2-D `N x D` float16/32/64 dataset: the record's `vector` |
//! | `ids` | dataset path | none | 1-D strings or integers: the record's `id` |
//! | `texts` | dataset path | none | 1-D strings: the record's `text` |
//! | `metadata` | `{ name: path }` | `{}` | 1-D numbers, booleans, enums or strings (or 2-D `N x k` numbers) |
//! | `group` | group path | `/` | where relative dataset paths start |
//!
//! At least one of `vectors` and `texts` is required, and every dataset must have the
//! same number of rows `N`. Paths starting with `/` are absolute.
//!
//! ## The options are the mapping
//! Each row becomes the JSON object `{ id, text, <metadata names>... }` plus the vector,
//! which is decoded natively to `f32` (by the HDF5 library, never through JSON numbers).
//! The record mapping refers to those field names, and each of its empty slots is filled
//! from the options:
//! - `id` unset and `ids` given: `id: "id"` (no `ids` at all: ids are `<file>:<row>`);
//! - `text` empty and `texts` given: `text: ["text"]`;
//! - `vector` unset and `vectors` given: `vector: "vector"`;
//! - `metadata` empty: every key of the `metadata` option.
//!
//! So `sources.hdf5('a.h5', { vectors: '/emb', ids: '/ids', metadata: { year: '/year' } })`
//! needs no mapping at all. An explicit mapping may use any of the field names, e.g.
//! `{ id: 'doc_id' }` with `metadata: { doc_id: '/doc_ids', year: '/year' }`, or
//! `metadata: ['*']` for every field not mapped elsewhere; a name that is not a field is
//! `ERR_INVALID_ARG` when the source opens. Only the datasets the mapping uses are read.
//!
//! ## Types
//! | HDF5 | JSON |
//! |---|---|
//! | signed / unsigned integers (any width) | number (`i64` / `u64`) |
//! | float16 / float32 | number, by its shortest decimal form (`0.1f32` is `0.1`) |
//! | float64 | number |
//! | NaN, infinities (numpy's missing values) | `null` |
//! | boolean (h5py's `FALSE`/`TRUE` enum) | `true` / `false` |
//! | other enums | the member name (the number if it names no member) |
//! | fixed-length strings, ASCII or UTF-8 | string, cut at the first NUL, space padding removed |
//! | variable-length strings | string |
//! | 2-D `N x k` numeric metadata | array of `k` numbers or booleans |
//!
//! Strings must be UTF-8 (ASCII is): any other bytes make that row an `ERR_PARSE` row
//! error naming the field, which `onError: 'skip'` skips. Compound, reference, array and
//! variable-length array types are refused with `ERR_INVALID_ARG` when the source opens;
//! so are integer datasets as `vectors` and non-string `texts`.
//!
//! ## Reading
//! Every batch reads one hyperslab of at most `max` rows from each dataset: memory is
//! bounded by the batch size, never by the file. Chunked datasets get a chunk cache big
//! enough for two rows of chunks (the library's default of 8 MiB, or more for big chunks,
//! up to 64 MiB per dataset), so a chunk that consecutive batches share is decompressed
//! once.
//!
//! Filters: gzip/deflate, lzf, shuffle, fletcher32, n-bit and scale-offset. A dataset
//! whose data went through another one (szip, blosc, zstd, bitshuffle, zfp, ...) is
//! refused with `ERR_PARSE` naming the filter when the source opens.
//!
//! Progress reports rows of the known total `N`, and bytes as the share read so far of
//! the used datasets' stored (compressed) size; variable-length string data lives in the
//! file's heap and is not counted.
//!
//! ## Errors
//! `ERR_NOT_FOUND` for a missing file, group or dataset (listing the file's datasets);
//! `ERR_PARSE` for a file that is not HDF5, is truncated, or whose data cannot be decoded;
//! `ERR_INVALID_ARG` for unknown options, a dataset of the wrong shape or type, datasets of
//! different lengths, or a mapping naming no field; `ERR_IO` for failed reads. The HDF5
//! library's own error printing is silenced: nothing is written to stderr.
//!
//! ```no_run
//! use hektor_adapters_api::{FieldMapping, Source, SourceSpec};
//!
//! let spec = SourceSpec {
//!     kind: "hdf5".into(),
//!     location: "corpus.h5".into(),
//!     options: serde_json::json!({ "vectors": "/emb", "ids": "/ids", "texts": "/passages", "metadata": { "year": "/year" } }),
//!     mapping: FieldMapping::default(),
//! };
//! let mut src = hektor_source_hdf5::open(&spec)?;
//! while let Some(batch) = src.next_batch(1024)? {
//!     for row in batch.rows {
//!         let rec = row?;
//!         println!("{} {:?}", rec.id, rec.vector.map(|v| v.len()));
//!     }
//! }
//! # Ok::<(), hektor_adapters_api::AdapterError>(())
//! ```
#![warn(missing_docs)]

mod column;
mod error;
mod file;
mod mapping;
mod options;
mod raw;
mod source;
mod vectors;

use hektor_adapters_api::{AdapterError, Source, SourceSpec};

pub use mapping::{ID_FIELD, TEXT_FIELD, VECTOR_FIELD};
pub use options::Hdf5Options;
pub use source::Hdf5Source;

/// Opens an hdf5 source (see the crate docs for the options and the mapping).
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    // The `hdf5` crate already turns the library's automatic error printing off before its
    // first call on each thread; say so once more, explicitly, so a host process never
    // sees HDF5-DIAG traces on stderr.
    hdf5::silence_errors(true);
    Ok(Box::new(Hdf5Source::open(spec)?))
}
