//! Vector storage and search: SIMD distances, the memory-mapped store, 8-bit scalar
//! quantization, HNSW construction (hnsw_rs), the frozen searchable graph and exact search.

pub mod distance;
pub mod flat;
pub mod graph;
pub mod hnsw;
pub mod quant;
pub mod store;

pub use distance::Metric;
pub use graph::{FrozenGraph, Scored};
pub use hnsw::{HnswBuilder, HnswParams};
pub use quant::{Codes, Sq8};
pub use store::{CodeStore, VectorStore};
