//! Opening an input file: gzip detection, byte-order marks, progress counting and the
//! per-record size budget.
//!
//! Shared by the file sources (csv, json/jsonl, xml).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;
use crate::{AdapterError, AdapterErrorCode, Position};

/// Size of the read buffers (file and decompressed text).
const BUF_SIZE: usize = 256 * 1024;

/// Default `maxRecordBytes`: the most input one record may span.
pub const DEFAULT_MAX_RECORD_BYTES: u64 = 16 * 1024 * 1024;

/// Counters shared between the reader chain and the source that owns it.
#[derive(Debug, Default)]
pub struct Meter {
    /// Bytes read from the file (compressed bytes when the input is gzip).
    file_bytes: AtomicU64,
    /// Bytes of text handed to the parser (after decompression).
    text_bytes: AtomicU64,
    /// `text_bytes` when the current record started.
    mark: AtomicU64,
}

impl Meter {
    /// Bytes read from the file so far.
    pub fn file_bytes(&self) -> u64 {
        self.file_bytes.load(Ordering::Relaxed)
    }
    /// Starts a new record: the size budget counts from here.
    pub fn start_record(&self) {
        self.mark.store(self.text_bytes.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// The io error a [`Budgeted`] reader returns when a record outgrows the budget.
#[derive(Debug)]
pub struct RecordTooLarge {
    limit: u64,
}

impl fmt::Display for RecordTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a record is larger than maxRecordBytes ({} bytes)", self.limit)
    }
}

impl std::error::Error for RecordTooLarge {}

/// Counts the bytes read from the file.
struct Counted<R> {
    inner: R,
    meter: Arc<Meter>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.meter.file_bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The parser's view of the input: counts text bytes and refuses to read on once the
/// current record (since [`Meter::start_record`]) spans more than `limit` bytes, so a
/// runaway record (an unclosed quote, a missing end tag) cannot exhaust memory.
pub struct Budgeted<R> {
    inner: R,
    meter: Arc<Meter>,
    limit: u64,
    consumed: u64,
}

impl<R: BufRead> Read for Budgeted<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Budgeted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let used = self.consumed.saturating_sub(self.meter.mark.load(Ordering::Relaxed));
        if used > self.limit {
            return Err(io::Error::other(RecordTooLarge { limit: self.limit }));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.consumed += n as u64;
        self.meter.text_bytes.store(self.consumed, Ordering::Relaxed);
    }
}

/// How to treat gzip compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gzip {
    /// Decompress when the name ends in `.gz` or the file starts with the gzip magic bytes.
    Auto,
    /// Always decompress.
    Yes,
    /// Never decompress.
    No,
}

impl From<Option<bool>> for Gzip {
    fn from(v: Option<bool>) -> Self {
        match v {
            None => Gzip::Auto,
            Some(true) => Gzip::Yes,
            Some(false) => Gzip::No,
        }
    }
}

/// An opened input.
pub struct Input {
    /// The text, decompressed, after any UTF-8 byte-order mark.
    pub reader: Budgeted<Box<dyn BufRead + Send>>,
    /// Progress counters and the record budget.
    pub meter: Arc<Meter>,
    /// File size.
    pub total_bytes: Option<u64>,
    /// Length of the skipped UTF-8 byte-order mark (0 or 3): text offsets start after it.
    pub bom: u64,
}

/// Opens `path` for reading: `ERR_NOT_FOUND` when it does not exist, `ERR_INVALID_ARG`
/// for a directory or UTF-16 text, `ERR_IO` otherwise.
pub fn open(path: &str, gzip: Gzip, max_record_bytes: u64) -> Result<Input, AdapterError> {
    let at = || Position { source: path.to_string(), ..Default::default() };
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => AdapterError::new(AdapterErrorCode::NotFound, format!("no such file: {path}"), at()),
        _ => AdapterError::new(AdapterErrorCode::Io, format!("cannot open {path}: {e}"), at()),
    })?;
    let meta = file.metadata().map_err(|e| AdapterError::new(AdapterErrorCode::Io, format!("cannot stat {path}: {e}"), at()))?;
    if meta.is_dir() {
        return Err(AdapterError::new(AdapterErrorCode::InvalidArg, format!("{path} is a directory, not a file"), at()));
    }
    let total_bytes = meta.is_file().then_some(meta.len());
    let meter = Arc::new(Meter::default());
    let mut raw = BufReader::with_capacity(BUF_SIZE, Counted { inner: file, meter: meter.clone() });
    let io_err = |e: io::Error| AdapterError::new(AdapterErrorCode::Io, format!("cannot read {path}: {e}"), at());
    let magic = raw.fill_buf().map_err(io_err)?.starts_with(&[0x1f, 0x8b]);
    let gzip = match gzip {
        Gzip::Yes => true,
        Gzip::No => false,
        Gzip::Auto => magic || path.to_ascii_lowercase().ends_with(".gz"),
    };
    let mut text: Box<dyn BufRead + Send> =
        if gzip { Box::new(BufReader::with_capacity(BUF_SIZE, MultiGzDecoder::new(raw))) } else { Box::new(raw) };
    let head = text.fill_buf().map_err(|e| io_error(&e, at()))?;
    let mut bom = 0;
    if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        text.consume(3);
        bom = 3;
    } else if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
        return Err(AdapterError::new(
            AdapterErrorCode::InvalidArg,
            format!("{path} is UTF-16 text; only UTF-8 is supported (convert it, e.g. `iconv -f UTF-16 -t UTF-8`)"),
            Position { byte: Some(0), ..at() },
        ));
    }
    let reader = Budgeted { inner: text, meter: meter.clone(), limit: max_record_bytes, consumed: 0 };
    Ok(Input { reader, meter, total_bytes, bom })
}

/// Turns an error of the reader chain into an adapter error at `pos`: `ERR_LIMIT` for an
/// oversized record, `ERR_PARSE` for corrupt or truncated compressed data, `ERR_IO` else.
pub fn io_error(e: &io::Error, pos: Position) -> AdapterError {
    if let Some(big) = e.get_ref().and_then(|x| x.downcast_ref::<RecordTooLarge>()) {
        let msg = format!("{big}; raise maxRecordBytes if records really are this large");
        return AdapterError::new(AdapterErrorCode::Limit, msg, pos);
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            AdapterError::new(AdapterErrorCode::Parse, format!("corrupt or truncated input: {e}"), pos)
        }
        _ => AdapterError::new(AdapterErrorCode::Io, format!("read failed: {e}"), pos),
    }
}
