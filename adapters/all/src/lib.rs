//! # hektor-adapters
//!
//! The facade over hektor's ingest sources: [`open`] turns a [`SourceSpec`] into a
//! streaming [`Source`], dispatching on its kind. Each format lives in its own crate
//! (`adapters/<family>`) behind a cargo feature of the same name, so a build can leave
//! out formats (and their C or network dependencies) it does not need; the npm build
//! enables them all.
#![warn(missing_docs)]

pub use hektor_adapters_api::*;

/// Every kind this facade knows, with the cargo feature that provides it.
pub const KINDS: &[(&str, &str)] = &[
    ("csv", "csv"),
    ("json", "json"),
    ("jsonl", "json"),
    ("xml", "xml"),
    ("arrow", "arrow"),
    ("feather", "arrow"),
    ("parquet", "parquet"),
    ("avro", "avro"),
    ("protobuf", "protobuf"),
    ("hdf5", "hdf5"),
    ("postgres", "postgres"),
    ("mongodb", "mongodb"),
    ("redis", "redis"),
];

/// Opens the source described by `spec`.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    let unavailable = || {
        let known = KINDS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ");
        let msg = if KINDS.iter().any(|(k, _)| *k == spec.kind) {
            format!("source kind '{}' is not compiled into this build", spec.kind)
        } else {
            format!("unknown source kind '{}' (known: {known})", spec.kind)
        };
        Err(AdapterError::new(AdapterErrorCode::InvalidArg, msg, Position { source: spec.display_location(), ..Default::default() }))
    };
    match spec.kind.as_str() {
        #[cfg(feature = "csv")]
        "csv" => hektor_source_csv::open(spec),
        #[cfg(feature = "json")]
        "json" | "jsonl" => hektor_source_json::open(spec),
        #[cfg(feature = "xml")]
        "xml" => hektor_source_xml::open(spec),
        #[cfg(feature = "arrow")]
        "arrow" | "feather" => hektor_source_arrow::open(spec),
        #[cfg(feature = "parquet")]
        "parquet" => hektor_source_parquet::open(spec),
        #[cfg(feature = "avro")]
        "avro" => hektor_source_avro::open(spec),
        #[cfg(feature = "protobuf")]
        "protobuf" => hektor_source_protobuf::open(spec),
        #[cfg(feature = "hdf5")]
        "hdf5" => hektor_source_hdf5::open(spec),
        #[cfg(feature = "postgres")]
        "postgres" => hektor_source_postgres::open(spec),
        #[cfg(feature = "mongodb")]
        "mongodb" => hektor_source_mongodb::open(spec),
        #[cfg(feature = "redis")]
        "redis" => hektor_source_redis::open(spec),
        _ => unavailable(),
    }
}
