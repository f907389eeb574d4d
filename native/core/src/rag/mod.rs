//! Retrieval-augmented generation building blocks that need no model: chunking,
//! prompt templates, model-free rerankers, citation parsing and the grounding check.
//! Model-backed stages (embedders, cross-encoders, generators) implement the traits in
//! [`models`] and live outside the engine crate.

pub mod ask;
pub mod chunk;
pub mod cite;
pub mod models;
pub mod prompt;
pub mod rerank;
