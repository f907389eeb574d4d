//! Opening input files and counting the bytes read from them.

use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Opens `path` for reading; `ERR_NOT_FOUND` when it does not exist, `ERR_INVALID_ARG`
/// for a directory, `ERR_IO` otherwise. Returns the file and its size when it is a
/// regular file (pipes and devices have none).
pub fn open_file(path: &str, source: &str) -> Result<(File, Option<u64>), AdapterError> {
    let pos = || Position { source: source.to_string(), ..Default::default() };
    let io_err = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => AdapterError::new(AdapterErrorCode::NotFound, format!("no such file: {source}"), pos()),
        _ => AdapterError::new(AdapterErrorCode::Io, format!("cannot open {source}: {e}"), pos()),
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Err(AdapterError::new(AdapterErrorCode::InvalidArg, format!("{source} is a directory, not a file"), pos()));
    }
    let file = File::open(path).map_err(io_err)?;
    Ok((file, meta.is_file().then_some(meta.len())))
}

/// A reader that counts the bytes read through it into a shared counter.
#[derive(Debug)]
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    /// Wraps `inner`, adding to `count` as bytes are read.
    pub fn new(inner: R, count: Arc<AtomicU64>) -> Self {
        CountingReader { inner, count }
    }

    /// Bytes read so far (through every reader sharing the counter).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for CountingReader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}
