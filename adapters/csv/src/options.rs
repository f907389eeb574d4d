//! The options of the `csv` source.

use std::collections::HashMap;

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};
use serde::Deserialize;

/// Options of a CSV source (`SourceSpec::options`, camelCase keys; unknown keys are
/// `ERR_INVALID_ARG`).
///
/// ```
/// use hektor_source_csv::CsvOptions;
/// let o: CsvOptions = serde_json::from_value(serde_json::json!({
///     "delimiter": ";", "types": { "zip": "string", "emb": "vector" }, "vectorSeparator": " "
/// })).unwrap();
/// assert_eq!(o.delimiter.as_deref(), Some(";"));
/// assert!(o.header);
/// let bad = serde_json::from_value::<CsvOptions>(serde_json::json!({ "delimeter": ";" }));
/// assert!(bad.is_err());
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct CsvOptions {
    /// Field delimiter, one ASCII character. Default `,` (a tab for `.tsv`/`.tab` files).
    pub delimiter: Option<String>,
    /// Quote character, one ASCII character; `""` turns quoting off. Default `"`.
    pub quote: Option<String>,
    /// Escape character inside quoted fields (e.g. `\`), instead of doubled quotes. Default none.
    pub escape: Option<String>,
    /// Whether the first record is a header naming the columns. Default `true`.
    pub header: bool,
    /// Column names: with a header they replace its names (same count), without a header
    /// they name the columns (default `"0"`, `"1"`, ...).
    pub columns: Option<Vec<String>>,
    /// Per-column type, by column name: overrides inference for that column.
    pub types: HashMap<String, ColumnType>,
    /// Whether untyped cells that look like numbers or booleans become JSON numbers and
    /// booleans, and empty cells `null`. Default `true`; `false` keeps every cell a string.
    pub infer_types: bool,
    /// Cells that mean `null` (compared after `trim`). Default `[""]` with `inferTypes`,
    /// none without.
    pub null_values: Option<Vec<String>>,
    /// Lines starting with this ASCII character are skipped. Default none.
    pub comment: Option<String>,
    /// Physical lines to skip before the header (a preamble). Default 0.
    pub skip_rows: u64,
    /// Whether to trim whitespace around fields and header names. Default `false`.
    pub trim: bool,
    /// Gzip: `true`, `false`, or unset to detect it (`.gz` name or gzip magic bytes).
    pub gzip: Option<bool>,
    /// Text encoding; only `utf-8` is supported (the option exists to fail clearly).
    pub encoding: Option<String>,
    /// Separator of the numbers of a vector cell written as a list (e.g. `" "` or `";"`).
    /// Unset: a `[..]` JSON list or commas, else whitespace.
    pub vector_separator: Option<String>,
    /// The most bytes one record may span (a guard against an unclosed quote swallowing
    /// the file): `ERR_LIMIT` beyond. Default 16 MiB.
    pub max_record_bytes: Option<u64>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: None,
            quote: None,
            escape: None,
            header: true,
            columns: None,
            types: HashMap::new(),
            infer_types: true,
            null_values: None,
            comment: None,
            skip_rows: 0,
            trim: false,
            gzip: None,
            encoding: None,
            vector_separator: None,
            max_record_bytes: None,
        }
    }
}

/// The declared type of a column (`types` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ColumnType {
    /// Kept as text.
    String,
    /// A number (integer or float); anything else is `ERR_INVALID_ARG`.
    Number,
    /// A 64-bit integer; anything else is `ERR_INVALID_ARG`.
    Integer,
    /// `true/false`, `t/f`, `yes/no`, `y/n`, `1/0` in any case.
    Boolean,
    /// A JSON text (object, array, ...), parsed into nested metadata.
    Json,
    /// A vector: a JSON list `[0.1, 0.2]` or numbers separated by `vectorSeparator`.
    Vector,
}

/// One ASCII character from an option, or `ERR_INVALID_ARG`.
pub(crate) fn ascii_char(name: &str, v: &str, source: &str) -> Result<u8, AdapterError> {
    match v.as_bytes() {
        [b] if b.is_ascii() => Ok(*b),
        _ => Err(AdapterError::new(
            AdapterErrorCode::InvalidArg,
            format!("csv option {name} must be a single ASCII character, got {v:?}"),
            Position { source: source.to_string(), ..Default::default() },
        )),
    }
}
