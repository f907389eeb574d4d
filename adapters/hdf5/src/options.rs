//! The options of an hdf5 source, as the SDK passes them.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Options of `{ kind: "hdf5" }`: which datasets of the file hold the vectors, ids, texts
/// and metadata. Unknown keys are rejected with `ERR_INVALID_ARG`.
///
/// Dataset paths are HDF5 paths (`"/train"`, `"embeddings/vectors"`). A path that starts
/// with `/` is absolute; any other is relative to [`group`](Self::group) (or to the root
/// group when `group` is not given). Every dataset must have the same number of rows `N`
/// (its first dimension).
///
/// ```
/// use hektor_source_hdf5::Hdf5Options;
/// let o: Hdf5Options = serde_json::from_value(serde_json::json!({
///     "group": "/corpus",
///     "vectors": "embeddings",
///     "ids": "doc_ids",
///     "texts": "passages",
///     "metadata": { "year": "year", "lang": "/shared/lang" }
/// })).unwrap();
/// assert_eq!(o.vectors.as_deref(), Some("embeddings"));
/// assert_eq!(o.metadata["lang"], "/shared/lang");
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Hdf5Options {
    /// The group that relative dataset paths start from (default: the root group `/`).
    pub group: Option<String>,
    /// A 2-D dataset `N x D` of floats (float16, float32 or float64; chunked or
    /// contiguous, compressed with gzip, lzf, shuffle, scale-offset or n-bit): row `i` is
    /// the vector of record `i`. It becomes the record field `vector`, decoded directly to
    /// 32-bit floats.
    pub vectors: Option<String>,
    /// A 1-D dataset of `N` ids: strings (fixed or variable length) or integers. It becomes
    /// the record field `id`. Without it, ids are `<file>:<row>`.
    pub ids: Option<String>,
    /// A 1-D dataset of `N` strings (fixed or variable length). It becomes the record
    /// field `text`.
    pub texts: Option<String>,
    /// Metadata fields: field name -> dataset path. Each dataset is 1-D with `N` numbers,
    /// booleans, enums or strings (or 2-D `N x k` numbers, one array per record).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}
