//! Ingest: streams a source (`hektor-adapters`) into a collection in bounded, atomic
//! batches, off the JavaScript thread, reporting progress through a weak (non-blocking,
//! never keeping Node alive) threadsafe function; and `NativeSource`, a source read on
//! its own (the SDK's `source.read()` async iterator).

use crate::cancel;
use crate::collection::NativeCollection;
use crate::error::invalid;
use crate::run::{job, parse_json, Job};
use hektor_adapters::{AdapterError, FieldMapping, Source, SourceRecord, SourceSpec};
use hektor_core::{Collection, Error, ErrorCode, Location, Progress, Record};
use napi::bindgen_prelude::AsyncTask;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

/// Progress callback: receives a JSON string, never blocks the ingest, never holds the event loop.
pub type ProgressFn = ThreadsafeFunction<String, (), String, Status, false, true>;

/// Errors reported in full in an ingest report (the rest are only counted).
const MAX_REPORTED_ERRORS: usize = 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpecJson {
    kind: String,
    location: String,
    #[serde(default)]
    options: Value,
    #[serde(default)]
    mapping: MappingJson,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MappingJson {
    id: Option<String>,
    #[serde(default)]
    text: Vec<String>,
    vector: Option<String>,
    #[serde(default)]
    metadata: Vec<String>,
}

/// Parses the SDK's source spec.
pub fn parse_spec(json: &str) -> napi::Result<SourceSpec> {
    let s: SpecJson =
        serde_json::from_value(parse_json("source", json)?).map_err(|e| invalid(format!("invalid source: {e}")))?;
    Ok(SourceSpec {
        kind: s.kind,
        location: s.location,
        options: s.options,
        mapping: FieldMapping { id: s.mapping.id, text: s.mapping.text, vector: s.mapping.vector, metadata: s.mapping.metadata },
    })
}

/// An adapter error as an engine error (same stable code and location).
pub fn adapter_error(e: AdapterError) -> Error {
    let code = match e.code.as_str() {
        "ERR_PARSE" => ErrorCode::Parse,
        "ERR_INVALID_ARG" => ErrorCode::InvalidArg,
        "ERR_DIMENSION_MISMATCH" => ErrorCode::DimensionMismatch,
        "ERR_CONNECT" => ErrorCode::Connect,
        "ERR_AUTH" => ErrorCode::Auth,
        "ERR_NOT_FOUND" => ErrorCode::NotFound,
        "ERR_ABORTED" => ErrorCode::Aborted,
        "ERR_LIMIT" => ErrorCode::Limit,
        _ => ErrorCode::Io,
    };
    let p = e.position;
    Error::new(code, e.message).with_location(Location {
        source: Some(p.source).filter(|s| !s.is_empty()),
        row: p.row,
        byte: p.byte,
        field: p.field,
    })
}

fn error_json(e: &Error) -> Value {
    json!({ "code": e.code().as_str(), "message": e.message(), "location": e.location() })
}

fn to_record(r: SourceRecord) -> Record {
    Record { id: r.id, text: r.text, vector: r.vector, metadata: r.metadata.map(Value::Object) }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct IngestOptions {
    batch_size: Option<usize>,
    on_error: Option<String>,
}

/// Runs the ingest loop; returns the report as JSON.
fn run_ingest(col: &Collection, mut src: Box<dyn Source>, opts: IngestOptions, progress: Option<ProgressFn>, cancel: hektor_core::Cancel) -> hektor_core::Result<String> {
    // shared with the observers of the batches' embedding; released when the last one drops
    let progress = progress.map(Arc::new);
    let batch = opts.batch_size.unwrap_or(1000);
    if batch == 0 || batch > 100_000 {
        return Err(Error::invalid("batchSize must be between 1 and 100000"));
    }
    let skip = match opts.on_error.as_deref() {
        None | Some("stop") => false,
        Some("skip") => true,
        Some(o) => return Err(Error::invalid(format!("onError must be 'stop' or 'skip', got '{o}'"))),
    };
    let name = src.name();
    let start = Instant::now();
    let (mut rows, mut upserted, mut skipped, mut batches) = (0u64, 0u64, 0u64, 0u64);
    let mut errors: Vec<Value> = Vec::new();
    let note = |e: &Error, errors: &mut Vec<Value>| {
        if errors.len() < MAX_REPORTED_ERRORS {
            errors.push(error_json(e));
        }
    };
    loop {
        cancel.check()?;
        let Some(b) = src.next_batch(batch).map_err(adapter_error)? else { break };
        let base = rows;
        rows += b.rows.len() as u64;
        let mut records = Vec::with_capacity(b.rows.len());
        let mut row_of = Vec::with_capacity(b.rows.len());
        for (i, r) in b.rows.into_iter().enumerate() {
            match r {
                Ok(rec) => {
                    records.push(to_record(rec));
                    row_of.push(base + i as u64);
                }
                Err(e) => {
                    let e = adapter_error(e);
                    if !skip {
                        return Err(e);
                    }
                    skipped += 1;
                    note(&e, &mut errors);
                }
            }
        }
        // while the batch's texts are embedded: the model's first load and the texts
        // embedded so far reach `onProgress` too (phases `loadingModel`, `modelLoaded`, `embedding`)
        let observed = match &progress {
            Some(p) => {
                let pr = src.progress();
                let base = json!({
                    "rows": rows, "upserted": upserted, "skipped": skipped, "bytes": pr.bytes,
                    "totalRows": pr.total_rows, "totalBytes": pr.total_bytes,
                });
                let p = p.clone();
                cancel.clone().with_observer(move |ev: &Progress| {
                    let mut v = base.clone();
                    v["elapsedMs"] = json!(start.elapsed().as_millis() as u64);
                    match ev {
                        Progress::ModelLoading { model } => {
                            v["phase"] = json!("loadingModel");
                            v["model"] = json!(model);
                        }
                        Progress::ModelLoaded { model, load_ms } => {
                            v["phase"] = json!("modelLoaded");
                            v["model"] = json!(model);
                            v["loadMs"] = json!(load_ms);
                        }
                        Progress::Embedded { done, total } => {
                            v["phase"] = json!("embedding");
                            v["embedded"] = json!(done);
                            v["toEmbed"] = json!(total);
                        }
                    }
                    p.call(v.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
                })
            }
            None => cancel.clone(),
        };
        // the engine validates a batch as a whole; a bad record is dropped (skip) or
        // reported with its source row (stop), then the rest is written
        while !records.is_empty() {
            cancel.check()?;
            // cancellable inside the batch too, while its texts are embedded
            match col.upsert_in_batches(records.clone(), usize::MAX, &observed) {
                Ok(n) => {
                    upserted += n as u64;
                    break;
                }
                Err(e) if e.location().row.is_some() && matches!(e.code(), ErrorCode::InvalidArg | ErrorCode::DimensionMismatch | ErrorCode::Limit) => {
                    let i = e.location().row.unwrap() as usize;
                    let loc = Location { source: Some(name.clone()), row: Some(row_of[i]), byte: None, field: e.location().field.clone() };
                    let e = Error::new(e.code(), e.message().to_string()).with_location(loc);
                    if !skip {
                        return Err(e);
                    }
                    skipped += 1;
                    note(&e, &mut errors);
                    records.remove(i);
                    row_of.remove(i);
                }
                Err(e) => return Err(e),
            }
        }
        batches += 1;
        if let Some(p) = &progress {
            let pr = src.progress();
            let ev = json!({
                "phase": "batch", "rows": rows, "upserted": upserted, "skipped": skipped, "bytes": pr.bytes,
                "totalRows": pr.total_rows, "totalBytes": pr.total_bytes,
                "elapsedMs": start.elapsed().as_millis() as u64,
            });
            p.call(ev.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(json!({
        "source": name, "rows": rows, "upserted": upserted, "skipped": skipped, "batches": batches,
        "errors": errors, "elapsedMs": (secs * 1000.0).round(), "rowsPerSecond": if secs > 0.0 { (rows as f64 / secs).round() } else { 0.0 },
    })
    .to_string())
}

#[napi]
impl NativeCollection {
    /// Streams a source (JSON spec) into the collection; resolves to the report as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn ingest(
        &self,
        spec_json: String,
        options_json: String,
        #[napi(ts_arg_type = "((progressJson: string) => void) | undefined | null")] on_progress: Option<ProgressFn>,
        cancel_id: Option<u32>,
    ) -> napi::Result<AsyncTask<Job<String>>> {
        let spec = parse_spec(&spec_json)?;
        let opts: IngestOptions =
            serde_json::from_value(parse_json("ingest options", &options_json)?).map_err(|e| invalid(format!("invalid ingest options: {e}")))?;
        let col = self.inner();
        let cancel = cancel::get(cancel_id);
        Ok(job(move || {
            let src = hektor_adapters::open(&spec).map_err(adapter_error)?;
            // the callback is dropped (released) when the job ends, whatever the outcome
            run_ingest(&col, src, opts, on_progress, cancel)
        }))
    }
}

/// A source read on its own (private: wrapped by the SDK's `Source.read()`).
#[napi]
pub struct NativeSource {
    inner: Arc<Mutex<Option<Box<dyn Source>>>>,
    spec: SourceSpec,
}

/// Prepares a source from its JSON spec (opened on the first `next`).
#[napi]
pub fn open_source(spec_json: String) -> napi::Result<NativeSource> {
    Ok(NativeSource { inner: Arc::new(Mutex::new(None)), spec: parse_spec(&spec_json)? })
}

#[napi]
impl NativeSource {
    /// The next batch as JSON `{ records, errors, progress }`, or `null` at the end.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub fn next(&self, max: u32) -> AsyncTask<Job<Option<String>>> {
        let inner = self.inner.clone();
        let spec = self.spec.clone();
        job(move || {
            let mut guard = inner.lock();
            if guard.is_none() {
                *guard = Some(hektor_adapters::open(&spec).map_err(adapter_error)?);
            }
            let src = guard.as_mut().unwrap();
            let Some(b) = src.next_batch((max as usize).clamp(1, 100_000)).map_err(adapter_error)? else {
                *guard = None;
                return Ok(None);
            };
            let mut records = Vec::with_capacity(b.rows.len());
            let mut errors = Vec::new();
            for r in b.rows {
                match r {
                    Ok(r) => records.push(json!({ "id": r.id, "text": r.text, "vector": r.vector, "metadata": r.metadata })),
                    Err(e) => errors.push(error_json(&adapter_error(e))),
                }
            }
            let p = src.progress();
            let progress = json!({ "rows": p.rows, "bytes": p.bytes, "totalRows": p.total_rows, "totalBytes": p.total_bytes });
            Ok(Some(json!({ "records": records, "errors": errors, "progress": progress }).to_string()))
        })
    }

    /// Closes the source early (connections, files).
    #[napi]
    pub fn close(&self) {
        *self.inner.lock() = None;
    }
}
