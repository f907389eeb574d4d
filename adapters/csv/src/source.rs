//! [`CsvSource`]: a CSV file streamed record by record.

use std::io::BufRead;
use std::sync::Arc;

use csv::{ByteRecord, Trim};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, FieldMapping, Position, Progress, Source, SourceSpec};
use serde_json::{Map, Value};

use hektor_adapters_api::input::{self, Budgeted, Gzip, Meter, DEFAULT_MAX_RECORD_BYTES};
use crate::options::{ascii_char, ColumnType, CsvOptions};
use hektor_adapters_api::scalar::{clip, infer, parse_bool_loose, parse_vector};

type Reader = csv::Reader<Budgeted<Box<dyn BufRead + Send>>>;

/// How the cells of a column become JSON.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Conv {
    /// Numbers and booleans inferred (`inferTypes`).
    Infer,
    /// Always a string.
    Text,
    /// Declared in `types`.
    Typed(ColumnType),
}

/// A CSV source: see the [crate docs](crate) for options and typing rules.
pub struct CsvSource {
    name: String,
    reader: Reader,
    meter: Arc<Meter>,
    total_bytes: Option<u64>,
    /// 1 when lines end in CRLF (see `open`), else 0.
    crlf: u64,
    /// Text bytes before the csv reader's first byte (byte-order mark, skipped lines).
    base: u64,
    names: Vec<String>,
    convs: Vec<Conv>,
    /// The column decoded straight to the record's vector.
    vector_col: Option<usize>,
    vector_sep: Option<String>,
    nulls: Vec<String>,
    mapping: FieldMapping,
    record: ByteRecord,
    /// A record read ahead at open (to count columns when there is no header).
    first: Option<ByteRecord>,
    rows: u64,
    done: bool,
    /// A stream-ending error met after some rows of a batch: returned by the next call.
    pending: Option<AdapterError>,
}

impl CsvSource {
    /// Opens the CSV file of `spec` (`spec.options` as [`CsvOptions`]); reads the header
    /// and checks options and mapping against it.
    pub fn open(spec: &SourceSpec) -> Result<CsvSource, AdapterError> {
        let opts: CsvOptions = spec.options()?;
        let name = spec.display_location();
        let at = || Position { source: name.clone(), ..Default::default() };
        let invalid = |msg: String| AdapterError::new(AdapterErrorCode::InvalidArg, msg, at());
        if let Some(enc) = &opts.encoding {
            let e = enc.to_ascii_lowercase().replace(['-', '_'], "");
            if e != "utf8" {
                return Err(invalid(format!(
                    "csv encoding {enc:?} is not supported: only UTF-8 is (convert the file, e.g. `iconv -f {enc} -t UTF-8`)"
                )));
            }
        }
        let lower = spec.location.to_ascii_lowercase();
        let tsv = [".tsv", ".tab", ".tsv.gz", ".tab.gz"].iter().any(|x| lower.ends_with(x));
        let delimiter = match &opts.delimiter {
            Some(d) => ascii_char("delimiter", d, &name)?,
            None if tsv => b'\t',
            None => b',',
        };
        let mut builder = csv::ReaderBuilder::new();
        builder.delimiter(delimiter).has_headers(false).flexible(true).buffer_capacity(64 * 1024);
        match opts.quote.as_deref() {
            None => {}
            Some("") => {
                builder.quoting(false);
            }
            Some(q) => {
                builder.quote(ascii_char("quote", q, &name)?);
            }
        }
        if let Some(e) = &opts.escape {
            builder.escape(Some(ascii_char("escape", e, &name)?)).double_quote(false);
        }
        if let Some(c) = &opts.comment {
            builder.comment(Some(ascii_char("comment", c, &name)?));
        }
        if opts.trim {
            builder.trim(Trim::All);
        }
        if opts.max_record_bytes == Some(0) {
            return Err(invalid("csv option maxRecordBytes must be positive".into()));
        }

        let mut input = input::open(&spec.location, Gzip::from(opts.gzip), opts.max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES))?;
        let mut base = input.bom;
        let mut line = Vec::new();
        for _ in 0..opts.skip_rows {
            input.meter.start_record();
            line.clear();
            let n = input.reader.read_until(b'\n', &mut line).map_err(|e| input::io_error(&e, Position { byte: Some(base), ..at() }))?;
            if n == 0 {
                break;
            }
            base += n as u64;
        }
        // The csv crate reports a record after a CRLF line end at the '\n' of the previous
        // line; peek at the first line end to correct byte positions for CRLF files.
        let crlf = {
            let buf = input.reader.fill_buf().map_err(|e| input::io_error(&e, Position { byte: Some(base), ..at() }))?;
            buf.iter().position(|&b| b == b'\n').is_some_and(|i| i > 0 && buf[i - 1] == b'\r')
        };
        let mut reader = builder.from_reader(input.reader);
        let meter = input.meter;
        let read_err = |e: csv::Error, byte: u64| match e.into_kind() {
            csv::ErrorKind::Io(e) => input::io_error(&e, Position { byte: Some(byte), ..at() }),
            other => AdapterError::new(AdapterErrorCode::Parse, format!("{other:?}"), Position { byte: Some(byte), ..at() }),
        };

        // Column names: header, `columns`, or positions.
        let mut first = None;
        let mut names: Vec<String> = Vec::new();
        if opts.header {
            let mut rec = ByteRecord::new();
            meter.start_record();
            if reader.read_byte_record(&mut rec).map_err(|e| read_err(e, base))? {
                for (i, raw) in rec.iter().enumerate() {
                    let s = std::str::from_utf8(raw).map_err(|e| {
                        let byte = base + rec.position().map_or(0, |p| p.byte());
                        AdapterError::new(
                            AdapterErrorCode::Parse,
                            format!("invalid UTF-8 in header column {i} (byte {} of the name); only UTF-8 is supported", e.valid_up_to()),
                            Position { byte: Some(byte), ..at() },
                        )
                    })?;
                    names.push(s.to_string());
                }
            }
            if let Some(cols) = &opts.columns {
                if !names.is_empty() && cols.len() != names.len() {
                    return Err(invalid(format!("columns names {} columns but the header has {}", cols.len(), names.len())));
                }
                names = cols.clone();
            }
        } else if let Some(cols) = &opts.columns {
            names = cols.clone();
        } else {
            let mut rec = ByteRecord::new();
            meter.start_record();
            if reader.read_byte_record(&mut rec).map_err(|e| read_err(e, base))? {
                names = (0..rec.len()).map(|i| i.to_string()).collect();
                first = Some(rec);
            }
        }
        let names = dedupe(names);

        for key in opts.types.keys() {
            if !names.is_empty() && !names.contains(key) {
                return Err(invalid(format!("types names column '{key}', which is not a column (columns: {})", names.join(", "))));
            }
        }
        if !names.is_empty() {
            check_mapping(&spec.mapping, &names)
                .map_err(|(f, msg)| AdapterError::new(AdapterErrorCode::InvalidArg, msg, at().field(&f)))?;
        }
        let convs = names
            .iter()
            .map(|n| match opts.types.get(n) {
                Some(t) => Conv::Typed(*t),
                None if opts.infer_types => Conv::Infer,
                None => Conv::Text,
            })
            .collect::<Vec<_>>();
        let vector_col = spec
            .mapping
            .vector
            .as_ref()
            .and_then(|v| names.iter().position(|n| n == v))
            .filter(|&i| matches!(convs[i], Conv::Typed(ColumnType::Vector) | Conv::Infer | Conv::Text));
        let nulls = opts.null_values.clone().unwrap_or_else(|| if opts.infer_types { vec![String::new()] } else { Vec::new() });
        Ok(CsvSource {
            name,
            reader,
            meter,
            total_bytes: input.total_bytes,
            base,
            names,
            convs,
            vector_col,
            vector_sep: opts.vector_separator,
            nulls,
            mapping: spec.mapping.clone(),
            record: ByteRecord::new(),
            first,
            crlf: crlf as u64,
            rows: 0,
            done: false,
            pending: None,
        })
    }

    /// The column names (after `columns`, with duplicates made unique as `name.1`, ...).
    pub fn columns(&self) -> &[String] {
        &self.names
    }

    /// Converts the current record (row number `row`) into a source record.
    fn convert(&self, rec: &ByteRecord, row: u64) -> Result<hektor_adapters_api::SourceRecord, AdapterError> {
        let (byte, line) = rec.position().map_or((0, 0), |p| (p.byte(), p.line()));
        let byte = if byte > 0 { byte + self.crlf } else { byte };
        let pos = Position { source: self.name.clone(), row: Some(row), byte: Some(self.base + byte), field: None };
        if rec.len() != self.names.len() {
            return Err(AdapterError::new(
                AdapterErrorCode::Parse,
                format!("record has {} fields, expected {} (line {line})", rec.len(), self.names.len()),
                pos,
            ));
        }
        let mut map = Map::with_capacity(self.names.len());
        let mut vector = None;
        for (i, raw) in rec.iter().enumerate() {
            let name = &self.names[i];
            let s = std::str::from_utf8(raw).map_err(|e| {
                AdapterError::new(
                    AdapterErrorCode::Parse,
                    format!(
                        "invalid UTF-8 in column '{name}' at byte {} of the field (line {line}); only UTF-8 is supported",
                        e.valid_up_to()
                    ),
                    pos.field(name),
                )
            })?;
            let null = self.nulls.iter().any(|n| n == s);
            if Some(i) == self.vector_col {
                if !null {
                    let v = parse_vector::<f32>(s, self.vector_sep.as_deref())
                        .map_err(|m| AdapterError::new(AdapterErrorCode::InvalidArg, format!("{m} (line {line})"), pos.field(name)))?;
                    vector = Some(v);
                }
                continue;
            }
            let value = if null {
                Value::Null
            } else {
                match self.convs[i] {
                    Conv::Infer => infer(s),
                    Conv::Text => Value::String(s.to_string()),
                    Conv::Typed(t) => typed(t, s, self.vector_sep.as_deref())
                        .map_err(|(code, m)| AdapterError::new(code, format!("{m} (line {line})"), pos.field(name)))?,
                }
            };
            map.insert(name.clone(), value);
        }
        self.mapping.apply_with(&Value::Object(map), vector, &pos)
    }
}

/// A cell of a declared type.
fn typed(t: ColumnType, s: &str, sep: Option<&str>) -> Result<Value, (AdapterErrorCode, String)> {
    let wrong = |what: &str| (AdapterErrorCode::InvalidArg, format!("'{}' is not {what}", clip(s)));
    match t {
        ColumnType::String => Ok(Value::String(s.to_string())),
        ColumnType::Number => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Value::Number(i.into()));
            }
            t.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number).ok_or_else(|| wrong("a number"))
        }
        ColumnType::Integer => s.trim().parse::<i64>().map(|i| Value::Number(i.into())).map_err(|_| wrong("an integer")),
        ColumnType::Boolean => parse_bool_loose(s).map(Value::Bool).ok_or_else(|| wrong("a boolean")),
        ColumnType::Json => serde_json::from_str(s).map_err(|e| (AdapterErrorCode::Parse, format!("invalid JSON in a json column: {e}"))),
        ColumnType::Vector => parse_vector::<f64>(s, sep)
            .map(|v| Value::Array(v.into_iter().filter_map(serde_json::Number::from_f64).map(Value::Number).collect()))
            .map_err(|m| (AdapterErrorCode::InvalidArg, m)),
    }
}

/// Unique column names: an empty name becomes its position, a repeated one gets `.1`,
/// `.2`, ... (as pandas does).
fn dedupe(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for (i, n) in names.into_iter().enumerate() {
        let base = if n.is_empty() { i.to_string() } else { n };
        let mut candidate = base.clone();
        let mut k = 1;
        while out.contains(&candidate) {
            candidate = format!("{base}.{k}");
            k += 1;
        }
        out.push(candidate);
    }
    out
}

/// Every mapped field must be a column, or a dotted path whose first part is one (a path
/// into a `json` column).
fn check_mapping(m: &FieldMapping, names: &[String]) -> Result<(), (String, String)> {
    let fields =
        m.id.iter()
            .map(|f| ("id", f))
            .chain(m.text.iter().map(|f| ("text", f)))
            .chain(m.vector.iter().map(|f| ("vector", f)))
            .chain(m.metadata.iter().filter(|f| *f != "*").map(|f| ("metadata", f)));
    for (role, f) in fields {
        let head = f.split('.').next().unwrap_or(f);
        if !names.iter().any(|n| n == f || n == head) {
            return Err((f.clone(), format!("{role} field '{f}' is not a column (columns: {})", names.join(", "))));
        }
    }
    Ok(())
}

impl Source for CsvSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let max = max.max(1);
        let mut batch = Batch { rows: Vec::with_capacity(max.min(4096)) };
        if let Some(rec) = self.first.take() {
            batch.rows.push(self.convert(&rec, self.rows));
            self.rows += 1;
        }
        while batch.rows.len() < max {
            self.meter.start_record();
            match self.reader.read_byte_record(&mut self.record) {
                Ok(true) => {
                    batch.rows.push(self.convert(&self.record, self.rows));
                    self.rows += 1;
                }
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Err(e) => {
                    let byte = self.base + self.reader.position().byte();
                    let pos = Position { source: self.name.clone(), row: Some(self.rows), byte: Some(byte), field: None };
                    let err = match e.into_kind() {
                        csv::ErrorKind::Io(e) => input::io_error(&e, pos),
                        other => AdapterError::new(AdapterErrorCode::Parse, format!("{other:?}"), pos),
                    };
                    self.done = true;
                    if batch.rows.is_empty() {
                        return Err(err);
                    }
                    self.pending = Some(err);
                    break;
                }
            }
        }
        if batch.rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(batch))
    }

    fn progress(&self) -> Progress {
        Progress { rows: self.rows, bytes: self.meter.file_bytes(), total_rows: None, total_bytes: self.total_bytes }
    }
}
