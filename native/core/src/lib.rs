//! # hektor-core
//!
//! The engine behind the `hektor` npm package: on-disk collections of records
//! (id, text, vector, metadata) with HNSW and exact vector search, BM25 full-text
//! search, hybrid fusion and Mongo-style metadata filters. Pure Rust, no N-API.
//!
//! ```
//! use hektor_core::{Database, OpenOptionsDb, CollectionConfig, Record, SearchQuery};
//! # let dir = std::env::temp_dir().join(format!("hektor-doc-{}", std::process::id()));
//! let db = Database::open(&dir, OpenOptionsDb::default())?;
//! let col = db.create_collection("docs", CollectionConfig::default())?;
//! col.upsert(vec![
//!     Record { id: "a".into(), text: Some("the quick brown fox".into()), vector: Some(vec![1.0, 0.0]), metadata: None },
//!     Record { id: "b".into(), text: Some("a lazy dog".into()), vector: Some(vec![0.0, 1.0]), metadata: None },
//! ])?;
//! let hits = col.search(&SearchQuery { text: Some("fox".into()), vector: Some(vec![0.9, 0.1]), ..Default::default() })?;
//! assert_eq!(hits[0].id, "a");
//! db.close()?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), hektor_core::Error>(())
//! ```
#![warn(missing_docs)]

pub mod cancel;
pub mod collection;
pub mod database;
pub mod error;
pub mod filter;
pub mod hybrid;
pub mod rag;
pub mod store;
pub mod text;
pub mod vector;

pub use cancel::{Cancel, Progress};
pub use collection::{Collection, CollectionConfig, Hit, Mode, Quantization, RepairOptions, RepairReport, SearchQuery, Select, VerifyReport};
pub use database::{Database, OpenOptionsDb};
pub use error::{Error, ErrorCode, Location, Result};
pub use filter::Filter;
pub use hybrid::Fusion;
pub use store::Record;
pub use vector::Metric;
