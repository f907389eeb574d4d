//! A collection's configuration, fixed at creation (except the dimension, which is
//! learnt from the first vector when not given).

use crate::error::{Error, Result};
use crate::rag::chunk::ChunkOptions;
use crate::text::{AnalyzerConfig, Bm25Params};
use crate::vector::{HnswParams, Metric};
use serde::{Deserialize, Serialize};

/// How vectors are stored in the graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    /// Full-precision `f32`.
    #[default]
    None,
    /// 8-bit scalar quantization: the graph is traversed on 1-byte codes per dimension
    /// (a quarter of the memory), then candidates are re-ranked on the full-precision
    /// vectors, so scores stay exact (see [`crate::vector::quant`]).
    Sq8,
    /// Product quantization (not available yet).
    Pq,
}

/// Everything that defines a collection's behaviour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CollectionConfig {
    /// Vector dimension; `None` until the first vector arrives.
    pub dimension: Option<usize>,
    /// Distance metric.
    pub metric: Metric,
    /// HNSW parameters.
    pub hnsw: HnswParams,
    /// Vector storage in the graph.
    pub quantization: Quantization,
    /// Text analysis for BM25.
    pub analyzer: AnalyzerConfig,
    /// BM25 parameters.
    pub bm25: Bm25Params,
    /// How the SDK re-creates the collection's embedder on open (kind, model path or
    /// name; never a key). Opaque to the engine.
    pub embedder: Option<serde_json::Value>,
    /// Chunk `text` on upsert: each record with text is stored as a parent (its text
    /// not indexed) plus one searchable chunk record per chunk, sized in tokens of the
    /// attached embedder's tokenizer (or in characters). `None`: records are indexed whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunking: Option<ChunkOptions>,
    /// Caps on what one upsert may carry (see [`Limits`]); collections written before
    /// limits existed get the defaults.
    pub limits: Limits,
}

impl Default for CollectionConfig {
    fn default() -> Self {
        CollectionConfig {
            dimension: None,
            metric: Metric::Cosine,
            hnsw: HnswParams::default(),
            quantization: Quantization::None,
            analyzer: AnalyzerConfig::default(),
            bm25: Bm25Params::default(),
            embedder: None,
            chunking: None,
            limits: Limits::default(),
        }
    }
}

/// Largest vector dimension accepted.
pub const MAX_DIMENSION: usize = 65_536;

/// Largest `limits.maxMetadataDepth` accepted: stored metadata is parsed back with
/// serde_json, whose recursion limit (128) must never be reached on replay.
pub const MAX_METADATA_DEPTH: u32 = 100;

/// Caps on the records of one upsert, checked before anything is written; exceeding one
/// is `ERR_LIMIT` naming the row and field. Replaying stored data never checks them, so
/// lowering a limit never makes a collection unreadable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Limits {
    /// Largest record in bytes: id + text (UTF-8) + vector (4 bytes a value) + metadata
    /// as compact JSON. Default 16 MiB; at most 1 GiB (the log's frame cap).
    pub max_record_bytes: u64,
    /// Deepest metadata nesting; the metadata object itself is depth 1. Default 32; at
    /// most [`MAX_METADATA_DEPTH`].
    pub max_metadata_depth: u32,
    /// Largest vector dimension. Default and most [`MAX_DIMENSION`].
    pub max_dimension: usize,
    /// Most records in one upsert batch (the caller's records, not chunks). Default 1,000,000.
    pub max_batch_records: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_record_bytes: 16 << 20, max_metadata_depth: 32, max_dimension: MAX_DIMENSION, max_batch_records: 1_000_000 }
    }
}

impl Limits {
    /// Checks that every cap is within its allowed range; `ERR_INVALID_ARG` naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, range: String| Err(Error::invalid(format!("limits.{field} must be {range}")).with_field(format!("limits.{field}")));
        let max_bytes = crate::store::log::MAX_PAYLOAD;
        if !(1024..=max_bytes).contains(&self.max_record_bytes) {
            return bad("maxRecordBytes", format!("between 1024 and {max_bytes}, got {}", self.max_record_bytes));
        }
        if !(1..=MAX_METADATA_DEPTH).contains(&self.max_metadata_depth) {
            return bad("maxMetadataDepth", format!("between 1 and {MAX_METADATA_DEPTH}, got {}", self.max_metadata_depth));
        }
        if !(1..=MAX_DIMENSION).contains(&self.max_dimension) {
            return bad("maxDimension", format!("between 1 and {MAX_DIMENSION}, got {}", self.max_dimension));
        }
        if !(1..=u32::MAX as usize).contains(&self.max_batch_records) {
            return bad("maxBatchRecords", format!("between 1 and {}, got {}", u32::MAX, self.max_batch_records));
        }
        Ok(())
    }
}

impl CollectionConfig {
    /// Checks every field; returns `ERR_INVALID_ARG` naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        self.limits.validate()?;
        if let Some(d) = self.dimension {
            if d == 0 || d > MAX_DIMENSION {
                return Err(Error::invalid(format!("dimension must be between 1 and {MAX_DIMENSION}, got {d}")));
            }
            if d > self.limits.max_dimension {
                return Err(Error::invalid(format!("dimension {d} is above limits.maxDimension ({})", self.limits.max_dimension)).with_field("dimension"));
            }
        }
        self.hnsw.validate()?;
        if self.quantization == Quantization::Pq {
            return Err(Error::invalid("quantization 'pq' is not available in this version; use 'sq8' or 'none'").with_field("quantization"));
        }
        let b = self.bm25;
        if !(b.k1.is_finite() && b.k1 >= 0.0 && (0.0..=1.0).contains(&b.b)) {
            return Err(Error::invalid("bm25.k1 must be >= 0 and bm25.b between 0 and 1"));
        }
        crate::text::Analyzer::new(&self.analyzer)?;
        if let Some(c) = &self.chunking {
            c.validate().map_err(|e| Error::invalid(format!("chunking: {}", e.message())).with_field("chunking"))?;
        }
        Ok(())
    }

    /// Parses a JSON options object (the SDK's `createCollection` options).
    pub fn from_json(v: &serde_json::Value) -> Result<CollectionConfig> {
        let c: CollectionConfig = serde_json::from_value(v.clone()).map_err(|e| Error::invalid(format!("invalid collection options: {e}")))?;
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_and_validate() {
        let c = CollectionConfig::from_json(&json!({"dimension": 4, "metric": "l2", "hnsw": {"m": 8}})).unwrap();
        assert_eq!(c.dimension, Some(4));
        assert_eq!(c.metric, Metric::L2);
        assert_eq!(c.hnsw.m, 8);
        assert_eq!(c.hnsw.ef_construction, 200);
        assert!(CollectionConfig::from_json(&json!({"metric": "hamming"})).is_err());
        assert!(CollectionConfig::from_json(&json!({"dimension": 0})).is_err());
        assert!(CollectionConfig::from_json(&json!({"hnsw": {"m": 1000}})).is_err());
        assert_eq!(CollectionConfig::from_json(&json!({"quantization": "sq8"})).unwrap().quantization, Quantization::Sq8);
        assert!(CollectionConfig::from_json(&json!({"quantization": "pq"})).is_err());
    }

    #[test]
    fn chunking_options() {
        use crate::rag::chunk::ChunkMode;
        let c = CollectionConfig::from_json(&json!({"chunking": {"mode": "sentence", "size": 100, "overlap": 10}})).unwrap();
        assert_eq!(c.chunking, Some(ChunkOptions { mode: ChunkMode::Sentence, size: 100, overlap: 10 }));
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["chunking"], json!({"mode": "sentence", "size": 100, "overlap": 10}));
        assert_eq!(CollectionConfig::from_json(&json!({"chunking": {}})).unwrap().chunking, Some(ChunkOptions::default()));
        // absent: not serialized, so unchunked collection files are unchanged
        assert!(serde_json::to_value(CollectionConfig::default()).unwrap().get("chunking").is_none());
        for bad in [json!({"size": 0}), json!({"size": 10, "overlap": 10}), json!({"mode": "words"}), json!({"sise": 3}), json!(true)] {
            let e = CollectionConfig::from_json(&json!({ "chunking": bad })).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidArg, "{bad}");
        }
    }

    #[test]
    fn limits_options() {
        let c = CollectionConfig::from_json(&json!({})).unwrap();
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.limits.max_record_bytes, 16 << 20);
        assert_eq!(c.limits.max_metadata_depth, 32);
        assert_eq!(c.limits.max_dimension, MAX_DIMENSION);
        assert_eq!(c.limits.max_batch_records, 1_000_000);
        let c = CollectionConfig::from_json(&json!({"limits": {"maxRecordBytes": 4096, "maxMetadataDepth": 4, "maxDimension": 8, "maxBatchRecords": 10}})).unwrap();
        assert_eq!(c.limits, Limits { max_record_bytes: 4096, max_metadata_depth: 4, max_dimension: 8, max_batch_records: 10 });
        // persisted with the rest of the configuration, and read back
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["limits"], json!({"maxRecordBytes": 4096, "maxMetadataDepth": 4, "maxDimension": 8, "maxBatchRecords": 10}));
        assert_eq!(CollectionConfig::from_json(&back).unwrap(), c);
        // partial: the rest default
        let c = CollectionConfig::from_json(&json!({"limits": {"maxMetadataDepth": 5}})).unwrap();
        assert_eq!(c.limits, Limits { max_metadata_depth: 5, ..Limits::default() });
        // a file of a collection made before limits existed
        let old: CollectionConfig = serde_json::from_value(json!({"dimension": 3, "metric": "l2"})).unwrap();
        assert_eq!(old.limits, Limits::default());
        for bad in [
            json!({"maxRecordBytes": 0}),
            json!({"maxRecordBytes": (1u64 << 30) + 1}),
            json!({"maxMetadataDepth": 0}),
            json!({"maxMetadataDepth": 101}),
            json!({"maxDimension": 0}),
            json!({"maxDimension": MAX_DIMENSION + 1}),
            json!({"maxBatchRecords": 0}),
            json!({"maxBatchRecords": -1}),
            json!({"maxRecords": 3}),
            json!(7),
        ] {
            let e = CollectionConfig::from_json(&json!({ "limits": bad })).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidArg, "{bad}");
        }
        let e = CollectionConfig::from_json(&json!({"dimension": 16, "limits": {"maxDimension": 8}})).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::InvalidArg);
    }
}
