//! The options of a redis source, as the SDK passes them.

use serde::Deserialize;

/// How key values are read.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ValueType {
    /// Per key, by `TYPE`: hashes as `HGETALL`, strings as JSON (or `{ "value": s }` when
    /// not a JSON object), RedisJSON documents as `JSON.GET key $`.
    #[default]
    Auto,
    /// Hashes only (`HGETALL`); another type is a row error.
    Hash,
    /// Strings holding JSON (`GET`); a string that is not JSON is a row error.
    Json,
    /// RedisJSON documents (`JSON.GET key $`); the server must have the module.
    Rejson,
}

/// How a vector stored in a hash field is encoded.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum VectorEncoding {
    /// A JSON array as text: `"[0.1, 0.2]"`.
    #[default]
    Json,
    /// Raw little-endian float32 bytes, as RediSearch vector fields store them.
    F32le,
}

/// Options of `{ kind: "redis" }`. Unknown keys are rejected with `ERR_INVALID_ARG`.
///
/// ```
/// use hektor_source_redis::{RedisOptions, ValueType, VectorEncoding};
/// let o: RedisOptions = serde_json::from_value(serde_json::json!({
///     "pattern": "doc:*", "type": "hash", "vectorEncoding": "f32le"
/// })).unwrap();
/// assert_eq!((o.value_type, o.vector_encoding), (ValueType::Hash, VectorEncoding::F32le));
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RedisOptions {
    /// `SCAN MATCH` pattern (default `"*"`).
    pub pattern: Option<String>,
    /// `SCAN COUNT` hint: keys the server examines per `SCAN` call (default 500).
    pub count: Option<u64>,
    /// Value type: `"auto"` (default), `"hash"`, `"json"` or `"rejson"`.
    #[serde(default, rename = "type")]
    pub value_type: ValueType,
    /// Turn hash field strings that look like numbers or booleans into JSON numbers and
    /// booleans (default true; see the crate docs for the exact rule).
    pub infer_types: Option<bool>,
    /// Encoding of a vector stored in a hash field: `"json"` (default) or `"f32le"`.
    #[serde(default)]
    pub vector_encoding: VectorEncoding,
    /// A PEM file of CA certificates for `rediss://` servers whose certificate the system
    /// store does not trust.
    pub ca_file: Option<String>,
    /// Milliseconds to wait for the connection and for each reply (default 10000).
    pub timeout_ms: Option<u64>,
}
