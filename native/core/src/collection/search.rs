//! Queries: vector (HNSW or exact, filtered, range), text (BM25) and hybrid.

use super::{Collection, State};
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::filter::Filter;
use crate::hybrid::{self, Fusion};
use crate::store::record::Parts;
use crate::vector::{flat, Metric, Scored};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// Which index answers a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Nearest vectors.
    Vector,
    /// BM25 over text.
    Text,
    /// Both, fused.
    Hybrid,
}

/// Which stored fields a hit carries besides its id and scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Select {
    /// The record's text.
    pub text: bool,
    /// The record's metadata.
    pub metadata: bool,
    /// The record's vector (as given at upsert).
    pub vector: bool,
}

impl Default for Select {
    fn default() -> Self {
        Select { text: true, metadata: true, vector: false }
    }
}

impl Select {
    /// Parses a list of field names (`text`, `metadata`, `vector`; `id` is always returned).
    pub fn parse(names: &[String]) -> Result<Select> {
        let mut s = Select { text: false, metadata: false, vector: false };
        for n in names {
            match n.as_str() {
                "text" => s.text = true,
                "metadata" => s.metadata = true,
                "vector" => s.vector = true,
                "id" => {}
                other => return Err(Error::invalid(format!("select: unknown field '{other}' (use 'id', 'text', 'metadata', 'vector')"))),
            }
        }
        Ok(s)
    }
}

/// A search request.
#[derive(Clone, Debug)]
pub struct SearchQuery {
    /// Query text (BM25, hybrid).
    pub text: Option<String>,
    /// Query vector (vector, hybrid).
    pub vector: Option<Vec<f32>>,
    /// Number of hits.
    pub k: usize,
    /// Metadata filter.
    pub filter: Option<Filter>,
    /// Mode; by default hybrid when both text and vector are given.
    pub mode: Option<Mode>,
    /// Fusion for hybrid mode.
    pub fusion: Fusion,
    /// HNSW beam width (default: the collection's `efSearch`).
    pub ef: Option<usize>,
    /// Exact (brute-force) vector search instead of HNSW.
    pub exact: bool,
    /// Range query: only hits whose vector lies within this distance of the query vector
    /// (`distance <= max_distance`, in the metric's distance: cosine `1 - cos`, l2 squared
    /// Euclidean, dot `-dot`). It applies to the vector component in every mode:
    ///
    /// * `vector`: the nearest hits within range (fewer than `k` when fewer are in range);
    /// * `hybrid`: both candidate lists are restricted before fusion, so a record whose
    ///   vector is farther, or that has no vector, is never a hit;
    /// * `text`: BM25 ranks only the records within range; the query vector is the one
    ///   given or, without one, the text embedded by the collection's embedder.
    ///
    /// Without a query vector (none given and no embedder) it is `ERR_INVALID_ARG`, never
    /// silently ignored.
    pub max_distance: Option<f32>,
    /// Fields to return.
    pub select: Select,
    /// Hybrid: candidates taken from each list before fusion.
    pub candidates: Option<usize>,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            text: None,
            vector: None,
            k: 10,
            filter: None,
            mode: None,
            fusion: Fusion::default(),
            ef: None,
            exact: false,
            max_distance: None,
            select: Select::default(),
            candidates: None,
        }
    }
}

/// Largest `k` (and hybrid candidate depth) accepted.
pub const MAX_K: usize = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct QueryJson {
    text: Option<String>,
    k: Option<f64>,
    filter: Option<Value>,
    mode: Option<Mode>,
    fusion: Option<Fusion>,
    ef: Option<f64>,
    exact: Option<bool>,
    max_distance: Option<f64>,
    select: Option<Vec<String>>,
    candidates: Option<f64>,
}

fn count_arg(name: &str, v: Option<f64>, max: usize) -> Result<Option<usize>> {
    match v {
        None => Ok(None),
        Some(x) if x.fract() == 0.0 && x >= 1.0 && x <= max as f64 => Ok(Some(x as usize)),
        Some(x) => Err(Error::invalid(format!("{name} must be an integer between 1 and {max}, got {x}"))),
    }
}

impl SearchQuery {
    /// Parses the SDK's JSON options (everything but the vector, passed separately).
    pub fn from_json(v: &Value, vector: Option<Vec<f32>>) -> Result<SearchQuery> {
        let j = QueryJson::deserialize(v).map_err(|e| Error::invalid(format!("invalid search options: {e}")))?;
        Self::from_options(j, vector)
    }

    /// Parses the SDK's options from JSON text, without an intermediate JSON tree.
    pub fn from_json_str(s: &str, vector: Option<Vec<f32>>) -> Result<SearchQuery> {
        let j: QueryJson = serde_json::from_str(s).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => Error::invalid(format!("invalid search options: {e}")),
            _ => Error::invalid(format!("search options is not valid JSON: {e}")),
        })?;
        Self::from_options(j, vector)
    }

    fn from_options(j: QueryJson, vector: Option<Vec<f32>>) -> Result<SearchQuery> {
        let fusion = j.fusion.unwrap_or_default();
        match fusion {
            Fusion::Rrf { k } if !(k.is_finite() && k >= 0.0) => return Err(Error::invalid("fusion.k must be a number >= 0")),
            Fusion::Weighted { alpha } if !(0.0..=1.0).contains(&alpha) => {
                return Err(Error::invalid("fusion.alpha must be between 0 and 1"))
            }
            _ => {}
        }
        if let Some(d) = j.max_distance {
            if d.is_nan() {
                return Err(Error::invalid("maxDistance must be a number"));
            }
        }
        Ok(SearchQuery {
            text: j.text,
            vector,
            k: count_arg("k", j.k, MAX_K)?.unwrap_or(10),
            filter: match j.filter {
                Some(f) => Some(Filter::parse(&f)?),
                None => None,
            },
            mode: j.mode,
            fusion,
            ef: count_arg("ef", j.ef, 100_000)?,
            exact: j.exact.unwrap_or(false),
            max_distance: j.max_distance.map(|d| d as f32),
            select: match j.select {
                Some(s) => Select::parse(&s)?,
                None => Select::default(),
            },
            candidates: count_arg("candidates", j.candidates, MAX_K)?,
        })
    }
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    /// Record id (the parent record's when the hit is a chunk).
    pub id: String,
    /// The chunk's id when the hit is a chunk of a record (chunked collections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunk_id: Option<String>,
    /// The chunk's `[start, end)` span in the parent record's text, in UTF-16 code units
    /// (JavaScript string indices: `text.slice(start, end)` is the chunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<[u64; 2]>,
    /// The ranking score of the mode (higher is better): similarity, BM25 or fused.
    pub score: f32,
    /// Vector similarity (cosine: cosine; dot: inner product; l2: `1 / (1 + distance)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector_score: Option<f32>,
    /// BM25 score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_score: Option<f32>,
    /// Metric distance (cosine: `1 - cos`; l2: squared Euclidean; dot: `-dot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance: Option<f32>,
    /// Stored text (the chunk's when the hit is a chunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Stored metadata (the parent record's when the hit is a chunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Stored vector (the chunk's embedding when the hit is a chunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vector: Option<Vec<f32>>,
}

/// Parameters of one vector search over a state snapshot.
struct VectorParams<'a> {
    k: usize,
    ef: usize,
    exact: bool,
    max_distance: Option<f32>,
    filter: Option<&'a Filter>,
}

/// Cache lines of a full-precision vector prefetched ahead of its distance computation
/// (the hardware prefetcher streams the rest of the row).
const PREFETCH_LINES: usize = 4;

/// Filtered HNSW search gives way to an exact scan below this estimated selectivity.
const EXACT_SELECTIVITY: f64 = 0.002;

impl Collection {
    /// Runs one query. A query with text but no vector is embedded when an embedder is
    /// attached (and the mode is not `text`, unless `max_distance` needs a query vector),
    /// so it runs in hybrid mode by default.
    pub fn search(&self, q: &SearchQuery) -> Result<Vec<Hit>> {
        self.check_readable()?;
        if let Some(t) = self.text_to_embed(q) {
            let v = self.embed(&[t])?.pop();
            return self.search_prepared(&SearchQuery { vector: v, ..q.clone() });
        }
        self.search_prepared(q)
    }

    /// The text of `q` that [`search`](Self::search) embeds: a query text without a vector,
    /// when an embedder is attached and the mode or `max_distance` wants a query vector.
    fn text_to_embed<'q>(&self, q: &'q SearchQuery) -> Option<&'q str> {
        let wants_vector = q.mode != Some(Mode::Text) || q.max_distance.is_some();
        if q.vector.is_none() && wants_vector && self.embedder().is_some() {
            q.text.as_deref().filter(|t| !t.trim().is_empty())
        } else {
            None
        }
    }

    fn search_prepared(&self, q: &SearchQuery) -> Result<Vec<Hit>> {
        let cfg = self.config.read();
        let (metric, ef_default) = (cfg.metric, cfg.hnsw.ef_search);
        let dim = cfg.dimension;
        drop(cfg);
        let mode = match (q.mode, q.text.is_some(), q.vector.is_some()) {
            (Some(m), _, _) => m,
            (None, true, true) => Mode::Hybrid,
            (None, false, true) => Mode::Vector,
            (None, true, false) => Mode::Text,
            (None, false, false) => return Err(Error::invalid("search needs a query: give `text`, `vector` or both")),
        };
        let need_vector = matches!(mode, Mode::Vector | Mode::Hybrid);
        let need_text = matches!(mode, Mode::Text | Mode::Hybrid);
        if need_vector && q.vector.is_none() {
            return Err(Error::invalid(format!("mode '{}' needs a query vector", mode_name(mode))));
        }
        if need_text && q.text.is_none() {
            return Err(Error::invalid(format!("mode '{}' needs a query text", mode_name(mode))));
        }
        if q.max_distance.is_some() && q.vector.is_none() {
            return Err(Error::invalid(format!(
                "maxDistance needs a query vector in mode '{}': give `vector`, or attach an embedder to the collection so that the text is embedded",
                mode_name(mode)
            ))
            .with_field("maxDistance"));
        }
        let qv = match (&q.vector, need_vector || q.max_distance.is_some()) {
            (Some(v), true) => match dim {
                Some(d) => Some(self.prepare_vector(v, d).map_err(|e| e.with_field("vector"))?),
                // no vector stored yet: nothing can match, but the query must still be well-formed
                None => {
                    self.prepare_vector(v, v.len()).map_err(|e| e.with_field("vector"))?;
                    None
                }
            },
            _ => None,
        };
        let tokens = if need_text { q.text.as_deref().map(|t| self.analyzer().analyze(t)).unwrap_or_default() } else { Vec::new() };
        let filter = q.filter.as_ref().filter(|f| !f.is_empty());
        let st = self.state.read();
        // a close() that ran since the check above left an emptied state
        self.check_open()?;
        // the range test of `max_distance` for text candidates (vector search applies it itself)
        let distance_of = |s: u32| match (&qv, &st.vectors) {
            (Some(qv), Some(vs)) if st.slots[s as usize].has_vector() => Some(metric.distance(qv, vs.get(s))),
            _ => None,
        };
        let in_range = |s: u32| q.max_distance.is_none_or(|m| distance_of(s).is_some_and(|d| d <= m));
        let vp = |k: usize| VectorParams { k, ef: q.ef.unwrap_or(ef_default).max(k), exact: q.exact, max_distance: q.max_distance, filter };
        let ranked: Vec<(u32, f32, Option<f32>, Option<f32>, Option<f32>)> = match mode {
            Mode::Vector => {
                let Some(qv) = &qv else { return Ok(Vec::new()) };
                vector_search(&st, metric, qv, &vp(q.k))
                    .into_iter()
                    .map(|x| {
                        let s = metric.score(x.dist);
                        (x.slot, s, Some(s), None, Some(x.dist))
                    })
                    .collect()
            }
            Mode::Text => st
                .bm25
                .search(&tokens, q.k, |s| st.visible(s, filter) && in_range(s))
                .into_iter()
                .map(|(s, score)| {
                    // with a range, the hits also carry their vector distance
                    let d = q.max_distance.and(distance_of(s));
                    (s, score, d.map(|d| metric.score(d)), Some(score), d)
                })
                .collect(),
            Mode::Hybrid => {
                let depth = q.candidates.unwrap_or((q.k * 2).max(50)).max(q.k);
                let vlist: Vec<Scored> = match &qv {
                    Some(qv) => vector_search(&st, metric, qv, &vp(depth)),
                    None => Vec::new(),
                };
                let tlist = st.bm25.search(&tokens, depth, |s| st.visible(s, filter) && in_range(s));
                // component scores for every candidate, computed directly where a list missed it
                let mut dists: HashMap<u32, f32> = vlist.iter().map(|x| (x.slot, x.dist)).collect();
                let mut tscores: HashMap<u32, f32> = tlist.iter().copied().collect();
                if let (Some(qv), Some(vs)) = (&qv, &st.vectors) {
                    for &(s, _) in &tlist {
                        if st.slots[s as usize].has_vector() {
                            dists.entry(s).or_insert_with(|| metric.distance(qv, vs.get(s)));
                        }
                    }
                }
                for x in &vlist {
                    if st.slots[x.slot as usize].has_text() && !tscores.contains_key(&x.slot) {
                        if let Some(sc) = st.bm25.score_doc(&tokens, x.slot) {
                            tscores.insert(x.slot, sc);
                        }
                    }
                }
                let vscores: HashMap<u32, f32> = dists.iter().map(|(&s, &d)| (s, metric.score(d))).collect();
                let vranked: Vec<(u32, f32)> = vlist.iter().map(|x| (x.slot, metric.score(x.dist))).collect();
                hybrid::fuse(&vranked, &tlist, q.fusion, &vscores, &tscores)
                    .into_iter()
                    .take(q.k)
                    .map(|f| (f.slot, f.score, vscores.get(&f.slot).copied(), tscores.get(&f.slot).copied(), dists.get(&f.slot).copied()))
                    .collect()
            }
        };
        ranked
            .into_iter()
            .map(|(slot, score, vector_score, text_score, distance)| {
                let mut hit = Hit {
                    id: st.slots[slot as usize].id.to_string(),
                    chunk_id: None,
                    span: None,
                    score,
                    vector_score,
                    text_score,
                    distance,
                    text: None,
                    metadata: None,
                    vector: None,
                };
                fill(&st, slot, q.select, &mut hit)?;
                Ok(hit)
            })
            .collect()
    }

    /// Runs many queries in parallel (rayon); stops early with `ERR_ABORTED` when cancelled.
    /// The query texts to embed (see [`search`](Self::search)) are embedded first, all in
    /// one call to the embedder (a local model batches them), not one call per query.
    pub fn search_batch(&self, queries: &[SearchQuery], cancel: &Cancel) -> Result<Vec<Vec<Hit>>> {
        self.check_readable()?;
        let (idx, texts): (Vec<usize>, Vec<&str>) = queries.iter().enumerate().filter_map(|(i, q)| Some((i, self.text_to_embed(q)?))).unzip();
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; queries.len()];
        if !texts.is_empty() {
            for (i, v) in idx.into_iter().zip(self.embed_cancellable(&texts, cancel)?) {
                vectors[i] = Some(v);
            }
        }
        queries
            .par_iter()
            .zip(vectors)
            .map(|(q, v)| {
                cancel.check()?;
                match v {
                    Some(v) => self.search_prepared(&SearchQuery { vector: Some(v), ..q.clone() }),
                    None => self.search_prepared(q),
                }
            })
            .collect()
    }
}

fn mode_name(m: Mode) -> &'static str {
    match m {
        Mode::Vector => "vector",
        Mode::Text => "text",
        Mode::Hybrid => "hybrid",
    }
}

/// Adds the selected stored fields to a hit. A chunk's hit is turned into its parent
/// record's: the parent's id and metadata, with the chunk's id, span, text and vector.
///
/// A hit ranked by its vector has its vector row checked against the row's checksum first
/// (a CRC over a few KiB per hit): a damaged row is `ERR_CORRUPT`, never a hit scored with
/// wrong numbers.
fn fill(st: &State, slot: u32, select: Select, hit: &mut Hit) -> Result<()> {
    if hit.vector_score.is_some() || hit.distance.is_some() {
        st.check_vector(slot)?;
    }
    let info = &st.slots[slot as usize];
    if (select.text && info.has_text()) || (select.vector && info.has_vector()) {
        let r = st.read_record(slot, Parts { text: select.text, vector: select.vector, metadata: false })?;
        hit.text = r.text;
        hit.vector = r.vector;
    }
    let mut meta_slot = Some(slot);
    if let Some((parent, span)) = st.chunk_link(slot) {
        hit.chunk_id = Some(std::mem::replace(&mut hit.id, parent.to_string()));
        hit.span = Some(span);
        meta_slot = st.ids.get(parent).copied();
    }
    if select.metadata {
        hit.metadata = meta_slot.and_then(|s| st.meta[s as usize].clone());
    }
    Ok(())
}

/// Fraction of live vectors in `0..n` passing `filter`, estimated on an even sample.
fn selectivity(st: &State, filter: &Filter, n: u32) -> f64 {
    const SAMPLE: u32 = 512;
    let step = (n / SAMPLE).max(1);
    let (mut seen, mut pass) = (0u32, 0u32);
    let mut s = step / 2;
    while s < n {
        let info = &st.slots[s as usize];
        if info.alive() && info.has_vector() {
            seen += 1;
            if filter.matches(st.meta[s as usize].as_ref()) {
                pass += 1;
            }
        }
        s += step;
    }
    if seen == 0 { 0.0 } else { pass as f64 / seen as f64 }
}

/// Vector search over a state snapshot: the frozen graph for the slots it covers,
/// an exact scan for the newer ones, merged.
fn vector_search(st: &State, metric: Metric, qv: &[f32], p: &VectorParams<'_>) -> Vec<Scored> {
    let Some(vs) = st.vectors.as_ref() else { return Vec::new() };
    let n = st.slots.len() as u32;
    let dist = |s: u32| metric.distance(qv, vs.get(s));
    let accept = |s: u32| {
        let info = &st.slots[s as usize];
        info.alive() && info.has_vector() && p.filter.is_none_or(|f| f.matches(st.meta[s as usize].as_ref()))
    };
    if p.exact {
        return flat::top_k(0..n, p.k, p.max_distance, &dist, &accept);
    }
    let gn = st.graph.len().min(n);
    let mut use_exact = st.graph.is_empty();
    let mut budget = usize::MAX;
    if let (Some(f), false) = (p.filter, use_exact) {
        let sel = selectivity(st, f, gn);
        if sel < EXACT_SELECTIVITY || sel * (gn as f64) < (p.k as f64) * 4.0 {
            use_exact = true;
        } else {
            budget = (p.ef as f64 / sel * 8.0).max(20_000.0) as usize;
        }
    }
    let mut res = if use_exact {
        flat::top_k(0..gn, p.k, p.max_distance, &dist, &accept)
    } else {
        let raw = match st.codes.as_ref().filter(|c| c.encoded() >= gn) {
            // traverse on the 8-bit codes, then re-rank the beam on the full vectors
            Some(codes) => {
                let q8 = codes.sq8.query(metric, qv);
                let beam = st.graph.search(p.ef, &|s| codes.distance(&q8, s), &|s| codes.prefetch(s), Some(&accept), budget);
                beam.iter().for_each(|x| vs.prefetch(x.slot, PREFETCH_LINES));
                let mut exact: Vec<Scored> = beam.iter().map(|x| Scored { dist: dist(x.slot), slot: x.slot }).collect();
                exact.sort_unstable();
                exact
            }
            None => st.graph.search(p.ef, &dist, &|s| vs.prefetch(s, PREFETCH_LINES), Some(&accept), budget),
        };
        let beyond = p.max_distance.is_some_and(|m| raw.last().is_some_and(|x| x.dist > m));
        let mut r: Vec<Scored> = raw.into_iter().filter(|x| p.max_distance.is_none_or(|m| x.dist <= m)).collect();
        // too few hits from the graph (selective filter, many tombstones): answer exactly
        if r.len() < p.k && !beyond {
            r = flat::top_k(0..gn, p.k, p.max_distance, &dist, &accept);
        }
        r
    };
    if gn < n {
        res.extend(flat::top_k(gn..n, p.k, p.max_distance, &dist, &accept));
        res.sort_unstable();
    }
    res.truncate(p.k);
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fsutil::test_dir;
    use crate::store::Record;
    use crate::ErrorCode;

    /// 60 records on a circle in the plane (`angle = i * 3°`), text "alpha" for even `i`,
    /// "beta" for odd ones, plus one text-only record; cosine distance grows with the angle.
    fn circle() -> std::sync::Arc<Collection> {
        let dir = test_dir("max-distance");
        let c = Collection::create(&dir.join("c"), "c", super::super::CollectionConfig::default()).unwrap();
        let mut records: Vec<Record> = (0..60)
            .map(|i| {
                let a = (i as f32 * 3.0).to_radians();
                Record {
                    id: format!("r{i}"),
                    text: Some(if i % 2 == 0 { "alpha common".into() } else { "beta common".into() }),
                    vector: Some(vec![a.cos(), a.sin(), 0.0]),
                    metadata: None,
                }
            })
            .collect();
        records.push(Record { id: "textonly".into(), text: Some("alpha alpha common".into()), vector: None, metadata: None });
        c.upsert(records).unwrap();
        c
    }

    fn query(text: Option<&str>, mode: Option<Mode>, max_distance: Option<f32>) -> SearchQuery {
        SearchQuery { text: text.map(String::from), vector: Some(vec![1.0, 0.0, 0.0]), k: 50, mode, max_distance, ..Default::default() }
    }

    /// Cosine distance of `r{i}` from the query.
    fn dist(i: usize) -> f32 {
        1.0 - (i as f32 * 3.0).to_radians().cos()
    }

    #[test]
    fn max_distance_applies_in_every_mode() {
        let c = circle();
        let m = dist(10) + 1e-4; // r0..=r10 are in range
        for mode in [Some(Mode::Vector), Some(Mode::Hybrid), Some(Mode::Text), None] {
            let hits = c.search(&query(Some("common"), mode, Some(m))).unwrap();
            assert_eq!(hits.len(), 11, "{mode:?}: {hits:?}");
            for h in &hits {
                let d = h.distance.unwrap_or_else(|| panic!("{mode:?}: {} has no distance", h.id));
                assert!(d <= m, "{mode:?}: {} at {d} > {m}", h.id);
            }
            assert!(hits.iter().all(|h| h.id != "textonly"), "{mode:?}: a record without a vector is out of range");
        }
        // text mode ranks by BM25 among the records in range: only the alphas match "alpha"
        let hits = c.search(&query(Some("alpha"), Some(Mode::Text), Some(m))).unwrap();
        assert_eq!(hits.len(), 6, "{hits:?}");
        assert!(hits.iter().all(|h| h.text_score.is_some() && h.id != "textonly"));
        // hybrid: fewer than k when fewer are in range, none beyond
        let hits = c.search(&query(Some("beta"), Some(Mode::Hybrid), Some(dist(3) + 1e-4))).unwrap();
        let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids.len(), 4, "{ids:?}");
        for id in ["r0", "r1", "r2", "r3"] {
            assert!(ids.contains(&id), "{ids:?}");
        }
        // without a range, text mode is unchanged: the text-only record ranks first for "alpha"
        let hits = c.search(&query(Some("alpha"), Some(Mode::Text), None)).unwrap();
        assert_eq!(hits[0].id, "textonly");
        assert!(hits.iter().all(|h| h.distance.is_none()));
    }

    #[test]
    fn max_distance_without_a_query_vector_is_refused() {
        let c = circle();
        let q = SearchQuery { text: Some("alpha".into()), max_distance: Some(0.5), ..Default::default() };
        for mode in [None, Some(Mode::Text)] {
            let e = c.search(&SearchQuery { mode, ..q.clone() }).unwrap_err();
            assert_eq!(e.code(), ErrorCode::InvalidArg, "{mode:?}");
            assert_eq!(e.location().field.as_deref(), Some("maxDistance"));
        }
    }

    #[test]
    fn non_finite_counts_and_distances_are_refused() {
        for (json, code) in [
            (r#"{"text": "a", "k": 0}"#, ErrorCode::InvalidArg),
            (r#"{"text": "a", "k": 1.5}"#, ErrorCode::InvalidArg),
            (r#"{"text": "a", "k": 1e300}"#, ErrorCode::InvalidArg),
            (r#"{"text": "a", "ef": -1}"#, ErrorCode::InvalidArg),
            (r#"{"text": "a", "k": "10"}"#, ErrorCode::InvalidArg),
            (r#"{"text": "a", "maxDistance": "1"}"#, ErrorCode::InvalidArg),
        ] {
            assert_eq!(SearchQuery::from_json_str(json, None).unwrap_err().code(), code, "{json}");
        }
    }
}
