//! An in-memory BM25 inverted index over documents identified by dense `u32` slots,
//! with a checksummed binary file format.

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use super::analyzer::Analyzer;
use super::hash::{FastMap, FastSet};
use crate::error::{Error, Result};

/// Marks a slot without a live document in the length table.
const ABSENT: u32 = u32::MAX;
const MAGIC: &[u8; 8] = b"HKBM25\0\0";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8;
/// Automatic compaction only starts past this many dead postings.
const MIN_DEAD_FOR_COMPACTION: u64 = 16 * 1024;

/// The BM25 free parameters.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Bm25Params {
    /// Term-frequency saturation, `>= 0`. Default 1.2.
    pub k1: f32,
    /// Document-length normalization, in `[0, 1]`. Default 0.75.
    pub b: f32,
}

impl Default for Bm25Params {
    fn default() -> Self {
        Bm25Params { k1: 1.2, b: 0.75 }
    }
}

impl Bm25Params {
    /// Validated parameters: `ERR_INVALID_ARG` unless `k1` is finite and `>= 0` and
    /// `0 <= b <= 1`.
    pub fn new(k1: f32, b: f32) -> Result<Self> {
        let p = Bm25Params { k1, b };
        p.validate()?;
        Ok(p)
    }

    /// Checks the ranges documented on [`new`](Self::new).
    pub fn validate(&self) -> Result<()> {
        if !(self.k1.is_finite() && self.k1 >= 0.0) {
            return Err(
                Error::invalid(format!("bm25 k1 must be a finite number >= 0, got {}", self.k1)).with_field("k1")
            );
        }
        if !(0.0..=1.0).contains(&self.b) {
            return Err(Error::invalid(format!("bm25 b must be between 0 and 1, got {}", self.b)).with_field("b"));
        }
        Ok(())
    }
}

/// The terms of one document with their frequencies, and its length.
///
/// Computed once from the analyzed tokens, outside any lock, then handed to
/// [`Bm25Index::add_doc`] / [`Bm25Index::remove_doc`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocTerms {
    /// Distinct terms and their frequencies, in order of first occurrence.
    terms: Vec<(Box<str>, u32)>,
    /// Number of tokens.
    len: u32,
}

impl DocTerms {
    /// Counts `tokens` (already analyzed).
    pub fn from_tokens<S: AsRef<str>>(tokens: &[S]) -> DocTerms {
        let mut counts = TermCounter::with_capacity(tokens.len().min(1024));
        for t in tokens {
            counts.push(t.as_ref());
        }
        counts.finish()
    }

    /// Analyzes `text` with `analyzer` and counts its tokens, without collecting them.
    pub fn from_text(analyzer: &Analyzer, text: &str) -> DocTerms {
        let mut counts = TermCounter::default();
        analyzer.for_each_token(text, |t| counts.push(t));
        counts.finish()
    }

    /// Number of tokens of the document (its BM25 length).
    pub fn doc_len(&self) -> u32 {
        self.len
    }

    /// Number of distinct terms.
    pub fn num_terms(&self) -> usize {
        self.terms.len()
    }

    /// True when the document has no token.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The distinct terms with their frequencies, in order of first occurrence.
    pub fn terms(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.terms.iter().map(|(t, tf)| (&**t, *tf))
    }
}

/// Builds a [`DocTerms`] one token at a time.
#[derive(Default)]
struct TermCounter {
    /// Term -> (rank of first occurrence, tf).
    counts: FastMap<Box<str>, (u32, u32)>,
    len: u32,
}

impl TermCounter {
    fn with_capacity(capacity: usize) -> Self {
        TermCounter { counts: FastMap::with_capacity_and_hasher(capacity, Default::default()), len: 0 }
    }

    #[inline]
    fn push(&mut self, token: &str) {
        self.len = self.len.saturating_add(1);
        match self.counts.get_mut(token) {
            Some((_, tf)) => *tf = tf.saturating_add(1),
            None => {
                let rank = self.counts.len() as u32;
                self.counts.insert(token.into(), (rank, 1));
            }
        }
    }

    /// The terms in first-occurrence order (placed by rank, no sorting).
    fn finish(self) -> DocTerms {
        let mut terms: Vec<(Box<str>, u32)> = Vec::new();
        terms.resize_with(self.counts.len(), Default::default);
        for (term, (rank, tf)) in self.counts {
            terms[rank as usize] = (term, tf);
        }
        DocTerms { terms, len: self.len }
    }
}

/// The postings of one term.
#[derive(Clone, Default)]
struct Postings {
    /// `(slot, tf)` sorted by slot; may hold entries of removed documents.
    entries: Vec<(u32, u32)>,
    /// Live documents containing the term.
    df: u32,
}

/// A query term resolved against the index.
struct QueryTerm {
    id: u32,
    /// `idf * (k1 + 1)`.
    weight: f32,
}

/// Per-query constants of the length normalization: `k1 * (1 - b + b * dl / avgdl)`
/// is computed as `base + per_token * dl`.
#[derive(Clone, Copy)]
struct Norm {
    base: f32,
    per_token: f32,
}

impl Norm {
    /// The BM25 contribution of one term to one document.
    #[inline(always)]
    fn score(self, weight: f32, tf: u32, dl: u32) -> f32 {
        let tf = tf as f32;
        weight * tf / (tf + self.base + self.per_token * dl as f32)
    }
}

/// Per-thread reusable accumulator of [`search`](Self::search).
#[derive(Default)]
struct Scratch {
    /// Score per slot; 0 for every slot not in `touched`.
    acc: Vec<f32>,
    /// Slots with a non-zero score.
    touched: Vec<u32>,
    /// Set while a search runs; a search that panicked (in `accept`) leaves it set and
    /// the next one clears the whole buffer.
    dirty: bool,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A candidate in the top-k heap. Ordered so that the heap's maximum is the *worst*
/// hit: lower score, then higher slot.
#[derive(Clone, Copy, PartialEq)]
struct Hit {
    score: f32,
    slot: u32,
}

impl Eq for Hit {}

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> Ordering {
        other.score.total_cmp(&self.score).then(self.slot.cmp(&other.slot))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// An in-memory BM25 inverted index over documents identified by dense `u32` slots.
///
/// # Scoring
///
/// Lucene / tantivy BM25, over the *live* documents only:
///
/// ```text
/// idf(t)      = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
/// score(t, d) = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
/// score(q, d) = Σ score(t, d) over the distinct terms t of q
/// ```
///
/// `N` is the number of live documents, `df(t)` the number of live documents containing
/// `t`, `tf` the number of occurrences of `t` in `d`, `dl` the number of tokens of `d`
/// (after stop word removal) and `avgdl` the mean `dl` over live documents. Scores are
/// `f32`, accumulated term by term in query order, so [`score_doc`](Self::score_doc) returns
/// exactly the score [`search`](Self::search) reports. Unlike tantivy, document lengths are
/// not quantized.
///
/// # Structure
///
/// A term dictionary maps each term to a dense id; each id owns a postings list of
/// `(slot, tf)` pairs sorted by slot; document lengths live in a `Vec<u32>` indexed by
/// slot. Removal is lazy: the document's length is cleared and the document frequencies
/// of its terms decrease, but its postings stay until [`compact`](Self::compact) (run
/// automatically once dead postings outnumber live ones) drops them. Dead postings are
/// skipped while scoring and never count in `N`, `df` or `avgdl`.
///
/// Search is term-at-a-time into a per-thread dense score buffer, then a bounded heap
/// selects the top `k`.
///
/// # File format (version 1, little-endian)
///
/// ```text
/// magic        8 bytes  "HKBM25\0\0"
/// version      u32      1
/// k1, b        f32, f32
/// num_slots    u32      length of the document-length table
/// num_docs     u64      live documents
/// total_len    u64      sum of live document lengths
/// num_terms    u32
/// num_postings u64
/// doc_lens     num_slots × u32            u32::MAX = no document
/// terms        num_terms × { len u32, UTF-8 bytes, count u32, count × (slot u32, tf u32) }
/// crc32        u32      CRC-32 (IEEE) of every preceding byte
/// ```
///
/// Only live postings are written, so a loaded index has none dead.
#[derive(Clone)]
pub struct Bm25Index {
    params: Bm25Params,
    dict: FastMap<Box<str>, u32>,
    /// Indexed by term id.
    postings: Vec<Postings>,
    /// Token count per slot, [`ABSENT`] when the slot has no live document.
    doc_lens: Vec<u32>,
    num_docs: u64,
    total_len: u64,
    /// Terms with `df > 0`.
    live_terms: usize,
    live_postings: u64,
    dead_postings: u64,
}

impl Default for Bm25Index {
    fn default() -> Self {
        Bm25Index::new(Bm25Params::default())
    }
}

impl fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bm25Index")
            .field("params", &self.params)
            .field("num_docs", &self.num_docs)
            .field("num_terms", &self.live_terms)
            .field("live_postings", &self.live_postings)
            .field("dead_postings", &self.dead_postings)
            .finish()
    }
}

impl Bm25Index {
    /// An empty index. `params` should be [validated](Bm25Params::validate) by the caller.
    pub fn new(params: Bm25Params) -> Self {
        debug_assert!(params.validate().is_ok(), "invalid {params:?}");
        Bm25Index {
            params,
            dict: FastMap::default(),
            postings: Vec::new(),
            doc_lens: Vec::new(),
            num_docs: 0,
            total_len: 0,
            live_terms: 0,
            live_postings: 0,
            dead_postings: 0,
        }
    }

    /// The BM25 parameters.
    pub fn params(&self) -> Bm25Params {
        self.params
    }

    /// Changes the BM25 parameters (they only enter scoring, nothing is rebuilt).
    /// `ERR_INVALID_ARG` if they are out of range.
    pub fn set_params(&mut self, params: Bm25Params) -> Result<()> {
        params.validate()?;
        self.params = params;
        Ok(())
    }

    /// Live documents.
    pub fn num_docs(&self) -> u64 {
        self.num_docs
    }

    /// Distinct terms occurring in at least one live document.
    pub fn num_terms(&self) -> usize {
        self.live_terms
    }

    /// Mean token count of the live documents (0 when empty).
    pub fn avg_doc_len(&self) -> f32 {
        self.avg_doc_len_f64() as f32
    }

    fn avg_doc_len_f64(&self) -> f64 {
        if self.num_docs == 0 {
            0.0
        } else {
            self.total_len as f64 / self.num_docs as f64
        }
    }

    /// Whether `slot` holds a live document.
    pub fn is_indexed(&self, slot: u32) -> bool {
        self.doc_len(slot).is_some()
    }

    /// The token count of the live document at `slot`.
    pub fn doc_len(&self, slot: u32) -> Option<u32> {
        match self.doc_lens.get(slot as usize) {
            Some(&len) if len != ABSENT => Some(len),
            _ => None,
        }
    }

    /// Number of live documents containing `term` (an analyzed token).
    pub fn doc_freq(&self, term: &str) -> u32 {
        self.dict.get(term).map_or(0, |&id| self.postings[id as usize].df)
    }

    /// Postings of removed documents still held (dropped by [`compact`](Self::compact)).
    pub fn dead_postings(&self) -> u64 {
        self.dead_postings
    }

    /// Adds document `slot` with its analyzed tokens. Convenience for
    /// [`add_doc`](Self::add_doc)`(slot, &DocTerms::from_tokens(tokens))`.
    pub fn add(&mut self, slot: u32, tokens: &[String]) {
        self.add_doc(slot, &DocTerms::from_tokens(tokens));
    }

    /// Adds document `slot`. Slots are normally added in increasing order (possibly after
    /// removals); adding a slot that is already live replaces its document, and re-adding
    /// a removed slot is supported too (both take a slower path). A document without
    /// tokens is not indexed: it does not count in `N` or `avgdl`, like a Lucene document
    /// without the field.
    pub fn add_doc(&mut self, slot: u32, doc: &DocTerms) {
        let idx = slot as usize;
        if idx < self.doc_lens.len() && (self.doc_lens[idx] != ABSENT || self.dead_postings > 0) {
            self.purge_slot(slot);
        }
        if doc.is_empty() {
            return;
        }
        let append = idx >= self.doc_lens.len();
        if append {
            self.doc_lens.resize(idx + 1, ABSENT);
        }
        for (term, tf) in &doc.terms {
            let id = match self.dict.get(&**term) {
                Some(&id) => id,
                None => {
                    let id = u32::try_from(self.postings.len()).expect("more than 2^32 terms");
                    self.dict.insert(term.clone(), id);
                    self.postings.push(Postings::default());
                    id
                }
            };
            let p = &mut self.postings[id as usize];
            match p.entries.last() {
                Some(&(last, _)) if last >= slot => {
                    // Out-of-order add: the slot was purged above, so it is absent.
                    let at = p.entries.partition_point(|e| e.0 < slot);
                    p.entries.insert(at, (slot, *tf));
                }
                _ => p.entries.push((slot, *tf)),
            }
            p.df += 1;
            if p.df == 1 {
                self.live_terms += 1;
            }
        }
        self.doc_lens[idx] = doc.len;
        self.num_docs += 1;
        self.total_len += u64::from(doc.len);
        self.live_postings += doc.terms.len() as u64;
    }

    /// Removes a document previously added with these tokens. Convenience for
    /// [`remove_doc`](Self::remove_doc)`(slot, &DocTerms::from_tokens(tokens))`.
    pub fn remove(&mut self, slot: u32, tokens: &[String]) -> bool {
        self.remove_doc(slot, &DocTerms::from_tokens(tokens))
    }

    /// Removes the live document at `slot`, which must have been added with these terms
    /// (they say which document frequencies decrease; only terms actually posted for the
    /// slot are counted). Returns false when `slot` holds no live document.
    ///
    /// Removal is lazy: postings stay until a compaction, which runs automatically once
    /// dead postings outnumber live ones.
    pub fn remove_doc(&mut self, slot: u32, doc: &DocTerms) -> bool {
        let Some(len) = self.doc_len(slot) else { return false };
        self.doc_lens[slot as usize] = ABSENT;
        self.num_docs -= 1;
        self.total_len -= u64::from(len);
        for (term, _) in &doc.terms {
            let Some(&id) = self.dict.get(&**term) else { continue };
            let p = &mut self.postings[id as usize];
            if p.df > 0 && p.entries.binary_search_by_key(&slot, |e| e.0).is_ok() {
                p.df -= 1;
                if p.df == 0 {
                    self.live_terms -= 1;
                }
                self.live_postings -= 1;
                self.dead_postings += 1;
            }
        }
        if self.dead_postings >= MIN_DEAD_FOR_COMPACTION && self.dead_postings > self.live_postings {
            self.compact();
        }
        true
    }

    /// Physically removes every posting of `slot`, live or dead, and its document if live.
    /// `O(terms × log(postings))`: only for the rare re-add of a used slot.
    fn purge_slot(&mut self, slot: u32) {
        let was_live = self.doc_len(slot);
        for p in &mut self.postings {
            if let Ok(at) = p.entries.binary_search_by_key(&slot, |e| e.0) {
                p.entries.remove(at);
                if was_live.is_some() {
                    p.df -= 1;
                    if p.df == 0 {
                        self.live_terms -= 1;
                    }
                    self.live_postings -= 1;
                } else {
                    self.dead_postings -= 1;
                }
            }
        }
        if let Some(len) = was_live {
            self.doc_lens[slot as usize] = ABSENT;
            self.num_docs -= 1;
            self.total_len -= u64::from(len);
        }
    }

    /// Drops the postings of removed documents and the terms left without any, which
    /// renumbers term ids. Scores are unchanged.
    pub fn compact(&mut self) {
        if self.dead_postings == 0 && self.live_terms == self.postings.len() {
            return;
        }
        let doc_lens = &self.doc_lens;
        let mut old_to_new = vec![u32::MAX; self.postings.len()];
        let mut kept = Vec::with_capacity(self.live_terms);
        for (old, mut p) in std::mem::take(&mut self.postings).into_iter().enumerate() {
            p.entries.retain(|&(slot, _)| doc_lens[slot as usize] != ABSENT);
            if !p.entries.is_empty() {
                p.df = p.entries.len() as u32;
                p.entries.shrink_to_fit();
                old_to_new[old] = kept.len() as u32;
                kept.push(p);
            }
        }
        self.dict.retain(|_, id| {
            *id = old_to_new[*id as usize];
            *id != u32::MAX
        });
        self.dict.shrink_to_fit();
        self.postings = kept;
        self.live_terms = self.postings.len();
        self.live_postings = self.postings.iter().map(|p| p.entries.len() as u64).sum();
        self.dead_postings = 0;
    }

    /// Resolves the distinct query terms present in the index, in first-occurrence order,
    /// and the length-normalization constants.
    fn prepare(&self, query_tokens: &[String]) -> (Vec<QueryTerm>, Norm) {
        let Bm25Params { k1, b } = self.params;
        let avgdl = self.avg_doc_len_f64();
        let norm = Norm {
            base: k1 * (1.0 - b),
            per_token: if avgdl > 0.0 { (f64::from(k1) * f64::from(b) / avgdl) as f32 } else { 0.0 },
        };
        let n = self.num_docs as f64;
        let mut seen: FastSet<u32> = FastSet::default();
        let mut terms = Vec::with_capacity(query_tokens.len());
        for token in query_tokens {
            let Some(&id) = self.dict.get(token.as_str()) else { continue };
            let df = self.postings[id as usize].df;
            if df == 0 || !seen.insert(id) {
                continue;
            }
            let df = f64::from(df);
            let idf = ((n - df + 0.5) / (df + 0.5)).ln_1p() as f32;
            terms.push(QueryTerm { id, weight: idf * (k1 + 1.0) });
        }
        (terms, norm)
    }

    /// Top-`k` `(slot, score)` pairs, best first: score descending, then slot ascending.
    /// Only slots where `accept(slot)` is true count; `accept` is called at most once per
    /// matching slot, and only for slots that would enter the current top `k`.
    pub fn search(&self, query_tokens: &[String], k: usize, accept: impl Fn(u32) -> bool) -> Vec<(u32, f32)> {
        if k == 0 || self.num_docs == 0 {
            return Vec::new();
        }
        let (terms, norm) = self.prepare(query_tokens);
        if terms.is_empty() {
            return Vec::new();
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.search_with(&terms, norm, k, &accept, &mut scratch),
            // Re-entrant call from `accept`: use a private buffer.
            Err(_) => self.search_with(&terms, norm, k, &accept, &mut Scratch::default()),
        })
    }

    fn search_with(
        &self,
        terms: &[QueryTerm],
        norm: Norm,
        k: usize,
        accept: &impl Fn(u32) -> bool,
        scratch: &mut Scratch,
    ) -> Vec<(u32, f32)> {
        let Scratch { acc, touched, dirty } = scratch;
        if *dirty {
            acc.iter_mut().for_each(|s| *s = 0.0);
        }
        if acc.len() < self.doc_lens.len() {
            acc.resize(self.doc_lens.len(), 0.0);
        }
        *dirty = true;
        touched.clear();
        let doc_lens = &self.doc_lens[..];
        let acc = &mut acc[..doc_lens.len()];
        for term in terms {
            for &(slot, tf) in &self.postings[term.id as usize].entries {
                let dl = doc_lens[slot as usize];
                if dl == ABSENT {
                    continue;
                }
                let s = &mut acc[slot as usize];
                // Every term score is > 0, so 0 means "not seen yet".
                if *s == 0.0 {
                    touched.push(slot);
                }
                *s += norm.score(term.weight, tf, dl);
            }
        }
        let mut heap: BinaryHeap<Hit> = BinaryHeap::with_capacity(k.min(touched.len()));
        for &slot in touched.iter() {
            let score = std::mem::take(&mut acc[slot as usize]);
            let hit = Hit { score, slot };
            if heap.len() == k && hit >= *heap.peek().expect("k > 0") {
                continue;
            }
            if !accept(slot) {
                continue;
            }
            if heap.len() == k {
                heap.pop();
            }
            heap.push(hit);
        }
        *dirty = false;
        heap.into_sorted_vec().into_iter().map(|h| (h.slot, h.score)).collect()
    }

    /// Score of one document for a query (used to fill in hybrid component scores);
    /// `None` if the doc is not indexed, `Some(0.0)` if it matches no query term.
    /// Equal to the score [`search`](Self::search) gives the document.
    pub fn score_doc(&self, query_tokens: &[String], slot: u32) -> Option<f32> {
        let dl = self.doc_len(slot)?;
        let (terms, norm) = self.prepare(query_tokens);
        Some(self.score_prepared(&terms, norm, slot, dl))
    }

    /// [`score_doc`](Self::score_doc) for several slots, resolving the query once.
    pub fn score_docs(&self, query_tokens: &[String], slots: &[u32]) -> Vec<Option<f32>> {
        let (terms, norm) = self.prepare(query_tokens);
        slots.iter().map(|&slot| self.doc_len(slot).map(|dl| self.score_prepared(&terms, norm, slot, dl))).collect()
    }

    fn score_prepared(&self, terms: &[QueryTerm], norm: Norm, slot: u32, dl: u32) -> f32 {
        let mut score = 0.0f32;
        for term in terms {
            let entries = &self.postings[term.id as usize].entries;
            if let Ok(at) = entries.binary_search_by_key(&slot, |e| e.0) {
                score += norm.score(term.weight, entries[at].1, dl);
            }
        }
        score
    }

    /// Writes the index to `path` (created or truncated) and fsyncs it. Not atomic by
    /// itself: write to a temporary name and rename.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes();
        let ctx = || format!("writing BM25 index {}", path.display());
        let mut file = std::fs::File::create(path).map_err(|e| Error::io(e, ctx()))?;
        file.write_all(&bytes).map_err(|e| Error::io(e, ctx()))?;
        file.sync_all().map_err(|e| Error::io(e, ctx()))?;
        Ok(())
    }

    /// Serializes to the file format (live postings only).
    fn to_bytes(&self) -> Vec<u8> {
        let terms_bytes: usize = self.dict.keys().map(|t| 8 + t.len()).sum();
        let size = HEADER_LEN + 4 * self.doc_lens.len() + terms_bytes + 8 * self.live_postings as usize + 4;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, VERSION);
        out.extend_from_slice(&self.params.k1.to_le_bytes());
        out.extend_from_slice(&self.params.b.to_le_bytes());
        put_u32(&mut out, self.doc_lens.len() as u32);
        put_u64(&mut out, self.num_docs);
        put_u64(&mut out, self.total_len);
        let num_terms_at = out.len();
        put_u32(&mut out, 0);
        let num_postings_at = out.len();
        put_u64(&mut out, 0);
        for &len in &self.doc_lens {
            put_u32(&mut out, len);
        }
        // Terms in id order, so that saving the same index twice gives the same bytes.
        let mut by_id: Vec<(&str, u32)> = self.dict.iter().map(|(t, &id)| (&**t, id)).collect();
        by_id.sort_unstable_by_key(|&(_, id)| id);
        let (mut num_terms, mut num_postings) = (0u32, 0u64);
        for (term, id) in by_id {
            let start = out.len();
            put_u32(&mut out, term.len() as u32);
            out.extend_from_slice(term.as_bytes());
            let count_at = out.len();
            put_u32(&mut out, 0);
            let mut count = 0u32;
            for &(slot, tf) in &self.postings[id as usize].entries {
                if self.doc_lens[slot as usize] != ABSENT {
                    put_u32(&mut out, slot);
                    put_u32(&mut out, tf);
                    count += 1;
                }
            }
            if count == 0 {
                out.truncate(start);
                continue;
            }
            out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
            num_terms += 1;
            num_postings += u64::from(count);
        }
        out[num_terms_at..num_terms_at + 4].copy_from_slice(&num_terms.to_le_bytes());
        out[num_postings_at..num_postings_at + 8].copy_from_slice(&num_postings.to_le_bytes());
        let crc = crc32fast::hash(&out);
        put_u32(&mut out, crc);
        out
    }

    /// Reads an index written by [`save`](Self::save). A file with a wrong magic,
    /// version or checksum, truncated or inconsistent, is `ERR_CORRUPT` naming it.
    pub fn load(path: &Path) -> Result<Bm25Index> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(e, format!("reading BM25 index {}", path.display())))?;
        Self::from_bytes(&bytes).map_err(|msg| Error::corrupt(path, format!("BM25 index: {msg}")))
    }

    /// Parses the file format; the error is a description of the damage.
    fn from_bytes(bytes: &[u8]) -> std::result::Result<Bm25Index, String> {
        if bytes.len() < HEADER_LEN + 4 {
            return Err(format!("file too short ({} bytes)", bytes.len()));
        }
        if &bytes[..8] != MAGIC {
            return Err("bad magic (not a BM25 index)".into());
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let mut r = Reader { bytes: body, pos: 8 };
        let version = r.u32()?;
        if version != VERSION {
            return Err(format!("unsupported version {version} (expected {VERSION})"));
        }
        let stored_crc = u32::from_le_bytes(crc.try_into().expect("4 bytes"));
        if crc32fast::hash(body) != stored_crc {
            return Err("checksum mismatch".into());
        }
        let params = Bm25Params { k1: f32::from_bits(r.u32()?), b: f32::from_bits(r.u32()?) };
        params.validate().map_err(|e| format!("invalid parameters: {}", e.message()))?;
        let num_slots = r.u32()? as usize;
        let num_docs = r.u64()?;
        let total_len = r.u64()?;
        let num_terms = r.u32()? as usize;
        let num_postings = r.u64()?;

        let doc_lens: Vec<u32> = r
            .take(num_slots.checked_mul(4).ok_or("slot count overflow")?)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let live = doc_lens.iter().filter(|&&l| l != ABSENT);
        let (live_docs, live_len) = live.fold((0u64, 0u64), |(n, sum), &l| (n + 1, sum + u64::from(l)));
        if live_docs != num_docs || live_len != total_len {
            return Err("document statistics do not match the length table".into());
        }

        // Cap preallocation by what the remaining bytes can hold.
        let mut dict = FastMap::default();
        dict.reserve(num_terms.min(r.remaining() / 8));
        let mut postings = Vec::with_capacity(num_terms.min(r.remaining() / 8));
        let mut seen_postings = 0u64;
        for id in 0..num_terms {
            let len = r.u32()? as usize;
            let term = std::str::from_utf8(r.take(len)?).map_err(|_| format!("term {id} is not UTF-8"))?;
            let count = r.u32()? as usize;
            if count == 0 {
                return Err(format!("term {term:?} has no postings"));
            }
            let raw = r.take(count.checked_mul(8).ok_or("postings count overflow")?)?;
            let mut entries = Vec::with_capacity(count);
            let mut prev: Option<u32> = None;
            for c in raw.chunks_exact(8) {
                let slot = u32::from_le_bytes(c[..4].try_into().expect("4 bytes"));
                let tf = u32::from_le_bytes(c[4..].try_into().expect("4 bytes"));
                let live = doc_lens.get(slot as usize).is_some_and(|&l| l != ABSENT);
                if !live || tf == 0 || prev.is_some_and(|p| p >= slot) {
                    return Err(format!("invalid posting ({slot}, {tf}) of term {term:?}"));
                }
                prev = Some(slot);
                entries.push((slot, tf));
            }
            if dict.insert(Box::from(term), id as u32).is_some() {
                return Err(format!("duplicate term {term:?}"));
            }
            postings.push(Postings { entries, df: count as u32 });
            seen_postings += count as u64;
        }
        if seen_postings != num_postings {
            return Err("postings count mismatch".into());
        }
        if r.remaining() != 0 {
            return Err(format!("{} trailing bytes", r.remaining()));
        }
        Ok(Bm25Index {
            params,
            dict,
            live_terms: postings.len(),
            postings,
            doc_lens,
            num_docs,
            total_len,
            live_postings: num_postings,
            dead_postings: 0,
        })
    }
}

#[inline]
fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[inline]
fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A bounds-checked little-endian cursor.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(format!("truncated at byte {} (needed {n} more bytes)", self.pos));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> std::result::Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn toks(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    fn index_of(docs: &[&str]) -> Bm25Index {
        let mut idx = Bm25Index::default();
        for (slot, d) in docs.iter().enumerate() {
            idx.add(slot as u32, &toks(d));
        }
        idx
    }

    /// The textbook formula in f64, for the hand checks.
    fn bm25(n: f64, df: f64, tf: f64, dl: f64, avgdl: f64) -> f64 {
        let (k1, b) = (1.2, 0.75);
        let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
        idf * tf * (k1 + 1.0) / (tf + k1 * (1.0 - b + b * dl / avgdl))
    }

    fn assert_close(actual: f32, expected: f64) {
        assert!((f64::from(actual) - expected).abs() < 1e-5, "{actual} != {expected}");
    }

    /// A file path in the temp dir, removed when dropped.
    struct TempPath(std::path::PathBuf);

    impl std::ops::Deref for TempPath {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl AsRef<Path> for TempPath {
        fn as_ref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn temp_path(name: &str) -> TempPath {
        TempPath(std::env::temp_dir().join(format!("hektor-bm25-test-{}-{name}", std::process::id())))
    }

    const CORPUS: [&str; 5] = [
        "cat sat mat",         // 0: dl 3
        "cat cat dog",         // 1: dl 3
        "dog bark loud night", // 2: dl 4
        "bird sing",           // 3: dl 2
        "cat dog bird fish",   // 4: dl 4
    ];

    #[test]
    fn hand_checked_scores() {
        let idx = index_of(&CORPUS);
        assert_eq!(idx.num_docs(), 5);
        assert_eq!(idx.num_terms(), 10);
        // avgdl = (3 + 3 + 4 + 2 + 4) / 5 = 16 / 5 = 3.2
        assert_close(idx.avg_doc_len(), 3.2);

        // "cat": N = 5, df = 3 -> idf = ln(1 + (5 - 3 + 0.5) / (3 + 0.5)) = ln(1 + 2.5/3.5)
        let idf_cat = (1.0f64 + 2.5 / 3.5).ln();
        // doc 1: tf 2, dl 3 -> 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 3 / 3.2))
        let cat1 = idf_cat * (2.0 * 2.2) / (2.0 + 1.2 * (0.25 + 0.75 * 3.0 / 3.2));
        // doc 0: tf 1, dl 3
        let cat0 = idf_cat * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 3.0 / 3.2));
        // doc 4: tf 1, dl 4
        let cat4 = idf_cat * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 4.0 / 3.2));
        assert!((cat1 - bm25(5.0, 3.0, 2.0, 3.0, 3.2)).abs() < 1e-12);

        let hits = idx.search(&toks("cat"), 10, |_| true);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 0, 4]);
        assert_close(hits[0].1, cat1);
        assert_close(hits[1].1, cat0);
        assert_close(hits[2].1, cat4);

        // "dog bird": dog df 3 (docs 1, 2, 4), bird df 2 (docs 3, 4).
        let idf_dog = idf_cat;
        let idf_bird = (1.0f64 + (5.0 - 2.0 + 0.5) / (2.0 + 0.5)).ln(); // ln(1 + 3.5/2.5)
        let doc4 = idf_dog * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 4.0 / 3.2))
            + idf_bird * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 4.0 / 3.2));
        let doc3 = idf_bird * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 2.0 / 3.2));
        let doc1 = idf_dog * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 3.0 / 3.2));
        let doc2 = idf_dog * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 4.0 / 3.2));
        let hits = idx.search(&toks("dog bird dog"), 10, |_| true); // duplicates count once
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [4, 3, 1, 2]);
        for ((_, got), want) in hits.iter().zip([doc4, doc3, doc1, doc2]) {
            assert_close(*got, want);
        }
        // score_doc equals search exactly.
        for &(slot, score) in &hits {
            assert_eq!(idx.score_doc(&toks("dog bird dog"), slot), Some(score));
        }
        assert_eq!(idx.score_doc(&toks("dog bird"), 0), Some(0.0));
        assert_eq!(idx.score_doc(&toks("dog"), 99), None);
        assert_eq!(idx.score_docs(&toks("dog bird"), &[4, 0, 99]), vec![Some(hits[0].1), Some(0.0), None]);

        // Unknown terms are ignored.
        assert_eq!(idx.search(&toks("unicorn cat"), 10, |_| true), idx.search(&toks("cat"), 10, |_| true));
        assert!(idx.search(&toks("unicorn"), 10, |_| true).is_empty());
        assert!(idx.search(&[], 10, |_| true).is_empty());
    }

    #[test]
    fn ties_break_by_slot_and_k_limits() {
        let idx = index_of(&["x y", "x y", "x y", "x y"]);
        let hits = idx.search(&toks("x"), 2, |_| true);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(hits[0].1, hits[1].1);
        // k larger than the matches.
        assert_eq!(idx.search(&toks("x"), 100, |_| true).len(), 4);
        assert!(idx.search(&toks("x"), 0, |_| true).is_empty());
    }

    #[test]
    fn accept_filters() {
        let idx = index_of(&CORPUS);
        let hits = idx.search(&toks("cat"), 10, |slot| slot != 1);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [0, 4]);
        let hits = idx.search(&toks("cat"), 1, |slot| slot == 4);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0, 4);
        assert!(idx.search(&toks("cat"), 10, |_| false).is_empty());
        // Scores are not affected by the filter (statistics are global).
        let all = idx.search(&toks("cat"), 10, |_| true);
        assert_eq!(all[2], hits[0]);
    }

    #[test]
    fn removal_matches_fresh_index() {
        let mut idx = index_of(&CORPUS);
        assert!(idx.remove(1, &toks(CORPUS[1])));
        assert!(!idx.remove(1, &toks(CORPUS[1])));
        assert!(!idx.remove(42, &toks("cat")));
        let mut fresh = Bm25Index::default();
        for (slot, d) in CORPUS.iter().enumerate() {
            if slot != 1 {
                fresh.add(slot as u32, &toks(d));
            }
        }
        assert_eq!(idx.num_docs(), 4);
        assert_eq!(idx.avg_doc_len(), fresh.avg_doc_len());
        assert_eq!(idx.num_terms(), fresh.num_terms());
        assert!(idx.dead_postings() > 0);
        for q in ["cat", "dog", "cat dog bird", "bark", "sat mat fish"] {
            let a = idx.search(&toks(q), 10, |_| true);
            assert_eq!(a, fresh.search(&toks(q), 10, |_| true), "{q}");
            assert!(a.iter().all(|h| h.0 != 1));
        }
        assert_eq!(idx.score_doc(&toks("cat"), 1), None);
        // Removing every doc with a term removes the term.
        idx.remove(3, &toks(CORPUS[3]));
        assert_eq!(idx.doc_freq("sing"), 0);
        assert_eq!(idx.num_terms(), 9);
        assert!(idx.search(&toks("sing"), 10, |_| true).is_empty());
        // Compaction keeps scores.
        let before = idx.search(&toks("cat dog bird"), 10, |_| true);
        idx.compact();
        assert_eq!(idx.dead_postings(), 0);
        assert_eq!(idx.search(&toks("cat dog bird"), 10, |_| true), before);
        assert_eq!(idx.num_terms(), 9);
        // Adding after removals.
        idx.add(7, &toks("cat cat cat"));
        fresh.remove(3, &toks(CORPUS[3]));
        fresh.add(7, &toks("cat cat cat"));
        assert_eq!(idx.search(&toks("cat"), 10, |_| true), fresh.search(&toks("cat"), 10, |_| true));
    }

    #[test]
    fn readd_and_replace_slot() {
        let mut idx = index_of(&CORPUS);
        // Re-add a removed slot with other content: its stale postings must not revive.
        idx.remove(0, &toks(CORPUS[0]));
        idx.add(0, &toks("fish fish"));
        // Replace a live slot without removing it first.
        idx.add(2, &toks("owl"));
        let fresh = index_of(&["fish fish", CORPUS[1], "owl", CORPUS[3], CORPUS[4]]);
        assert_eq!(idx.num_docs(), 5);
        assert_eq!(idx.num_terms(), fresh.num_terms());
        for q in ["cat", "sat", "mat", "fish", "dog", "owl bark", "cat dog bird fish"] {
            assert_eq!(idx.search(&toks(q), 10, |_| true), fresh.search(&toks(q), 10, |_| true), "{q}");
        }
        // An empty document is not indexed (and removes what the slot held).
        idx.add(2, &[]);
        assert!(!idx.is_indexed(2));
        assert_eq!(idx.num_docs(), 4);
        assert_eq!(idx.doc_freq("owl"), 0);
    }

    #[test]
    fn automatic_compaction() {
        let mut idx = Bm25Index::default();
        let n = 20_000u32;
        for slot in 0..n {
            idx.add(slot, &toks(&format!("common w{slot} x{}", slot % 7)));
        }
        for slot in 0..n - 10 {
            idx.remove(slot, &toks(&format!("common w{slot} x{}", slot % 7)));
        }
        assert!(idx.dead_postings() < MIN_DEAD_FOR_COMPACTION + 3);
        assert_eq!(idx.num_docs(), 10);
        assert_eq!(idx.num_terms(), 1 + 10 + 7);
        let hits = idx.search(&toks("common"), 100, |_| true);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), (n - 10..n).collect::<Vec<_>>());
    }

    #[test]
    fn empty_index() {
        let idx = Bm25Index::default();
        assert!(idx.search(&toks("anything"), 10, |_| true).is_empty());
        assert_eq!(idx.num_docs(), 0);
        assert_eq!(idx.num_terms(), 0);
        assert_eq!(idx.avg_doc_len(), 0.0);
        assert_eq!(idx.score_doc(&toks("x"), 0), None);
        let path = temp_path("empty.bm25");
        idx.save(&path).unwrap();
        let loaded = Bm25Index::load(&path).unwrap();
        assert_eq!(loaded.num_docs(), 0);
        assert!(loaded.search(&toks("anything"), 10, |_| true).is_empty());
    }

    #[test]
    fn save_load_round_trip() {
        let mut idx = index_of(&CORPUS);
        idx.set_params(Bm25Params::new(1.5, 0.5).unwrap()).unwrap();
        idx.add(9, &toks("héllo wörld 東 cat"));
        idx.remove(2, &toks(CORPUS[2]));
        let path = temp_path("round.bm25");
        idx.save(&path).unwrap();
        let loaded = Bm25Index::load(&path).unwrap();
        assert_eq!(loaded.params(), idx.params());
        assert_eq!(loaded.num_docs(), idx.num_docs());
        assert_eq!(loaded.num_terms(), idx.num_terms());
        assert_eq!(loaded.avg_doc_len(), idx.avg_doc_len());
        assert_eq!(loaded.dead_postings(), 0);
        assert_eq!(loaded.doc_lens, idx.doc_lens);
        for term in idx.dict.keys() {
            assert_eq!(loaded.doc_freq(term), idx.doc_freq(term), "{term}");
        }
        for q in ["cat", "dog", "bark", "héllo 東", "cat dog bird fish sat"] {
            assert_eq!(loaded.search(&toks(q), 10, |_| true), idx.search(&toks(q), 10, |_| true), "{q}");
        }
        // Saving the loaded index gives the same bytes.
        let again = temp_path("round2.bm25");
        loaded.save(&again).unwrap();
        let mut compacted = idx.clone();
        compacted.compact();
        assert_eq!(std::fs::read(&again).unwrap(), compacted.to_bytes());
    }

    #[test]
    fn corrupted_files() {
        let idx = index_of(&CORPUS);
        let path = temp_path("corrupt.bm25");
        idx.save(&path).unwrap();
        let good = std::fs::read(&path).unwrap();
        let check = |bytes: &[u8], what: &str| {
            std::fs::write(&path, bytes).unwrap();
            let err = Bm25Index::load(&path).unwrap_err();
            assert_eq!(err.code(), ErrorCode::Corrupt, "{what}: {err}");
            assert!(err.message().contains("corrupt.bm25"), "{what}: {err}");
        };
        for at in [0, 9, 20, HEADER_LEN + 1, good.len() / 2, good.len() - 6, good.len() - 1] {
            let mut bad = good.clone();
            bad[at] ^= 0x40;
            check(&bad, &format!("flip {at}"));
        }
        for len in [0, 7, HEADER_LEN, good.len() / 2, good.len() - 1] {
            check(&good[..len], &format!("truncate {len}"));
        }
        let mut longer = good.clone();
        longer.push(0);
        check(&longer, "extra byte");
        // Structural damage with a valid checksum is caught too.
        let mut bad = good[..good.len() - 4].to_vec();
        let last_slot_at = bad.len() - 8;
        bad[last_slot_at..last_slot_at + 4].copy_from_slice(&1000u32.to_le_bytes());
        let crc = crc32fast::hash(&bad);
        bad.extend_from_slice(&crc.to_le_bytes());
        check(&bad, "slot out of range");
        // A missing file is an I/O error, not corruption.
        let err = Bm25Index::load(&temp_path("missing.bm25")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Io);
    }

    #[test]
    fn params_validation() {
        assert!(Bm25Params::new(1.2, 0.75).is_ok());
        assert!(Bm25Params::new(0.0, 0.0).is_ok());
        assert!(Bm25Params::new(0.0, 1.0).is_ok());
        for (k1, b) in [(-0.1, 0.5), (f32::NAN, 0.5), (f32::INFINITY, 0.5), (1.2, -0.01), (1.2, 1.01), (1.2, f32::NAN)]
        {
            assert_eq!(Bm25Params::new(k1, b).unwrap_err().code(), ErrorCode::InvalidArg, "{k1} {b}");
        }
        let mut idx = Bm25Index::default();
        assert!(idx.set_params(Bm25Params { k1: -1.0, b: 0.5 }).is_err());
        assert_eq!(idx.params(), Bm25Params::default());
        let p: Bm25Params = serde_json::from_str(r#"{"k1":2.0}"#).unwrap();
        assert_eq!(p, Bm25Params { k1: 2.0, b: 0.75 });
    }

    #[test]
    fn extreme_params_match_formula() {
        // b = 0: no length normalization; k1 = 0: binary tf.
        let mut idx = index_of(&CORPUS);
        idx.set_params(Bm25Params::new(0.0, 0.0).unwrap()).unwrap();
        let idf_cat = (1.0f64 + 2.5 / 3.5).ln();
        for (_, s) in idx.search(&toks("cat"), 10, |_| true) {
            assert_close(s, idf_cat);
        }
        idx.set_params(Bm25Params::new(1.2, 0.0).unwrap()).unwrap();
        let hits = idx.search(&toks("cat"), 10, |_| true);
        assert_close(hits[0].1, idf_cat * 2.0 * 2.2 / (2.0 + 1.2));
    }

    #[test]
    fn doc_terms() {
        let d = DocTerms::from_tokens(&toks("b a b c b"));
        assert_eq!(d.doc_len(), 5);
        assert_eq!(d.num_terms(), 3);
        assert_eq!(d.terms().collect::<Vec<_>>(), [("b", 3), ("a", 1), ("c", 1)]);
        let analyzer = Analyzer::default();
        let from_text = DocTerms::from_text(&analyzer, "The running dogs ran, running!");
        assert_eq!(from_text, DocTerms::from_tokens(&analyzer.analyze("The running dogs ran, running!")));
        assert_eq!(from_text.doc_len(), 4);
        assert!(DocTerms::from_tokens::<String>(&[]).is_empty());
    }

    #[test]
    fn reentrant_search_from_accept() {
        let idx = index_of(&CORPUS);
        let hits = idx.search(&toks("cat"), 10, |slot| !idx.search(&toks("dog"), 10, |s| s == slot).is_empty());
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 4]);
        // The thread's buffer is clean afterwards.
        assert_eq!(idx.search(&toks("cat"), 10, |_| true).len(), 3);
    }

    #[test]
    fn panicking_accept_leaves_buffer_usable() {
        let idx = index_of(&CORPUS);
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| idx.search(&toks("cat"), 10, |_| panic!("boom"))));
        assert!(r.is_err());
        let fresh = index_of(&CORPUS);
        assert_eq!(idx.search(&toks("cat dog"), 10, |_| true), fresh.search(&toks("cat dog"), 10, |_| true));
    }
}
