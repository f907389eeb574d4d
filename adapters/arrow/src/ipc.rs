//! The `arrow` and `feather` source: Arrow IPC files (random access, with a footer) and
//! IPC streams, read one record batch at a time.

use crate::bodies::{check_file_blocks, check_stream};
use crate::convert::RowConverter;
use crate::cursor::BatchCursor;
use crate::error::{from_arrow, guard};
use crate::footer::read_footer;
use crate::io::{open_file, CountingReader};
use crate::options::ArrowOptions;
use arrow::array::RecordBatch;
use arrow::error::ArrowError;
use arrow::ipc::reader::{FileReader, StreamReader};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, Position, Progress, Source, SourceSpec};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// The first bytes of an Arrow IPC file (and of a Feather v2 file).
const ARROW_MAGIC: &[u8] = b"ARROW1";
/// The first bytes of a Feather v1 file.
const FEATHER_V1_MAGIC: &[u8] = b"FEA1";

enum Reader {
    File(FileReader<CountingReader<File>>),
    Stream(StreamReader<CountingReader<BufReader<File>>>),
}

impl Reader {
    fn next(&mut self) -> Option<Result<RecordBatch, ArrowError>> {
        match self {
            Reader::File(r) => r.next(),
            Reader::Stream(r) => r.next(),
        }
    }
    fn bytes(&self) -> u64 {
        match self {
            Reader::File(r) => r.get_ref().count(),
            Reader::Stream(r) => r.get_ref().count(),
        }
    }
}

/// A source over an Arrow IPC file or stream (kinds `arrow` and `feather`).
///
/// The format is told by the first bytes: `ARROW1` starts an IPC file (what `.arrow` and
/// Feather v2 files are), anything else is read as an IPC stream (`.arrows`, which also
/// works from a pipe). Only the columns the mapping needs are decoded. Record batches are
/// read one at a time and handed out in slices of at most `max` rows; LZ4 and ZSTD
/// compressed buffers are decompressed as they are read. For IPC files the total row
/// count comes from the batch headers listed in the footer, before any data is read.
pub struct IpcSource {
    name: String,
    reader: Reader,
    cursor: BatchCursor,
    converter: RowConverter,
    rows: u64,
    total_rows: Option<u64>,
    total_bytes: Option<u64>,
    done: bool,
}

impl std::fmt::Debug for IpcSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcSource").field("name", &self.name).field("rows", &self.rows).finish_non_exhaustive()
    }
}

impl IpcSource {
    /// Opens `spec.location` (kind `arrow` or `feather`), reads its schema and checks the
    /// mapping against it.
    pub fn open(spec: &SourceSpec) -> Result<Self, AdapterError> {
        let _options: ArrowOptions = spec.options()?;
        let feather = spec.kind == "feather";
        let name = spec.display_location();
        let at = || Position { source: name.clone(), ..Default::default() };
        let (file, total_bytes) = open_file(&spec.location, &name)?;
        let mut buf = BufReader::with_capacity(1 << 16, file);
        let head = buf.fill_buf().map_err(|e| AdapterError::new(AdapterErrorCode::Io, format!("cannot read: {e}"), at()))?;
        if head.starts_with(FEATHER_V1_MAGIC) {
            return Err(AdapterError::new(
                AdapterErrorCode::Parse,
                "Feather v1 is not supported; re-save with pyarrow.feather.write_feather(version=2)",
                at(),
            ));
        }
        let kind = if feather { "Feather" } else { "Arrow IPC" };
        if head.is_empty() {
            return Err(AdapterError::new(AdapterErrorCode::Parse, format!("empty file: not an {kind} file"), at()));
        }
        let count = Arc::new(AtomicU64::new(0));
        if head.starts_with(ARROW_MAGIC) {
            let mut file = buf.into_inner();
            let (schema, total_rows, blocks) =
                guard(at, || read_footer(&mut file).map_err(|e| from_arrow(&e, &format!("not a readable {kind} file"), at())))?;
            check_file_blocks(&mut file, blocks.iter(), &name)?;
            let converter = RowConverter::new(&schema, &spec.mapping, &name)?;
            let projection = converter.projection(&schema);
            let reader = guard(at, || {
                FileReader::try_new(CountingReader::new(file, count.clone()), Some(projection))
                    .map_err(|e| from_arrow(&e, &format!("not a readable {kind} file"), at()))
            })?;
            return Ok(IpcSource {
                name,
                reader: Reader::File(reader),
                cursor: BatchCursor::new(),
                converter,
                rows: 0,
                total_rows,
                total_bytes,
                done: false,
            });
        }
        if feather {
            return Err(AdapterError::new(
                AdapterErrorCode::Parse,
                "not a Feather v2 file (it does not start with ARROW1); an Arrow IPC stream is read with kind 'arrow'",
                at(),
            ));
        }
        // An IPC stream: its schema is the first message. On a regular file, read it once
        // through a second handle to choose the projection; a pipe is read whole.
        let not_stream = |e: ArrowError| from_arrow(&e, "not an Arrow IPC file or stream", at());
        let schema = match total_bytes {
            Some(len) => {
                let (mut check, _) = open_file(&spec.location, &name)?;
                check_stream(&mut check, len, &name)?;
                let (peek, _) = open_file(&spec.location, &name)?;
                let schema = guard(at, || StreamReader::try_new(BufReader::new(peek), None).map(|r| r.schema()).map_err(not_stream))?;
                Some(schema)
            }
            None => None,
        };
        let (converter, projection) = match &schema {
            Some(s) => {
                let c = RowConverter::new(s, &spec.mapping, &name)?;
                let p = c.projection(s);
                (Some(c), Some(p))
            }
            None => (None, None),
        };
        let reader = guard(at, || StreamReader::try_new(CountingReader::new(buf, count.clone()), projection).map_err(not_stream))?;
        let converter = match converter {
            Some(c) => c,
            None => RowConverter::new(&reader.schema(), &spec.mapping, &name)?,
        };
        Ok(IpcSource {
            name,
            reader: Reader::Stream(reader),
            cursor: BatchCursor::new(),
            converter,
            rows: 0,
            total_rows: None,
            total_bytes,
            done: false,
        })
    }

    fn at_byte(&self) -> Position {
        Position { source: self.name.clone(), row: Some(self.rows), byte: Some(self.reader.bytes()), field: None }
    }
}

impl Source for IpcSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        loop {
            if let Some(slice) = self.cursor.take(max) {
                let first = self.rows;
                self.rows += slice.num_rows() as u64;
                let pos = Position::row(&self.name, first);
                let converter = &mut self.converter;
                let rows = guard(|| pos, || Ok(converter.convert(&slice, first)))?;
                return Ok(Some(Batch { rows }));
            }
            if self.done {
                return Ok(None);
            }
            let pos = self.at_byte();
            let reader = &mut self.reader;
            match guard(|| pos.clone(), || Ok(reader.next())) {
                Ok(None) => self.done = true,
                Ok(Some(Ok(batch))) => self.cursor.push(batch),
                Ok(Some(Err(e))) => {
                    self.done = true;
                    let mut err = from_arrow(&e, "cannot read record batch", self.at_byte());
                    if self.total_bytes.is_some_and(|t| self.reader.bytes() >= t) && !err.message.contains("truncated") {
                        err.code = AdapterErrorCode::Parse;
                        err.message = format!("the file is truncated: it ends inside a record batch ({e})");
                    }
                    return Err(err);
                }
                Err(e) => {
                    self.done = true;
                    return Err(e);
                }
            }
        }
    }

    fn progress(&self) -> Progress {
        Progress { rows: self.rows, bytes: self.reader.bytes(), total_rows: self.total_rows, total_bytes: self.total_bytes }
    }
}
