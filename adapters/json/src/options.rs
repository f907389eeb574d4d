//! The options of the `json` and `jsonl` sources.

use serde::Deserialize;

/// Options of a `json` source (camelCase keys; unknown keys are `ERR_INVALID_ARG`).
///
/// ```
/// use hektor_source_json::JsonOptions;
/// let o: JsonOptions = serde_json::from_value(serde_json::json!({ "pointer": "/data/items" })).unwrap();
/// assert_eq!(o.pointer, "/data/items");
/// assert!(serde_json::from_value::<JsonOptions>(serde_json::json!({ "path": "/data" })).is_err());
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct JsonOptions {
    /// JSON pointer (RFC 6901) to the array of records, e.g. `/data/items`; `~1` stands for
    /// `/` and `~0` for `~` in a key, a number indexes an array. Default `""`: the document
    /// itself is the array.
    pub pointer: String,
    /// Gzip: `true`, `false`, or unset to detect it (`.gz` name or gzip magic bytes).
    pub gzip: Option<bool>,
    /// The most bytes one record may span: `ERR_LIMIT` beyond. Default 16 MiB.
    pub max_record_bytes: Option<u64>,
}

/// Options of a `jsonl` (JSON Lines, NDJSON) source.
///
/// ```
/// use hektor_source_json::JsonlOptions;
/// let o: JsonlOptions = serde_json::from_value(serde_json::json!({ "gzip": true })).unwrap();
/// assert_eq!(o.gzip, Some(true));
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct JsonlOptions {
    /// Gzip: `true`, `false`, or unset to detect it (`.gz` name or gzip magic bytes).
    pub gzip: Option<bool>,
    /// The longest line accepted: `ERR_LIMIT` beyond. Default 16 MiB.
    pub max_record_bytes: Option<u64>,
}
