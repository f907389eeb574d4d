//! `NativeCollection`: a handle on one collection. Arguments arrive packed by the SDK
//! (ids and texts as arrays, vectors as one `Float32Array` with per-record lengths,
//! metadata and queries as JSON); results go back as JSON strings, parsed in JS.

use crate::cancel;
use crate::error::{invalid, to_js};
use crate::run::{job, parse_json, Job};
use napi::bindgen_prelude::AsyncTask;
use hektor_core::store::record::Parts;
use hektor_core::{Collection, Filter, Hit, Record, SearchQuery};
use napi::bindgen_prelude::{Float32Array, Int32Array};
use napi_derive::napi;
use serde_json::Value;
use std::sync::Arc;

/// A collection handle (private: wrapped by the SDK's `Collection`).
#[napi]
pub struct NativeCollection {
    inner: Arc<Collection>,
}

impl NativeCollection {
    pub(crate) fn new(inner: Arc<Collection>) -> Self {
        NativeCollection { inner }
    }

    /// The engine collection.
    pub(crate) fn inner(&self) -> Arc<Collection> {
        self.inner.clone()
    }
}

/// Splits a concatenated vector buffer by per-item lengths (-1 = no vector).
fn split_vectors(data: &[f32], lengths: &[i32], n: usize) -> napi::Result<Vec<Option<Vec<f32>>>> {
    if lengths.len() != n {
        return Err(invalid("internal: vector lengths do not match the batch"));
    }
    let mut out = Vec::with_capacity(n);
    let mut pos = 0usize;
    for &l in lengths {
        if l < 0 {
            out.push(None);
        } else {
            let end = pos + l as usize;
            if end > data.len() {
                return Err(invalid("internal: vector buffer is too short"));
            }
            out.push(Some(data[pos..end].to_vec()));
            pos = end;
        }
    }
    Ok(out)
}

fn parse_filter(json: Option<String>) -> napi::Result<Option<Filter>> {
    match json {
        None => Ok(None),
        Some(s) => Ok(Some(Filter::parse(&parse_json("filter", &s)?).map_err(to_js)?)),
    }
}

/// Records or hits as JSON without their vectors, and the vectors in one typed array
/// (napi-rs copies it into V8 memory where external buffers are not allowed), so no vector
/// crosses as decimal text.
#[napi(object)]
pub struct NativeRecords {
    /// The records (`null` for unknown ids) or hits (an array per query for a batch), without
    /// `vector`.
    pub json: String,
    /// Every returned vector, one after the other.
    pub vectors: Float32Array,
    /// Per record or hit, in order (a batch's hits flattened), the length of its vector in
    /// `vectors`, or -1 for none.
    pub lengths: Int32Array,
}

/// Collects the vectors of records or hits, in order, for a [`NativeRecords`].
#[derive(Default)]
struct VectorsApart {
    vectors: Vec<f32>,
    lengths: Vec<i32>,
}

impl VectorsApart {
    /// Adds the next item's vector (or its absence).
    fn push(&mut self, v: Option<Vec<f32>>) {
        match v {
            Some(v) => {
                self.lengths.push(v.len() as i32);
                self.vectors.extend_from_slice(&v);
            }
            None => self.lengths.push(-1),
        }
    }

    /// The result: `json` (written without the vectors) and the vectors beside it.
    fn with_json(self, json: String) -> NativeRecords {
        NativeRecords { json, vectors: Float32Array::new(self.vectors), lengths: Int32Array::new(self.lengths) }
    }
}

impl NativeRecords {
    /// Serialises hit lists with their vectors moved into the typed array.
    fn from_hits(mut lists: Vec<Vec<Hit>>, batch: bool) -> NativeRecords {
        let mut apart = VectorsApart::default();
        for h in lists.iter_mut().flatten() {
            apart.push(h.vector.take());
        }
        let json = if batch { serde_json::to_string(&lists) } else { serde_json::to_string(&lists[0]) };
        apart.with_json(json.unwrap())
    }
}

fn parts(select: &[String]) -> Parts {
    if select.is_empty() {
        return Parts::ALL;
    }
    Parts {
        text: select.iter().any(|s| s == "text"),
        vector: select.iter().any(|s| s == "vector"),
        metadata: select.iter().any(|s| s == "metadata"),
    }
}

#[napi]
impl NativeCollection {
    /// The collection's name.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    /// Inserts or replaces records: the whole call is validated first, then written in
    /// atomic batches of `batch_size` (default: one batch). Returns the number of distinct
    /// records written.
    #[napi(ts_return_type = "Promise<number>")]
    #[allow(clippy::too_many_arguments)]
    pub fn upsert(
        &self,
        ids: Vec<String>,
        texts: Vec<Option<String>>,
        vector_data: Float32Array,
        vector_lengths: Int32Array,
        metadata_json: Option<String>,
        batch_size: Option<u32>,
        cancel_id: Option<u32>,
    ) -> napi::Result<AsyncTask<Job<u32>>> {
        let n = ids.len();
        if texts.len() != n {
            return Err(invalid("internal: texts do not match the batch"));
        }
        // only copies on the JavaScript thread; splitting and parsing run in the job
        let (data, lengths) = (vector_data.to_vec(), vector_lengths.to_vec());
        let col = self.inner.clone();
        let batch = batch_size.map_or(usize::MAX, |b| b.max(1) as usize);
        let cancel = cancel::get(cancel_id);
        Ok(job(move || {
            let vectors = split_vectors(&data, &lengths, n).map_err(|e| hektor_core::Error::internal(e.reason.clone()))?;
            let metas: Vec<Value> = match metadata_json {
                Some(s) => match serde_json::from_str(&s) {
                    Ok(Value::Array(a)) if a.len() == n => a,
                    Ok(_) => return Err(hektor_core::Error::internal("metadata does not match the batch")),
                    Err(e) => return Err(hektor_core::Error::invalid(format!("metadata is not valid JSON: {e}"))),
                },
                None => vec![Value::Null; n],
            };
            let records: Vec<Record> = ids
                .into_iter()
                .zip(texts)
                .zip(vectors)
                .zip(metas)
                .map(|(((id, text), vector), m)| Record { id, text, vector, metadata: if m.is_null() { None } else { Some(m) } })
                .collect();
            col.upsert_in_batches(records, batch, &cancel).map(|n| n as u32)
        }))
    }

    /// Records by id: JSON for everything but the vectors (`null` for unknown ids), and the
    /// vectors in one `Float32Array` (record `i`'s is the next `lengths[i]` values, none when
    /// `lengths[i]` is -1), so a large read does not parse numbers from text on the JS thread.
    #[napi(ts_return_type = "Promise<NativeRecords>")]
    pub fn get(&self, ids: Vec<String>, select: Vec<String>) -> AsyncTask<Job<NativeRecords>> {
        let col = self.inner.clone();
        let p = parts(&select);
        job(move || {
            let recs = col.get(&ids, p)?;
            let mut apart = VectorsApart::default();
            let out: Vec<Value> = recs
                .into_iter()
                .map(|r| match r {
                    None => {
                        apart.push(None);
                        Value::Null
                    }
                    Some(r) => {
                        let mut o = serde_json::Map::new();
                        o.insert("id".into(), r.id.into());
                        if let Some(t) = r.text {
                            o.insert("text".into(), t.into());
                        }
                        apart.push(r.vector);
                        if let Some(m) = r.metadata {
                            o.insert("metadata".into(), m);
                        }
                        Value::Object(o)
                    }
                })
                .collect();
            Ok(apart.with_json(serde_json::to_string(&out).unwrap()))
        })
    }

    /// Deletes by ids; returns how many existed.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn delete(&self, ids: Vec<String>) -> AsyncTask<Job<u32>> {
        let col = self.inner.clone();
        job(move || col.delete(&ids).map(|n| n as u32))
    }

    /// Deletes every record matching a JSON filter.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn delete_where(&self, filter_json: String) -> napi::Result<AsyncTask<Job<u32>>> {
        let f = parse_filter(Some(filter_json))?.unwrap_or_default();
        let col = self.inner.clone();
        Ok(job(move || col.delete_where(&f).map(|n| n as u32)))
    }

    /// Counts live records, optionally matching a JSON filter.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn count(&self, filter_json: Option<String>) -> napi::Result<AsyncTask<Job<u32>>> {
        let f = parse_filter(filter_json)?;
        let col = self.inner.clone();
        Ok(job(move || col.count(f.as_ref()).map(|n| n as u32)))
    }

    /// Runs a query (JSON options + optional vector); returns hits as JSON with their
    /// vectors apart.
    #[napi(ts_return_type = "Promise<NativeRecords>")]
    pub fn search(&self, query_json: String, vector: Option<Float32Array>) -> napi::Result<AsyncTask<Job<NativeRecords>>> {
        let q = SearchQuery::from_json_str(&query_json, vector.map(|v| v.to_vec())).map_err(to_js)?;
        let col = self.inner.clone();
        Ok(job(move || Ok(NativeRecords::from_hits(vec![col.search(&q)?], false))))
    }

    /// Runs many queries in parallel; `queries_json` is a JSON array, vectors are packed;
    /// returns one hit list per query, their vectors apart.
    #[napi(ts_return_type = "Promise<NativeRecords>")]
    pub fn search_batch(
        &self,
        queries_json: String,
        vector_data: Float32Array,
        vector_lengths: Int32Array,
        cancel_id: Option<u32>,
    ) -> napi::Result<AsyncTask<Job<NativeRecords>>> {
        let qs = match parse_json("queries", &queries_json)? {
            Value::Array(a) => a,
            _ => return Err(invalid("queries must be an array")),
        };
        let vectors = split_vectors(&vector_data, &vector_lengths, qs.len())?;
        let queries = qs
            .iter()
            .zip(vectors)
            .enumerate()
            .map(|(i, (q, v))| SearchQuery::from_json(q, v).map_err(|e| to_js(e.context(format!("query {i}")))))
            .collect::<napi::Result<Vec<_>>>()?;
        let cancel = cancel::get(cancel_id);
        let col = self.inner.clone();
        Ok(job(move || Ok(NativeRecords::from_hits(col.search_batch(&queries, &cancel)?, true))))
    }

    /// Counts, sizes and configuration as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn stats(&self) -> AsyncTask<Job<String>> {
        let col = self.inner.clone();
        job(move || Ok(serde_json::to_string(&col.stats()?).unwrap()))
    }

    /// Runs the indexing still to do on this call's thread until the graph covers every
    /// vector written so far (the background indexer works beside it).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn wait_for_index(&self, cancel_id: Option<u32>) -> AsyncTask<Job<()>> {
        let col = self.inner.clone();
        let cancel = cancel::get(cancel_id);
        job(move || col.wait_for_index(&cancel, |_| {}))
    }

    /// Catches a read-only handle up with the writer; true when something changed.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn refresh(&self) -> AsyncTask<Job<bool>> {
        let col = self.inner.clone();
        job(move || col.refresh())
    }

    /// Writes a checkpoint.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush(&self) -> AsyncTask<Job<()>> {
        let col = self.inner.clone();
        job(move || col.flush())
    }

    /// Rewrites the collection without deleted records.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn compact(&self, cancel_id: Option<u32>) -> AsyncTask<Job<()>> {
        let col = self.inner.clone();
        let cancel = cancel::get(cancel_id);
        job(move || col.compact(&cancel))
    }
}
