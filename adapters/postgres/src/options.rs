//! The options of a postgres source, as the SDK passes them.

use serde::Deserialize;
use serde_json::Value;

/// Options of `{ kind: "postgres" }`. Unknown keys are rejected with `ERR_INVALID_ARG`.
///
/// ```
/// use hektor_source_postgres::PostgresOptions;
/// let o: PostgresOptions = serde_json::from_value(serde_json::json!({
///     "query": "SELECT id, body, embedding FROM docs WHERE lang = $1",
///     "params": ["en"],
///     "batchSize": 500,
///     "tls": "require"
/// })).unwrap();
/// assert_eq!(o.batch_size, Some(500));
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostgresOptions {
    /// The SQL query whose rows become records (required). `$1..$n` are bound from `params`.
    pub query: String,
    /// Values bound to `$1..$n`, in order: numbers, strings, booleans, null, arrays or
    /// objects. Each is sent in PostgreSQL's text form and the server converts it to the
    /// parameter type inferred from the query (`"2024-01-01"` for a date, `[1,2,3]` for a
    /// pgvector `vector`, an object for `jsonb`).
    #[serde(default)]
    pub params: Vec<Value>,
    /// Rows fetched from the server per round trip (default: the batch size the ingest
    /// asks for). A smaller value lowers memory for very wide rows.
    pub batch_size: Option<usize>,
    /// TLS mode: `"disable"`, `"prefer"` (the default, as libpq), `"require"`, `"verify-ca"`
    /// or `"verify-full"`. Also read from `sslmode` in the URL; this option wins.
    pub tls: Option<String>,
    /// A PEM file of CA certificates to verify the server with (also `sslrootcert` in the
    /// URL). With `require` or `prefer` it upgrades verification to `verify-ca`, as libpq.
    pub ca_file: Option<String>,
    /// Run `SELECT count(*)` over the query first so progress reports a total (default false:
    /// that count can cost as much as the query itself).
    #[serde(default)]
    pub count_total: bool,
    /// Return `numeric` values as exact decimal strings instead of JSON numbers (default
    /// false: numbers, which lose digits past about 15 significant digits).
    #[serde(default)]
    pub numeric_as_string: bool,
    /// Milliseconds to wait for the connection and the TLS handshake (default 10000).
    pub timeout_ms: Option<u64>,
}
