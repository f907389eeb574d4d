//! hektor ingest source: hdf5 (not implemented yet).
#![warn(missing_docs)]

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position, Source, SourceSpec};

/// Opens a hdf5 source.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    Err(AdapterError::new(AdapterErrorCode::InvalidArg, format!("source kind '{}' is not available in this build", spec.kind), Position { source: spec.display_location(), ..Default::default() }))
}
