//! A [`ChunkReader`] over a file that counts the bytes the Parquet decoder reads.

use bytes::Bytes;
use hektor_source_arrow::io::CountingReader;
use parquet::errors::{ParquetError, Result};
use parquet::file::reader::{ChunkReader, Length};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// A Parquet file whose reads (footer, pages) add to a shared byte counter.
pub struct CountingFile {
    file: File,
    len: u64,
    count: Arc<AtomicU64>,
}

impl CountingFile {
    /// Wraps an open file of `len` bytes.
    pub fn new(file: File, len: u64, count: Arc<AtomicU64>) -> Self {
        CountingFile { file, len, count }
    }

    fn file_at(&self, start: u64) -> Result<File> {
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(start))?;
        Ok(f)
    }
}

impl Length for CountingFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for CountingFile {
    /// Counts the bytes the decoder consumes, not the read-ahead of the buffer.
    type T = CountingReader<BufReader<File>>;

    fn get_read(&self, start: u64) -> Result<Self::T> {
        Ok(CountingReader::new(BufReader::new(self.file_at(start)?), self.count.clone()))
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        // lengths come from the file's metadata: check them before allocating
        if start.checked_add(length as u64).is_none_or(|end| end > self.len) {
            return Err(ParquetError::EOF(format!("{length} bytes at offset {start} lie past the end of the file ({} bytes)", self.len)));
        }
        let mut buf = Vec::with_capacity(length);
        let read = CountingReader::new(self.file_at(start)?, self.count.clone()).take(length as u64).read_to_end(&mut buf)?;
        if read != length {
            return Err(ParquetError::EOF(format!("expected {length} bytes at offset {start}, the file has {read}")));
        }
        Ok(buf.into())
    }
}
