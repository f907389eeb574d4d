//! The `parquet` source: row groups streamed through the Arrow reader, only the mapped
//! columns decoded.

use crate::chunk::CountingFile;
use crate::options::ParquetOptions;
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, Position, Progress, Source, SourceSpec};
use hektor_source_arrow::convert::RowConverter;
use hektor_source_arrow::cursor::BatchCursor;
use hektor_source_arrow::error::{from_arrow, guard};
use hektor_source_arrow::io::open_file;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

enum State {
    /// Metadata read, reader not built yet: the decode batch size defaults to the first `max`.
    Pending(Box<ParquetRecordBatchReaderBuilder<CountingFile>>),
    Reading(ParquetRecordBatchReader),
    Done,
}

/// Rows of one selected row group not handed out yet.
#[derive(Debug)]
struct Group {
    /// Position in the whole file of the group's next row.
    next_row: u64,
    remaining: u64,
}

/// A source over a Parquet file (kind `parquet`).
///
/// Opening reads only the footer: the schema (with the Arrow schema pyarrow and
/// arrow-rs embed, so dictionaries, time zones and fixed-size lists come back as written)
/// and the row groups' row counts, which give the progress total. Rows are then decoded
/// page by page through the Arrow reader, one batch at a time, and only for the top-level
/// columns the mapping needs (all columns for `metadata: ["*"]`); memory stays bounded by
/// the batch size and the pages in flight, never the file or a row group.
pub struct ParquetSource {
    name: String,
    state: State,
    batch_size: Option<usize>,
    cursor: BatchCursor,
    converter: RowConverter,
    groups: VecDeque<Group>,
    /// Position in the file of the row after the last one handed out.
    next_row: u64,
    rows: u64,
    total_rows: u64,
    total_bytes: Option<u64>,
    bytes: Arc<AtomicU64>,
    /// A row group found corrupt before reading (see [`check_dictionaries`]): the groups
    /// before it are read, then this error ends the stream at its first row.
    deferred: Option<AdapterError>,
}

impl std::fmt::Debug for ParquetSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSource").field("name", &self.name).field("rows", &self.rows).finish_non_exhaustive()
    }
}

/// Maps a Parquet error to an adapter error: truncation and malformed metadata or pages are
/// `ERR_PARSE`, I/O failures `ERR_IO`.
fn from_parquet(e: ParquetError, context: &str, pos: Position) -> AdapterError {
    match e {
        ParquetError::EOF(_) | ParquetError::NeedMoreData(_) | ParquetError::NeedMoreDataRange(_) => {
            AdapterError::new(AdapterErrorCode::Parse, format!("{context}: the file is truncated ({e})"), pos)
        }
        ParquetError::External(inner) if inner.is::<std::io::Error>() => AdapterError::new(AdapterErrorCode::Io, format!("{context}: {inner}"), pos),
        other => AdapterError::new(AdapterErrorCode::Parse, format!("{context}: {other}"), pos),
    }
}

impl ParquetSource {
    /// Opens `spec.location`, reads the footer and checks options and mapping against it.
    pub fn open(spec: &SourceSpec) -> Result<Self, AdapterError> {
        let options: ParquetOptions = spec.options()?;
        let name = spec.display_location();
        let at = || Position { source: name.clone(), ..Default::default() };
        let bad_option = |msg: String| AdapterError::new(AdapterErrorCode::InvalidArg, msg, at());
        if options.batch_size == Some(0) {
            return Err(bad_option("parquet option batchSize must be at least 1".into()));
        }
        let (file, len) = open_file(&spec.location, &name)?;
        let Some(len) = len else {
            return Err(bad_option("a Parquet file must be a regular file (its footer is read first)".into()));
        };
        let check = file.try_clone().map_err(|e| AdapterError::new(AdapterErrorCode::Io, format!("cannot read the file: {e}"), at()))?;
        let bytes = Arc::new(AtomicU64::new(0));
        let chunk = CountingFile::new(file, len, bytes.clone());
        let builder =
            guard(at, || ParquetRecordBatchReaderBuilder::try_new(chunk).map_err(|e| from_parquet(e, "not a readable Parquet file", at())))?;
        let schema = builder.schema().clone();
        let converter = RowConverter::new(&schema, &spec.mapping, &name)?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), converter.projection(&schema));

        let metadata = builder.metadata().clone();
        let mut starts = Vec::with_capacity(metadata.num_row_groups());
        let mut first = 0u64;
        for rg in metadata.row_groups() {
            let n = u64::try_from(rg.num_rows()).map_err(|_| {
                from_parquet(ParquetError::General(format!("negative row count {}", rg.num_rows())), "corrupt Parquet metadata", at())
            })?;
            starts.push((first, n));
            first += n;
        }
        let selected: Vec<usize> = match &options.row_groups {
            None => (0..starts.len()).collect(),
            Some(list) => {
                for (i, g) in list.iter().enumerate() {
                    if *g >= starts.len() {
                        return Err(bad_option(format!("parquet option rowGroups: row group {g} does not exist (the file has {})", starts.len())));
                    }
                    if list[..i].contains(g) {
                        return Err(bad_option(format!("parquet option rowGroups: row group {g} is listed twice")));
                    }
                }
                list.clone()
            }
        };
        let total_rows = selected.iter().map(|&g| starts[g].1).sum();
        let (selected, deferred) = match guard(at, || Ok(check_dictionaries(check, &selected)))? {
            Some((k, e)) => {
                let pos = Position::row(&name, starts[selected[k]].0);
                (selected[..k].to_vec(), Some(from_parquet(e, "corrupt Parquet dictionary page", pos)))
            }
            None => (selected, None),
        };
        let groups: VecDeque<Group> = selected.iter().map(|&g| Group { next_row: starts[g].0, remaining: starts[g].1 }).collect();
        let builder = builder.with_projection(mask).with_row_groups(selected);
        Ok(ParquetSource {
            next_row: groups.front().map_or(0, |g| g.next_row),
            name,
            state: State::Pending(Box::new(builder)),
            batch_size: options.batch_size,
            cursor: BatchCursor::new(),
            converter,
            groups,
            rows: 0,
            total_rows,
            total_bytes: Some(len),
            bytes,
            deferred,
        })
    }

    fn at_row(&self) -> Position {
        Position { source: self.name.clone(), row: Some(self.next_row), ..Default::default() }
    }

    /// Rows that may be handed out in one slice: never across a row group boundary, so
    /// the slice's rows are consecutive in the file.
    fn slice_limit(&mut self, max: usize) -> usize {
        while self.groups.front().is_some_and(|g| g.remaining == 0) {
            self.groups.pop_front();
            if let Some(g) = self.groups.front() {
                self.next_row = g.next_row;
            }
        }
        match self.groups.front() {
            Some(g) => usize::try_from(g.remaining).unwrap_or(usize::MAX).min(max),
            None => max,
        }
    }
}

impl Source for ParquetSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        let max = max.max(1);
        loop {
            let limit = self.slice_limit(max);
            if let Some(slice) = self.cursor.take(limit) {
                let n = slice.num_rows() as u64;
                let first = self.next_row;
                if let Some(g) = self.groups.front_mut() {
                    g.remaining -= n.min(g.remaining);
                    g.next_row += n;
                }
                self.next_row += n;
                self.rows += n;
                let pos = Position::row(&self.name, first);
                let converter = &mut self.converter;
                let rows = guard(|| pos, || Ok(converter.convert(&slice, first)))?;
                return Ok(Some(Batch { rows }));
            }
            let pos = self.at_row();
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return self.deferred.take().map_or(Ok(None), Err),
                State::Pending(builder) => {
                    let size = self.batch_size.unwrap_or(max);
                    let reader = guard(
                        || pos.clone(),
                        || builder.with_batch_size(size).build().map_err(|e| from_parquet(e, "cannot read Parquet row groups", pos.clone())),
                    )?;
                    self.state = State::Reading(reader);
                }
                State::Reading(mut reader) => match guard(|| pos.clone(), || Ok(reader.next())) {
                    Ok(None) => {}
                    Ok(Some(Ok(batch))) => {
                        self.cursor.push(batch);
                        self.state = State::Reading(reader);
                    }
                    Ok(Some(Err(e))) => return Err(from_arrow(&e, "cannot read Parquet data", pos)),
                    Err(e) => return Err(e),
                },
            }
        }
    }

    fn progress(&self) -> Progress {
        Progress { rows: self.rows, bytes: self.bytes.load(Ordering::Relaxed), total_rows: Some(self.total_rows), total_bytes: self.total_bytes }
    }
}

/// Checks the dictionary page of every column chunk of the `row_groups` before the Arrow
/// reader decodes it. The parquet crate sizes a dictionary from its page header's value
/// count (one allocation of count x value size) before it reads the values, so a corrupt
/// count asks for gigabytes and aborts the process; here a count that the page's bytes
/// cannot hold is an error instead. Only dictionary pages are read (headers of the rest).
/// Returns the first bad group (its index in `row_groups`) and why.
fn check_dictionaries(file: std::fs::File, row_groups: &[usize]) -> Option<(usize, ParquetError)> {
    let reader = match parquet::file::reader::SerializedFileReader::new(file) {
        Ok(r) => r,
        Err(e) => return Some((0, e)),
    };
    row_groups.iter().enumerate().find_map(|(k, &g)| check_group(&reader, g).err().map(|e| (k, e)))
}

fn check_group(reader: &parquet::file::reader::SerializedFileReader<std::fs::File>, g: usize) -> Result<(), ParquetError> {
    use parquet::basic::Type;
    use parquet::column::page::Page;
    use parquet::file::reader::FileReader;
    {
        let rg = reader.get_row_group(g)?;
        for c in 0..rg.num_columns() {
            if rg.metadata().column(c).dictionary_page_offset().is_none() {
                continue;
            }
            let descr = rg.metadata().column(c).column_descr_ptr();
            let mut pages = rg.get_column_page_reader(c)?;
            if !pages.peek_next_page()?.is_some_and(|p| p.is_dict) {
                continue;
            }
            if let Some(Page::DictionaryPage { buf, num_values, .. }) = pages.get_next_page()? {
                // The fewest bytes a value takes in a PLAIN dictionary.
                let bits: u64 = match descr.physical_type() {
                    Type::BOOLEAN => 1,
                    Type::INT32 | Type::FLOAT | Type::BYTE_ARRAY => 32,
                    Type::INT64 | Type::DOUBLE => 64,
                    Type::INT96 => 96,
                    Type::FIXED_LEN_BYTE_ARRAY => 8 * descr.type_length().max(1) as u64,
                };
                if num_values as u64 * bits > buf.len() as u64 * 8 {
                    return Err(ParquetError::General(format!(
                        "row group {g}, column {}: a dictionary of {num_values} values in {} bytes",
                        descr.path(),
                        buf.len()
                    )));
                }
            }
        }
    }
    Ok(())
}
