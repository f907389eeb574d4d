//! Arrow arrays to hektor records, shared by the Arrow/Feather and Parquet sources.
//!
//! - [`RowConverter`] checks a [`FieldMapping`](hektor_adapters_api::FieldMapping) against
//!   a schema, says which columns to read, and turns each [`RecordBatch`](arrow::array::RecordBatch)
//!   into records, column by column.
//! - [`array_to_json`] turns one column into JSON values (type rules in [`json`]).
//! - [`decode_vectors`] turns a float list column into `Vec<f32>`s without JSON.

pub mod json;
mod rows;
pub mod vector;

pub use json::array_to_json;
pub use rows::RowConverter;
pub use vector::{check_vector_type, decode_vectors};
