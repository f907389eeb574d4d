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
    /// 8-bit scalar quantization (not available yet).
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
        }
    }
}

/// Largest vector dimension accepted.
pub const MAX_DIMENSION: usize = 65_536;

impl CollectionConfig {
    /// Checks every field; returns `ERR_INVALID_ARG` naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if let Some(d) = self.dimension {
            if d == 0 || d > MAX_DIMENSION {
                return Err(Error::invalid(format!("dimension must be between 1 and {MAX_DIMENSION}, got {d}")));
            }
        }
        self.hnsw.validate()?;
        if self.quantization != Quantization::None {
            return Err(Error::invalid(format!(
                "quantization '{}' is not available in this version; use 'none'",
                serde_json::to_value(self.quantization).unwrap().as_str().unwrap_or("?")
            )));
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
        assert!(CollectionConfig::from_json(&json!({"quantization": "sq8"})).is_err());
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
}
