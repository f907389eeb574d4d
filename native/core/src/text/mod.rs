//! Full-text search: text analysis and BM25 ranking.
//!
//! * [`Analyzer`] turns text into terms (UAX #29 words, lowercased, stop words removed,
//!   Snowball-stemmed), configured by an [`AnalyzerConfig`] for one of the
//!   [`Language`]s.
//! * [`Bm25Index`] is an in-memory inverted index over documents identified by dense
//!   `u32` slots, scoring with Lucene's BM25 ([`Bm25Params`]) and saved to a
//!   checksummed binary file. [`DocTerms`] holds one document's term frequencies,
//!   computed outside the index's lock.
//!
//! Indexing a document is `DocTerms::from_text(&analyzer, text)` (no lock held) then
//! `index.add_doc(slot, &terms)`; a query is `index.search(&analyzer.analyze(q), k, accept)`.

mod analyzer;
mod bm25;
mod hash;
mod language;
mod stopwords;

pub use analyzer::{Analyzer, AnalyzerConfig, StopwordsConfig, MAX_TOKEN_LEN};
pub use bm25::{Bm25Index, Bm25Params, DocTerms};
pub use language::Language;
