//! [`JsonlSource`]: JSON Lines (NDJSON), one object per line.

use std::io::BufRead;
use std::sync::Arc;

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, FieldMapping, Position, Progress, Source, SourceRecord, SourceSpec};
use serde_json::Value;

use crate::array::{kind_of, row_parse_error};
use hektor_adapters_api::input::{self, Budgeted, Gzip, Meter, DEFAULT_MAX_RECORD_BYTES};
use crate::options::JsonlOptions;

/// A `jsonl` source: see the [crate docs](crate).
pub struct JsonlSource {
    name: String,
    reader: Budgeted<Box<dyn BufRead + Send>>,
    meter: Arc<Meter>,
    total_bytes: Option<u64>,
    mapping: FieldMapping,
    line: Vec<u8>,
    /// Text offset of the next line.
    pos: u64,
    /// Lines read (blank ones included).
    lines: u64,
    /// Records read (blank lines are not records).
    rows: u64,
    done: bool,
    pending: Option<AdapterError>,
}

impl JsonlSource {
    /// Opens the JSON Lines file of `spec` (`spec.options` as [`JsonlOptions`]).
    pub fn open(spec: &SourceSpec) -> Result<JsonlSource, AdapterError> {
        let opts: JsonlOptions = spec.options()?;
        let name = spec.display_location();
        if opts.max_record_bytes == Some(0) {
            let at = Position { source: name, ..Default::default() };
            return Err(AdapterError::new(AdapterErrorCode::InvalidArg, "jsonl option maxRecordBytes must be positive", at));
        }
        let input = input::open(&spec.location, Gzip::from(opts.gzip), opts.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES))?;
        Ok(JsonlSource {
            name,
            reader: input.reader,
            meter: input.meter,
            total_bytes: input.total_bytes,
            mapping: spec.mapping.clone(),
            line: Vec::with_capacity(4096),
            pos: input.bom,
            lines: 0,
            rows: 0,
            done: false,
            pending: None,
        })
    }

    /// Parses the line in `self.line` (record `row`, line starting at byte `start`).
    fn parse(&self, row: u64, start: u64) -> Result<SourceRecord, AdapterError> {
        let pos = Position { source: self.name.clone(), row: Some(row), byte: Some(start), field: None };
        let line_no = self.lines;
        match serde_json::from_slice::<Value>(&self.line) {
            Ok(v @ Value::Object(_)) => self.mapping.apply(&v, &pos),
            Ok(_) => {
                let first = self.line.iter().copied().find(|b| !b.is_ascii_whitespace()).unwrap_or(b' ');
                Err(AdapterError::new(
                    AdapterErrorCode::InvalidArg,
                    format!("line {line_no} is {}, expected an object", kind_of(first)),
                    pos,
                ))
            }
            Err(e) => {
                let mut err = row_parse_error(&e, &self.line, pos);
                err.message = format!("{} (line {line_no})", err.message);
                if row == 0 && self.line.trim_ascii_start().starts_with(b"[") {
                    err.message.push_str("; the file looks like a JSON array: use kind 'json'");
                }
                Err(err)
            }
        }
    }
}

impl Source for JsonlSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let max = max.max(1);
        let mut batch = Batch { rows: Vec::with_capacity(max.min(4096)) };
        while batch.rows.len() < max && !self.done {
            self.meter.start_record();
            self.line.clear();
            let start = self.pos;
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => self.done = true,
                Ok(n) => {
                    self.pos += n as u64;
                    self.lines += 1;
                    if self.line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let row = self.rows;
                    self.rows += 1;
                    batch.rows.push(self.parse(row, start));
                }
                Err(e) => {
                    let pos = Position { source: self.name.clone(), row: Some(self.rows), byte: Some(start), field: None };
                    let err = input::io_error(&e, pos);
                    self.done = true;
                    if batch.rows.is_empty() {
                        return Err(err);
                    }
                    self.pending = Some(err);
                }
            }
        }
        Ok((!batch.rows.is_empty()).then_some(batch))
    }

    fn progress(&self) -> Progress {
        Progress { rows: self.rows, bytes: self.meter.file_bytes(), total_rows: None, total_bytes: self.total_bytes }
    }
}
