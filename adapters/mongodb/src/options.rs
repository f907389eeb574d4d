//! The options of a mongodb source, as the SDK passes them.

use serde::Deserialize;
use serde_json::Value;

/// Options of `{ kind: "mongodb" }`. Unknown keys are rejected with `ERR_INVALID_ARG`.
///
/// `filter`, `projection` and `sort` are MongoDB documents written as JSON; extended JSON
/// is accepted (`{"_id": {"$oid": "..."}}`, `{"at": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}}`).
///
/// ```
/// use hektor_source_mongodb::MongoOptions;
/// let o: MongoOptions = serde_json::from_value(serde_json::json!({
///     "db": "shop", "collection": "products",
///     "filter": {"stock": {"$gt": 0}}, "projection": {"reviews": 0}, "sort": {"_id": 1},
///     "batchSize": 500, "limit": 10000
/// })).unwrap();
/// assert_eq!(o.collection, "products");
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MongoOptions {
    /// Database name (required).
    pub db: String,
    /// Collection (or view) name (required).
    pub collection: String,
    /// Query filter (default: every document).
    pub filter: Option<Value>,
    /// Projection (default: whole documents).
    pub projection: Option<Value>,
    /// Sort order (default: the server's natural order).
    pub sort: Option<Value>,
    /// Documents per cursor batch (default 1000; the server also caps a batch at 16 MiB).
    pub batch_size: Option<u32>,
    /// Stop after this many documents (default: all).
    pub limit: Option<u64>,
    /// Milliseconds to find a reachable server and to connect (default 5000; the
    /// driver's `serverSelectionTimeoutMS` and `connectTimeoutMS`).
    pub timeout_ms: Option<u64>,
    /// Count the matching documents first (`countDocuments` with the filter) so progress
    /// reports a total (default false).
    #[serde(default)]
    pub count_total: bool,
}
