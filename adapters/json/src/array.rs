//! [`JsonSource`]: the records of a JSON array (the document, or the array a JSON pointer
//! names), one element in memory at a time.

use std::io::BufRead;
use std::sync::Arc;

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, FieldMapping, Position, Progress, Source, SourceRecord, SourceSpec};
use serde_json::Value;

use hektor_adapters_api::input::{self, Budgeted, Gzip, Meter, DEFAULT_MAX_RECORD_BYTES};
use crate::options::JsonOptions;
use crate::scanner::{error_offset, show, strip_location, ScanError, Scanner};

type TextScanner = Scanner<Budgeted<Box<dyn BufRead + Send>>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The pointer has not been followed yet.
    Navigate,
    /// Just after the array's `[`.
    First,
    /// After an element.
    Next,
    /// The array is over (or the stream failed).
    Done,
}

/// A `json` source: see the [crate docs](crate).
pub struct JsonSource {
    name: String,
    scanner: TextScanner,
    meter: Arc<Meter>,
    total_bytes: Option<u64>,
    mapping: FieldMapping,
    pointer: String,
    /// Decoded pointer tokens, with the raw (escaped) segment for messages.
    tokens: Vec<(String, String)>,
    state: State,
    /// The containers the pointer goes through (`{` or `[`), outermost first.
    enclosing: Vec<u8>,
    buf: Vec<u8>,
    rows: u64,
    pending: Option<AdapterError>,
}

impl JsonSource {
    /// Opens the JSON file of `spec` (`spec.options` as [`JsonOptions`]). Without a
    /// pointer the document must be an array: an object is `ERR_INVALID_ARG`, with the keys
    /// that hold arrays as suggestions for `pointer`.
    pub fn open(spec: &SourceSpec) -> Result<JsonSource, AdapterError> {
        let opts: JsonOptions = spec.options()?;
        let name = spec.display_location();
        let at = || Position { source: name.clone(), ..Default::default() };
        let tokens = parse_pointer(&opts.pointer).map_err(|m| AdapterError::new(AdapterErrorCode::InvalidArg, m, at()))?;
        if opts.max_record_bytes == Some(0) {
            return Err(AdapterError::new(AdapterErrorCode::InvalidArg, "json option maxRecordBytes must be positive", at()));
        }
        let input = input::open(&spec.location, Gzip::from(opts.gzip), opts.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES))?;
        let scanner = Scanner::new(input.reader, input.bom, input.meter.clone());
        let mut src = JsonSource {
            name: name.clone(),
            scanner,
            meter: input.meter,
            total_bytes: input.total_bytes,
            mapping: spec.mapping.clone(),
            pointer: opts.pointer,
            tokens,
            state: State::Navigate,
            enclosing: Vec::new(),
            buf: Vec::new(),
            rows: 0,
            pending: None,
        };
        if src.tokens.is_empty() {
            match src.scanner.peek().map_err(|e| src.scan_error(e, None))? {
                Some(b'[') => {}
                Some(b'{') => return Err(src.object_hint()),
                Some(b) => {
                    let msg = format!("the top-level JSON value is {}, not an array of records", kind_of(b));
                    return Err(AdapterError::new(AdapterErrorCode::InvalidArg, msg, Position { byte: Some(src.scanner.pos()), ..at() }));
                }
                None => {
                    return Err(AdapterError::new(
                        AdapterErrorCode::Parse,
                        "empty input: expected a JSON array of records",
                        Position { byte: Some(src.scanner.pos()), ..at() },
                    ));
                }
            }
        }
        Ok(src)
    }

    fn at(&self, row: Option<u64>, byte: u64) -> Position {
        Position { source: self.name.clone(), row, byte: Some(byte), field: None }
    }

    fn scan_error(&self, e: ScanError, row: Option<u64>) -> AdapterError {
        match e {
            ScanError::Io(e) => input::io_error(&e, self.at(row, self.scanner.pos())),
            ScanError::Eof => AdapterError::new(
                AdapterErrorCode::Parse,
                "unexpected end of input: the file looks truncated",
                self.at(row, self.scanner.pos()),
            ),
            ScanError::Syntax(m, byte) => AdapterError::new(AdapterErrorCode::Parse, m, self.at(row, byte)),
            ScanError::Limit(m, byte) => AdapterError::new(AdapterErrorCode::Limit, m, self.at(row, byte)),
        }
    }

    /// `ERR_INVALID_ARG` for a top-level object, naming the keys that hold arrays, or
    /// suggesting `jsonl` when another value follows the object.
    fn object_hint(&mut self) -> AdapterError {
        let at = self.at(None, self.scanner.pos());
        let mut array_keys = Vec::new();
        let mut scratch = Vec::new();
        let mut scan = || -> Result<Option<u8>, ScanError> {
            self.scanner.bump();
            if self.scanner.peek()? != Some(b'}') {
                loop {
                    let key = self.scanner.string(&mut scratch)?;
                    self.scanner.expect(b':', "':'")?;
                    if self.scanner.peek()? == Some(b'[') && array_keys.len() < 8 {
                        array_keys.push(format!("/{}", key.replace('~', "~0").replace('/', "~1")));
                    }
                    self.scanner.value(None)?;
                    match self.scanner.peek()? {
                        Some(b',') => self.scanner.bump(),
                        _ => break,
                    }
                }
            }
            self.scanner.expect(b'}', "'}'")?;
            self.scanner.peek()
        };
        let next = scan();
        let msg = match (next, array_keys.is_empty()) {
            (Ok(Some(b'{')), _) => "the input holds several JSON objects, not one array: this looks like JSON Lines; use kind 'jsonl'".to_string(),
            (_, false) => format!(
                "the top-level JSON value is an object, not an array of records: set the `pointer` option to the array inside it (arrays at: {})",
                array_keys.join(", ")
            ),
            (_, true) => "the top-level JSON value is an object, not an array of records: set the `pointer` option to the array of records inside it".to_string(),
        };
        self.state = State::Done;
        AdapterError::new(AdapterErrorCode::InvalidArg, msg, at)
    }

    /// Follows the pointer to the array and consumes its `[`.
    fn navigate(&mut self) -> Result<(), AdapterError> {
        let tokens = std::mem::take(&mut self.tokens);
        let mut scratch = Vec::new();
        let mut here = String::new();
        let not_found = |msg: String, byte: u64, name: &str| {
            AdapterError::new(
                AdapterErrorCode::NotFound,
                msg,
                Position { source: name.to_string(), byte: Some(byte), ..Default::default() },
            )
        };
        for (tok, raw) in &tokens {
            let start = self.scanner.pos();
            let shown = if here.is_empty() { "the document root".to_string() } else { format!("'{here}'") };
            let kind = self.scanner.peek().map_err(|e| self.scan_error(e, None))?;
            if let Some(k @ (b'{' | b'[')) = kind {
                self.enclosing.push(k);
            }
            match kind {
                Some(b'{') => {
                    let found = self.find_key(tok, &mut scratch).map_err(|e| self.scan_error(e, None))?;
                    if !found {
                        return Err(not_found(
                            format!("JSON pointer '{}': no key '{tok}' in the object at {shown}", self.pointer),
                            start,
                            &self.name,
                        ));
                    }
                }
                Some(b'[') => {
                    let idx = tok.parse::<u64>().ok().filter(|_| tok == "0" || !tok.starts_with('0'));
                    let Some(idx) = idx else {
                        return Err(not_found(
                            format!("JSON pointer '{}': {shown} is an array, and '{tok}' is not an index", self.pointer),
                            start,
                            &self.name,
                        ));
                    };
                    let found = self.find_index(idx).map_err(|e| self.scan_error(e, None))?;
                    if !found {
                        return Err(not_found(
                            format!("JSON pointer '{}': the array at {shown} has no element {idx}", self.pointer),
                            start,
                            &self.name,
                        ));
                    }
                }
                Some(b) => {
                    return Err(not_found(
                        format!("JSON pointer '{}': the value at {shown} is {}, not an object or array", self.pointer, kind_of(b)),
                        start,
                        &self.name,
                    ));
                }
                None => return Err(self.scan_error(ScanError::Eof, None)),
            }
            here.push('/');
            here.push_str(raw);
        }
        let start = self.scanner.pos();
        match self.scanner.peek().map_err(|e| self.scan_error(e, None))? {
            Some(b'[') => {
                self.scanner.bump();
                Ok(())
            }
            Some(b) => Err(AdapterError::new(
                AdapterErrorCode::InvalidArg,
                format!("the value at JSON pointer '{}' is {}, not an array of records", self.pointer, kind_of(b)),
                self.at(None, start),
            )),
            None => Err(self.scan_error(ScanError::Eof, None)),
        }
    }

    /// After the records' array (pointer given): consumes the rest of each container the
    /// pointer went through, innermost first, checking their structure.
    fn close_enclosing(&mut self) -> Result<(), ScanError> {
        let s = &mut self.scanner;
        while let Some(kind) = self.enclosing.pop() {
            let close = if kind == b'{' { b'}' } else { b']' };
            loop {
                match s.peek()? {
                    Some(b) if b == close => {
                        s.bump();
                        break;
                    }
                    Some(b',') => {
                        s.bump();
                        if kind == b'{' {
                            if s.peek()? != Some(b'"') {
                                let found = s.peek()?.map_or("the end".into(), show);
                                return Err(ScanError::Syntax(format!("expected an object key, found {found}"), s.pos()));
                            }
                            s.value(None)?;
                            s.expect(b':', "':' after an object key")?;
                        }
                        s.value(None)?;
                    }
                    Some(b) => {
                        let want = if kind == b'{' { "',' or '}'" } else { "',' or ']'" };
                        return Err(ScanError::Syntax(format!("expected {want}, found {}", show(b)), s.pos()));
                    }
                    None => return Err(ScanError::Eof),
                }
            }
        }
        Ok(())
    }

    /// Inside an object (at its `{`): consumes members up to the value of `key`.
    fn find_key(&mut self, key: &str, scratch: &mut Vec<u8>) -> Result<bool, ScanError> {
        let s = &mut self.scanner;
        s.bump();
        if s.peek()? == Some(b'}') {
            return Ok(false);
        }
        loop {
            match s.peek()? {
                Some(b'"') => {}
                Some(b) => return Err(ScanError::Syntax(format!("expected an object key, found {}", show(b)), s.pos())),
                None => return Err(ScanError::Eof),
            }
            let k = s.string(scratch)?;
            s.expect(b':', "':' after an object key")?;
            if k == key {
                return Ok(true);
            }
            s.value(None)?;
            match s.peek()? {
                Some(b',') => s.bump(),
                Some(b'}') => return Ok(false),
                Some(b) => return Err(ScanError::Syntax(format!("expected ',' or '}}' in an object, found {}", show(b)), s.pos())),
                None => return Err(ScanError::Eof),
            }
        }
    }

    /// Inside an array (at its `[`): consumes the elements before element `idx`.
    fn find_index(&mut self, idx: u64) -> Result<bool, ScanError> {
        let s = &mut self.scanner;
        s.bump();
        for _ in 0..idx {
            if s.peek()? == Some(b']') {
                return Ok(false);
            }
            s.value(None)?;
            match s.peek()? {
                Some(b',') => s.bump(),
                Some(b']') => return Ok(false),
                Some(b) => return Err(ScanError::Syntax(format!("expected ',' or ']' in an array, found {}", show(b)), s.pos())),
                None => return Err(ScanError::Eof),
            }
        }
        Ok(s.peek()? != Some(b']'))
    }

    /// The next element as a row, or `None` after the array's `]`.
    fn next_element(&mut self) -> Result<Option<Result<SourceRecord, AdapterError>>, ScanError> {
        let b = self.scanner.peek()?;
        match (self.state, b) {
            (_, None) => return Err(ScanError::Eof),
            (State::First, Some(b']')) | (State::Next, Some(b']')) => {
                self.scanner.bump();
                self.state = State::Done;
                // The rest of the document around the array must be there too: a file
                // cut after the array is truncated, not a success.
                self.close_enclosing()?;
                if let Some(b) = self.scanner.peek()? {
                    let hint = if b == b'[' || b == b'{' { " (several JSON values: for JSON Lines use kind 'jsonl')" } else { "" };
                    let what = if self.pointer.is_empty() { "the top-level array" } else { "the document" };
                    return Err(ScanError::Syntax(format!("unexpected {} after {what}{hint}", show(b)), self.scanner.pos()));
                }
                return Ok(None);
            }
            (State::Next, Some(b',')) => {
                self.scanner.bump();
                if self.scanner.peek()? == Some(b']') {
                    return Err(ScanError::Syntax("trailing comma before ']'".into(), self.scanner.pos()));
                }
            }
            (State::Next, Some(b)) => {
                return Err(ScanError::Syntax(
                    format!("expected ',' or ']' after record {}, found {}", self.rows.saturating_sub(1), show(b)),
                    self.scanner.pos(),
                ));
            }
            _ => {}
        }
        self.meter.start_record();
        let start = self.scanner.pos();
        self.buf.clear();
        self.scanner.value(Some(&mut self.buf))?;
        self.state = State::Next;
        let row = self.rows;
        self.rows += 1;
        Ok(Some(self.parse(row, start)))
    }

    /// Parses the element in `buf` (record `row`, starting at byte `start`) and maps it.
    fn parse(&self, row: u64, start: u64) -> Result<SourceRecord, AdapterError> {
        let pos = self.at(Some(row), start);
        let first = self.buf.first().copied().unwrap_or(b' ');
        if first != b'{' {
            return Err(AdapterError::new(
                AdapterErrorCode::InvalidArg,
                format!("record {row} is {}, expected an object", kind_of(first)),
                pos,
            ));
        }
        match serde_json::from_slice::<Value>(&self.buf) {
            Ok(v) => self.mapping.apply(&v, &pos),
            Err(e) => Err(row_parse_error(&e, &self.buf, pos)),
        }
    }
}

/// A row's `serde_json` error as `ERR_PARSE` (`ERR_LIMIT` for nesting deeper than 128) at
/// the byte where it happened.
pub(crate) fn row_parse_error(e: &serde_json::Error, text: &[u8], pos: Position) -> AdapterError {
    let msg = strip_location(e);
    let code = if msg.contains("recursion limit") { AdapterErrorCode::Limit } else { AdapterErrorCode::Parse };
    let byte = pos.byte.map(|b| b + error_offset(text, e));
    AdapterError::new(code, format!("invalid JSON: {msg}"), Position { byte, ..pos })
}

/// "an object", "a string", ... for the value starting with byte `b`.
pub(crate) fn kind_of(b: u8) -> &'static str {
    match b {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        b'-' | b'0'..=b'9' => "a number",
        _ => "not valid JSON",
    }
}

/// Splits an RFC 6901 pointer into (decoded, raw) tokens.
fn parse_pointer(p: &str) -> Result<Vec<(String, String)>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let rest = p.strip_prefix('/').ok_or_else(|| format!("JSON pointer '{p}' must be empty or start with '/' (e.g. \"/data/items\")"))?;
    Ok(rest.split('/').map(|raw| (raw.replace("~1", "/").replace("~0", "~"), raw.to_string())).collect())
}

impl Source for JsonSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.state == State::Navigate {
            if let Err(e) = self.navigate() {
                self.state = State::Done;
                return Err(e);
            }
            self.state = State::First;
        }
        let max = max.max(1);
        let mut batch = Batch { rows: Vec::with_capacity(max.min(4096)) };
        while batch.rows.len() < max && self.state != State::Done {
            match self.next_element() {
                Ok(Some(row)) => batch.rows.push(row),
                Ok(None) => {}
                Err(e) => {
                    let err = self.scan_error(e, Some(self.rows));
                    self.state = State::Done;
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
