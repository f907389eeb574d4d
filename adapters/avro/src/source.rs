//! [`AvroSource`]: an Object Container File read record by record.

use crate::convert::convert;
use crate::depth::{is_recursive, DepthGuard};
use crate::resolve::{compile, Resolution};
use crate::AvroOptions;
use apache_avro::error::Details;
use apache_avro::{Reader, Schema};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, FieldMapping, Position, Progress, Source, SourceSpec};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The largest block (or single value) the decoder may allocate: a corrupt length beyond it
/// is `ERR_LIMIT` instead of a huge allocation. Writers use blocks of 16 KB to a few MB.
pub const MAX_ALLOCATION: usize = 128 << 20;

/// Counts the bytes the decoder has consumed (the decoder owns the reader, so the count is
/// shared through an atomic).
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Streams the records of one Avro Object Container File.
///
/// Records are decoded one at a time from a buffered reader (memory is bounded by one
/// data block plus one batch), resolved against the reader schema when one is given, and
/// converted to JSON rows; the mapped vector field is decoded straight into `Vec<f32>`.
pub struct AvroSource {
    name: String,
    reader: Reader<'static, Counting<BufReader<File>>>,
    resolution: Resolution,
    mapping: FieldMapping,
    consumed: Arc<AtomicU64>,
    total_bytes: u64,
    rows: u64,
    /// Offset of the data block the last record came from.
    block_start: u64,
    /// A stream-ending error, reported after the rows read before it.
    pending: Option<AdapterError>,
    done: bool,
    /// For recursive schemas: checks the depth of each block's datums before the decoder
    /// (which recurses without a limit) reads them.
    guard: Option<DepthGuard>,
}

impl AvroSource {
    /// Opens `spec.location` and reads its header; see the crate docs for the options.
    pub fn open(spec: &SourceSpec) -> Result<AvroSource, AdapterError> {
        let options: AvroOptions = spec.options()?;
        let name = spec.display_location();
        let at = || Position { source: name.clone(), ..Default::default() };
        let reader_schema = match &options.reader_schema {
            None => None,
            Some(v) => {
                let parsed = match v {
                    serde_json::Value::String(s) => Schema::parse_str(s),
                    other => Schema::parse(other),
                };
                Some(parsed.map_err(|e| AdapterError::new(AdapterErrorCode::InvalidArg, format!("invalid readerSchema: {e}"), at()))?)
            }
        };
        let file = File::open(&spec.location).map_err(|e| open_error(&e, &name))?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        apache_avro::util::max_allocation_bytes(MAX_ALLOCATION);
        let consumed = Arc::new(AtomicU64::new(0));
        let counting = Counting { inner: BufReader::with_capacity(256 << 10, file), count: consumed.clone() };
        let reader = Reader::new(counting).map_err(|e| {
            let mut err = avro_error(e, at());
            if err.code == AdapterErrorCode::Parse {
                err.message = format!("not a readable Avro object container file: {}", err.message);
            }
            err
        })?;
        let vector: Vec<&str> = spec.mapping.vector.as_deref().map(|v| v.split('.').collect()).unwrap_or_default();
        let writer = reader.writer_schema();
        let resolution = compile(writer, reader_schema.as_ref().unwrap_or(writer), &vector)
            .map_err(|e| AdapterError::new(AdapterErrorCode::InvalidArg, e.message, Position { field: e.field, ..at() }))?;
        let block_start = consumed.load(Ordering::Relaxed);
        let guard = if is_recursive(writer) { Some(DepthGuard::new(&spec.location, writer, &name)?) } else { None };
        Ok(AvroSource {
            name,
            reader,
            resolution,
            mapping: spec.mapping.clone(),
            consumed,
            total_bytes,
            rows: 0,
            block_start,
            pending: None,
            done: false,
            guard,
        })
    }

    /// The file's (writer) schema.
    pub fn writer_schema(&self) -> &Schema {
        self.reader.writer_schema()
    }
}

fn open_error(e: &io::Error, name: &str) -> AdapterError {
    let pos = Position { source: name.to_string(), ..Default::default() };
    match e.kind() {
        io::ErrorKind::NotFound => AdapterError::new(AdapterErrorCode::NotFound, format!("no such file: {name}"), pos),
        _ => AdapterError::new(AdapterErrorCode::Io, format!("cannot open {name}: {e}"), pos),
    }
}

/// Maps an apache-avro error: a truncated file and malformed data are `ERR_PARSE`, an
/// oversized length `ERR_LIMIT`, any other I/O failure `ERR_IO`.
fn avro_error(e: apache_avro::Error, pos: Position) -> AdapterError {
    let message = e.to_string();
    let mut code = AdapterErrorCode::Parse;
    let mut truncated = false;
    match e.details() {
        Details::MemoryAllocation { .. } => code = AdapterErrorCode::Limit,
        _ => {
            let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
            while let Some(s) = src {
                if let Some(io) = s.downcast_ref::<io::Error>() {
                    match io.kind() {
                        io::ErrorKind::UnexpectedEof => truncated = true,
                        io::ErrorKind::InvalidData => {}
                        _ => code = AdapterErrorCode::Io,
                    }
                    break;
                }
                src = s.source();
            }
        }
    }
    let message = if truncated { format!("truncated file: {message}") } else { message };
    AdapterError::new(code, message, pos)
}

impl Source for AvroSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let mut batch = Batch { rows: Vec::with_capacity(max.clamp(1, 4096)) };
        while batch.rows.len() < max.max(1) {
            if let Some(g) = self.guard.as_mut() {
                if let Err(e) = g.ensure(self.rows) {
                    self.done = true;
                    if batch.rows.is_empty() {
                        return Err(e);
                    }
                    self.pending = Some(e);
                    break;
                }
            }
            let before = self.consumed.load(Ordering::Relaxed);
            let next = self.reader.next();
            let after = self.consumed.load(Ordering::Relaxed);
            if after != before {
                // The decoder read a new block header and body before this record.
                self.block_start = before;
            }
            let pos = Position { source: self.name.clone(), row: Some(self.rows), byte: Some(self.block_start), field: None };
            match next {
                None => {
                    self.done = true;
                    break;
                }
                Some(Err(e)) => {
                    self.done = true;
                    let mut err = avro_error(e, pos);
                    err.message = format!("{} (in the data block at byte {})", err.message, self.block_start);
                    if batch.rows.is_empty() {
                        return Err(err);
                    }
                    self.pending = Some(err);
                    break;
                }
                Some(Ok(datum)) => {
                    self.rows += 1;
                    batch.rows.push(match convert(&self.resolution, datum) {
                        Ok((row, vector)) => self.mapping.apply_with(&row, vector, &pos),
                        Err(e) => {
                            let field = e.path.join(".");
                            Err(AdapterError::new(AdapterErrorCode::InvalidArg, e.message, pos.field(&field)))
                        }
                    });
                }
            }
        }
        if batch.rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(batch))
    }

    fn progress(&self) -> Progress {
        Progress { rows: self.rows, bytes: self.consumed.load(Ordering::Relaxed), total_rows: None, total_bytes: Some(self.total_bytes) }
    }
}
