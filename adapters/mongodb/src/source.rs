//! The streaming mongodb source: one `find` cursor, read a batch at a time from the raw
//! BSON of each document.

use crate::convert;
use crate::error::map_error;
use hektor_adapters_api::{runtime::block, url_passwords};
use crate::options::MongoOptions;
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, FieldMapping, Position, Progress, Source, SourceRecord, SourceSpec};
use mongodb::bson::raw::{RawBsonRef, RawDocument};
use mongodb::bson::{Document, RawDocumentBuf};
use mongodb::error::ErrorKind;
use mongodb::options::ClientOptions;
use mongodb::{Client, Cursor};
use serde_json::{Map, Value};
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};

/// What converting a document needs (kept apart from the cursor so both can be borrowed).
struct Converter {
    name: String,
    mapping: FieldMapping,
    /// No id mapped: the document's `_id` becomes the id.
    implicit_id: bool,
}

/// Streams the documents of a `find`. Owns a current-thread tokio runtime on which the
/// client lives; every call blocks on it. Dropping the source (or reaching the end) kills
/// the cursor and shuts the client down.
pub struct MongoSource {
    conv: Converter,
    rt: Option<Runtime>,
    client: Option<Client>,
    cursor: Option<Cursor<RawDocumentBuf>>,
    secrets: Vec<String>,
    pending: Option<AdapterError>,
    rows: u64,
    bytes: u64,
    total: Option<u64>,
    done: bool,
}

/// Parses a JSON option (extended JSON accepted) into a BSON document.
fn document_option(v: &Option<Value>, field: &str, at: &Position) -> Result<Option<Document>, AdapterError> {
    let invalid = |msg: String| AdapterError::new(AdapterErrorCode::InvalidArg, msg, at.field(field));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Document::try_from(m.clone()).map(Some).map_err(|e| invalid(format!("`{field}` is not a valid (extended) JSON document: {e}"))),
        Some(_) => Err(invalid(format!("`{field}` must be a JSON object"))),
    }
}

impl MongoSource {
    /// Connects and opens the cursor (errors: `ERR_CONNECT`, `ERR_AUTH`, `ERR_NOT_FOUND`,
    /// `ERR_INVALID_ARG`).
    pub fn open(spec: &SourceSpec) -> Result<MongoSource, AdapterError> {
        let base = spec.display_location();
        let at0 = Position { source: base.clone(), ..Default::default() };
        let opts: MongoOptions = spec.options()?;
        let invalid = |field: &str, msg: String| AdapterError::new(AdapterErrorCode::InvalidArg, msg, at0.field(field));
        if opts.db.is_empty() {
            return Err(invalid("db", "the mongodb source needs `db`".into()));
        }
        if opts.collection.is_empty() {
            return Err(invalid("collection", "the mongodb source needs `collection`".into()));
        }
        if opts.batch_size == Some(0) {
            return Err(invalid("batchSize", "batchSize must be at least 1".into()));
        }
        let name = format!("{base} {}.{}", opts.db, opts.collection);
        let at = Position { source: name.clone(), ..Default::default() };
        let filter = document_option(&opts.filter, "filter", &at)?.unwrap_or_default();
        let projection = document_option(&opts.projection, "projection", &at)?;
        let sort = document_option(&opts.sort, "sort", &at)?;
        let secrets = url_passwords(&spec.location);
        let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let timeout = Duration::from_millis(opts.timeout_ms.unwrap_or(5_000).max(1));

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| AdapterError::new(AdapterErrorCode::Io, format!("cannot start the I/O runtime: {e}"), at.clone()))?;
        let opened = block(&rt, &name, async {
            let mut options = ClientOptions::parse(&spec.location).await.map_err(|e| {
                let mut err = map_error(&e, at.field("location"), &secret_refs);
                if matches!(*e.kind, ErrorKind::InvalidArgument { .. }) {
                    err.message = format!("invalid connection string: {}", err.message);
                }
                err
            })?;
            options.server_selection_timeout = Some(timeout);
            options.connect_timeout = Some(timeout);
            if options.app_name.is_none() {
                options.app_name = Some("hektor".into());
            }
            let client = Client::with_options(options).map_err(|e| map_error(&e, at.field("location"), &secret_refs))?;
            let db = client.database(&opts.db);
            // A misspelt collection would otherwise read as empty: check that it exists
            // (skipped when the user may not list collections).
            match db.list_collection_names().filter(mongodb::bson::doc! {"name": &opts.collection}).await {
                // (compared here too: some servers ignore the filter)
                Ok(names) if !names.iter().any(|n| n == &opts.collection) => {
                    return Err(AdapterError::new(
                        AdapterErrorCode::NotFound,
                        format!("collection '{}' not found in database '{}'", opts.collection, opts.db),
                        at.field("collection"),
                    ))
                }
                Ok(_) => {}
                Err(e) if matches!(*e.kind, ErrorKind::Command(_)) => {}
                Err(e) => return Err(map_error(&e, at.clone(), &secret_refs)),
            }
            let coll = db.collection::<RawDocumentBuf>(&opts.collection);
            let total = if opts.count_total {
                let mut count = coll.count_documents(filter.clone());
                if let Some(l) = opts.limit {
                    count = count.limit(l);
                }
                Some(count.await.map_err(|e| map_error(&e, at.field("filter"), &secret_refs))?)
            } else {
                None
            };
            let mut find = coll.find(filter).batch_size(opts.batch_size.unwrap_or(1000));
            if let Some(p) = projection {
                find = find.projection(p);
            }
            if let Some(s) = sort {
                find = find.sort(s);
            }
            if let Some(l) = opts.limit {
                find = find.limit(i64::try_from(l).unwrap_or(i64::MAX));
            }
            let cursor = find.await.map_err(|e| map_error(&e, at.field("filter"), &secret_refs))?;
            Ok::<_, AdapterError>((client, cursor, total))
        });
        let (client, cursor, total) = match opened {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                rt.shutdown_timeout(Duration::from_millis(100));
                return Err(e);
            }
            Err(e) => {
                rt.shutdown_background();
                return Err(e);
            }
        };
        Ok(MongoSource {
            conv: Converter { name, mapping: spec.mapping.clone(), implicit_id: spec.mapping.id.is_none() },
            rt: Some(rt),
            client: Some(client),
            cursor: Some(cursor),
            secrets,
            pending: None,
            rows: 0,
            bytes: 0,
            total,
            done: false,
        })
    }

    /// Kills the cursor (when not exhausted) and shuts the client down (idempotent).
    fn close(&mut self) {
        let Some(rt) = self.rt.take() else { return };
        let cursor = self.cursor.take();
        let client = self.client.take();
        if Handle::try_current().is_ok() {
            // inside another runtime we may not block
            let guard = rt.enter();
            drop(cursor);
            drop(client);
            drop(guard);
            rt.shutdown_background();
            return;
        }
        rt.block_on(async {
            drop(cursor);
            if let Some(c) = client {
                let _ = tokio::time::timeout(Duration::from_secs(2), c.shutdown()).await;
            }
        });
        rt.shutdown_timeout(Duration::from_millis(100));
    }
}

/// Follows `path` (a key, or a dotted path through sub-documents and arrays) in raw BSON.
fn raw_lookup<'a>(doc: &'a RawDocument, path: &str) -> Option<RawBsonRef<'a>> {
    if let Ok(Some(v)) = doc.get(path) {
        return Some(v);
    }
    let mut segs = path.split('.');
    let mut cur = doc.get(segs.next()?).ok()??;
    for seg in segs {
        cur = match cur {
            RawBsonRef::Document(d) => d.get(seg).ok()??,
            RawBsonRef::Array(a) => a.get(seg.parse().ok()?).ok()??,
            _ => return None,
        };
    }
    Some(cur)
}

impl Converter {
    fn record(&self, doc: &RawDocument, index: u64) -> Result<SourceRecord, AdapterError> {
        let pos = Position::row(&self.name, index);
        let vector_field = self.mapping.vector.as_deref();
        let mut vector = None;
        if let Some(f) = vector_field {
            if let Some(v) = raw_lookup(doc, f) {
                vector = convert::vector(v).map_err(|m| AdapterError::new(AdapterErrorCode::InvalidArg, m, pos.field(f)))?;
            }
        }
        let mut row = Map::new();
        for item in doc.iter() {
            let (key, value) = item.map_err(|e| AdapterError::new(AdapterErrorCode::Parse, format!("malformed BSON: {e}"), pos.clone()))?;
            if Some(key) == vector_field {
                continue; // decoded natively above
            }
            let v = convert::value_of(value).map_err(|m| AdapterError::new(AdapterErrorCode::Parse, format!("malformed BSON: {m}"), pos.field(key)))?;
            row.insert(key.to_string(), v);
        }
        let id = if self.implicit_id { row.remove("_id") } else { None };
        let row = Value::Object(row);
        let mut rec = self.mapping.apply_with(&row, vector, &pos)?;
        if let Some(id) = id {
            rec.id = match id {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
        }
        Ok(rec)
    }
}

impl Source for MongoSource {
    fn name(&self) -> String {
        self.conv.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let (Some(rt), Some(cursor)) = (&self.rt, &mut self.cursor) else { return Ok(None) };
        let max = max.max(1);
        let conv = &self.conv;
        let (mut rows, mut bytes) = (self.rows, 0u64);
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        let (batch, end) = block(rt, &conv.name, async {
            let mut batch = Batch::default();
            while batch.rows.len() < max {
                match cursor.advance().await {
                    Ok(true) => {
                        let doc = cursor.current();
                        bytes += doc.as_bytes().len() as u64;
                        batch.rows.push(conv.record(doc, rows));
                        rows += 1;
                    }
                    Ok(false) => return (batch, Some(Ok(()))),
                    Err(e) => return (batch, Some(Err(map_error(&e, Position::row(&conv.name, rows), &secrets)))),
                }
            }
            (batch, None)
        })?;
        self.rows = rows;
        self.bytes += bytes;
        if let Some(end) = end {
            self.done = true;
            self.close();
            if let Err(e) = end {
                if batch.is_empty() {
                    return Err(e);
                }
                self.pending = Some(e);
            }
        }
        Ok(if batch.is_empty() { None } else { Some(batch) })
    }

    fn progress(&self) -> Progress {
        Progress { rows: self.rows, bytes: self.bytes, total_rows: self.total, total_bytes: None }
    }
}

impl Drop for MongoSource {
    fn drop(&mut self) {
        self.close();
    }
}
