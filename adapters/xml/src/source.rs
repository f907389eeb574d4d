//! [`XmlSource`]: the records at an element path of an XML file, streamed with
//! quick-xml's pull reader (no DOM: one record in memory at a time).

use std::io::BufRead;
use std::sync::Arc;

use hektor_adapters_api::{
    lookup, AdapterError, AdapterErrorCode, Batch, FieldMapping, Position, Progress, Source, SourceRecord, SourceSpec,
};
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::NsReader;
use serde_json::Value;

use hektor_adapters_api::input::{self, Budgeted, Gzip, Meter, DEFAULT_MAX_RECORD_BYTES};
use crate::options::XmlOptions;
use crate::path::ElementPath;
use crate::record::{RecordBuilder, Shape};
use hektor_adapters_api::scalar::parse_vector;

/// Default `maxDepth`.
const DEFAULT_MAX_DEPTH: usize = 256;

/// An `xml` source: see the [crate docs](crate).
pub struct XmlSource {
    name: String,
    reader: NsReader<Budgeted<Box<dyn BufRead + Send>>>,
    meter: Arc<Meter>,
    total_bytes: Option<u64>,
    /// Text offset of the reader's first byte (a skipped byte-order mark).
    base: u64,
    mapping: FieldMapping,
    path: ElementPath,
    shape: Shape,
    vector_sep: Option<String>,
    max_depth: usize,
    /// Most path steps any element reached, and the names seen one level below that (for
    /// the "no element matches the path" error).
    reached: usize,
    /// Element names seen where the path stopped matching (at most 8).
    seen_there: Vec<String>,
    /// For each open element above the records: whether it matches the path so far.
    ancestors: Vec<bool>,
    record: Option<RecordBuilder>,
    buf: Vec<u8>,
    rows: u64,
    done: bool,
    pending: Option<AdapterError>,
}

impl XmlSource {
    /// Opens the XML file of `spec` (`spec.options` as [`XmlOptions`]).
    pub fn open(spec: &SourceSpec) -> Result<XmlSource, AdapterError> {
        let opts: XmlOptions = spec.options()?;
        let name = spec.display_location();
        let invalid =
            |m: String| AdapterError::new(AdapterErrorCode::InvalidArg, m, Position { source: name.clone(), ..Default::default() });
        let path = ElementPath::parse(&opts.path, &opts.namespaces).map_err(invalid)?;
        if opts.max_record_bytes == Some(0) || opts.max_depth == Some(0) {
            return Err(invalid("xml options maxRecordBytes and maxDepth must be positive".into()));
        }
        let max_depth = opts.max_depth.unwrap_or(DEFAULT_MAX_DEPTH);
        if path.len() > max_depth {
            return Err(invalid(format!("xml path has {} steps, deeper than maxDepth ({max_depth})", path.len())));
        }
        let input = input::open(&spec.location, Gzip::from(opts.gzip), opts.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES))?;
        let mut reader = NsReader::from_reader(input.reader);
        // Text is trimmed per element, not per event (the reader's trimming also trims
        // around comments and entity references).
        reader.config_mut().trim_text(false);
        reader.config_mut().expand_empty_elements = false;
        reader.config_mut().check_end_names = true;
        let shape = Shape {
            attribute_prefix: opts.attribute_prefix,
            text_key: opts.text_key,
            infer_types: opts.infer_types,
            trim_text: opts.trim_text,
            arrays: opts.arrays.into_iter().collect(),
            text_content: opts.text_content.into_iter().collect(),
        };
        Ok(XmlSource {
            name,
            reader,
            meter: input.meter,
            total_bytes: input.total_bytes,
            base: input.bom,
            mapping: spec.mapping.clone(),
            path,
            shape,
            vector_sep: opts.vector_separator,
            max_depth,
            ancestors: Vec::new(),
            record: None,
            buf: Vec::with_capacity(64 * 1024),
            rows: 0,
            reached: 0,
            seen_there: Vec::new(),
            done: false,
            pending: None,
        })
    }

    fn at(&self, byte: u64) -> Position {
        let row = self.record.as_ref().map(|_| self.rows);
        Position { source: self.name.clone(), row, byte: Some(byte), field: None }
    }

    /// A reader error as an adapter error (`ERR_LIMIT` for an oversized record, `ERR_IO`
    /// for a failing disk, `ERR_PARSE` otherwise).
    /// `event_start` is the text offset where the failing event began.
    fn xml_error(&self, e: quick_xml::Error, event_start: u64) -> AdapterError {
        let byte = self.base + self.reader.error_position();
        match e {
            quick_xml::Error::Io(err) => input::io_error(&err, self.at(self.base + self.reader.buffer_position())),
            quick_xml::Error::Encoding(err) => {
                // The reader does not record where; the decoder knows how far into the event.
                let into = match &err {
                    quick_xml::encoding::EncodingError::Utf8(u) => u.valid_up_to() as u64,
                    _ => 0,
                };
                AdapterError::new(
                    AdapterErrorCode::Parse,
                    format!("invalid UTF-8 ({err}); only UTF-8 XML is supported"),
                    self.at(event_start + into),
                )
            }
            other => AdapterError::new(AdapterErrorCode::Parse, format!("malformed XML: {other}"), self.at(byte)),
        }
    }

    /// Reads events up to the end of the next record; `None` at the end of the document.
    fn next_record(&mut self) -> Result<Option<Result<SourceRecord, AdapterError>>, AdapterError> {
        let mut buf = std::mem::take(&mut self.buf);
        let result = self.read_record(&mut buf);
        buf.clear();
        self.buf = buf;
        result
    }

    fn read_record(&mut self, buf: &mut Vec<u8>) -> Result<Option<Result<SourceRecord, AdapterError>>, AdapterError> {
        loop {
            buf.clear();
            if self.record.is_none() {
                self.meter.start_record();
            }
            let before = self.base + self.reader.buffer_position();
            let event = match self.reader.read_event_into(buf) {
                Ok(ev) => ev,
                Err(e) => return Err(self.xml_error(e, before)),
            };
            match event {
                Event::Start(e) => self.start_element(&e, before)?,
                Event::Empty(e) => {
                    self.start_element(&e, before)?;
                    if let Some(done) = self.end_element() {
                        return Ok(Some(done));
                    }
                }
                Event::End(_) => {
                    if let Some(done) = self.end_element() {
                        return Ok(Some(done));
                    }
                }
                Event::Text(t) => {
                    if let Some(rb) = self.record.as_mut() {
                        rb.text(&t.xml10_content());
                    }
                }
                Event::CData(t) => {
                    if let Some(rb) = self.record.as_mut() {
                        rb.text(&t.xml10_content());
                    }
                }
                Event::GeneralRef(r) => {
                    if let Some(rb) = self.record.as_mut() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) => rb.text(c.encode_utf8(&mut [0; 4])),
                            Ok(None) => match predefined(&r) {
                                Some(s) => rb.text(s),
                                None => rb.problem(format!("undefined entity '&{};' (DTD entities are not expanded)", &*r), before),
                            },
                            Err(e) => rb.problem(format!("bad character reference '&{};': {e}", &*r), before),
                        }
                    }
                }
                Event::Decl(d) => {
                    if let Some(Ok(enc)) = d.encoding() {
                        let e = enc.to_ascii_lowercase().replace(['-', '_'], "");
                        if !matches!(e.as_str(), "utf8" | "usascii" | "ascii") {
                            return Err(AdapterError::new(
                                AdapterErrorCode::InvalidArg,
                                format!("the document declares encoding {enc:?}; only UTF-8 is supported (convert it, e.g. `iconv -f {enc} -t UTF-8`)"),
                                self.at(before),
                            ));
                        }
                    }
                }
                Event::Eof => {
                    let open = self.ancestors.len() + self.record.as_ref().map_or(0, RecordBuilder::depth);
                    if open > 0 {
                        return Err(AdapterError::new(
                            AdapterErrorCode::Parse,
                            format!("unexpected end of input with {open} element(s) still open: the file looks truncated"),
                            self.at(before),
                        ));
                    }
                    // a path step that never matched while other elements stood there is a
                    // typo, not an empty record set (an empty parent is fine)
                    if self.rows == 0 && self.reached < self.path.len() && (self.reached == 0 || !self.seen_there.is_empty()) {
                        let matched = self.path.prefix(self.reached);
                        let there = if self.seen_there.is_empty() { "none".to_string() } else { self.seen_there.join(", ") };
                        let msg = if self.reached == 0 {
                            format!("no element matches the path '{}': the root element is {there}", self.path)
                        } else {
                            format!("no element matches the path '{}': '{matched}' exists, its children are {there}", self.path)
                        };
                        return Err(AdapterError::new(AdapterErrorCode::NotFound, msg, self.at(before).field("path")));
                    }
                    return Ok(None);
                }
                Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
    }

    /// An element starts (at text offset `byte`).
    fn start_element(&mut self, e: &BytesStart<'_>, byte: u64) -> Result<(), AdapterError> {
        let depth = self.ancestors.len() + self.record.as_ref().map_or(0, RecordBuilder::depth);
        if depth >= self.max_depth {
            return Err(AdapterError::new(
                AdapterErrorCode::Limit,
                format!("elements nested deeper than maxDepth ({})", self.max_depth),
                self.at(byte),
            ));
        }
        if let Some(rb) = self.record.as_mut() {
            rb.start(e, &self.shape, byte);
            return Ok(());
        }
        let d = self.ancestors.len();
        let (ns, local) = self.reader.resolver().resolve_element(e.name());
        let parent_ok = d == 0 || self.ancestors[d - 1];
        let ok = parent_ok && self.path.matches(d, &ns, local.into_inner());
        if ok && d + 1 > self.reached {
            self.reached = d + 1;
            self.seen_there.clear();
        } else if parent_ok && !ok && d == self.reached && self.seen_there.len() < 8 {
            let name = e.name().as_ref().to_string();
            if !self.seen_there.contains(&name) {
                self.seen_there.push(name);
            }
        }
        if ok && d + 1 == self.path.len() {
            self.record = Some(RecordBuilder::new(e, byte, &self.shape));
        } else {
            self.ancestors.push(ok);
        }
        Ok(())
    }

    /// An element ends; returns the finished record when it was a record element.
    fn end_element(&mut self) -> Option<Result<SourceRecord, AdapterError>> {
        let Some(rb) = self.record.as_mut() else {
            self.ancestors.pop();
            return None;
        };
        let obj = rb.end(&self.shape)?;
        let rb = self.record.take()?;
        let row = self.rows;
        self.rows += 1;
        let pos = Position { source: self.name.clone(), row: Some(row), byte: Some(rb.start), field: None };
        if let Some(p) = rb.problem {
            return Some(Err(AdapterError::new(
                AdapterErrorCode::Parse,
                p.message,
                Position { byte: Some(p.byte), field: p.field, ..pos },
            )));
        }
        Some(self.map(Value::Object(obj), &pos))
    }

    /// Maps a record; a vector written as text (`0.1 0.2`) is parsed here.
    fn map(&self, row: Value, pos: &Position) -> Result<SourceRecord, AdapterError> {
        let vector = match self.mapping.vector.as_deref() {
            Some(f) => match lookup(&row, f) {
                Some(Value::String(s)) => Some(
                    parse_vector::<f32>(s, self.vector_sep.as_deref())
                        .map_err(|m| AdapterError::new(AdapterErrorCode::InvalidArg, m, pos.field(f)))?,
                ),
                Some(Value::Number(n)) => n.as_f64().map(|x| vec![x as f32]),
                _ => None,
            },
            None => None,
        };
        self.mapping.apply_with(&row, vector, pos)
    }
}

/// The five entities XML predefines.
fn predefined(name: &str) -> Option<&'static str> {
    match name {
        "lt" => Some("<"),
        "gt" => Some(">"),
        "amp" => Some("&"),
        "apos" => Some("'"),
        "quot" => Some("\""),
        _ => None,
    }
}

impl Source for XmlSource {
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
            match self.next_record() {
                Ok(Some(row)) => batch.rows.push(row),
                Ok(None) => self.done = true,
                Err(e) => {
                    self.done = true;
                    if batch.rows.is_empty() {
                        return Err(e);
                    }
                    self.pending = Some(e);
                }
            }
        }
        Ok((!batch.rows.is_empty()).then_some(batch))
    }

    fn progress(&self) -> Progress {
        Progress { rows: self.rows, bytes: self.meter.file_bytes(), total_rows: None, total_bytes: self.total_bytes }
    }
}
