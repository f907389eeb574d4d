//! The hdf5 source: the datasets of one file read side by side, a block of rows at a time.

use hdf5::File;
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, FieldMapping, Position, Progress, Source, SourceSpec};
use serde_json::{Map, Value};

use crate::column::{type_name, Column, Kind};
use crate::error::h5;
use crate::file::{base_group, check_filters, open_dataset, open_file, resolve, with_chunk_cache, Named};
use crate::mapping::{check_mapping, fill_mapping, root, ID_FIELD, TEXT_FIELD, VECTOR_FIELD};
use crate::options::Hdf5Options;
use crate::vectors::{self, Vectors};

/// A [`Source`] over datasets of one HDF5 file: row `i` of every dataset makes record `i`.
///
/// Each [`next_batch`](Source::next_batch) reads one hyperslab of at most `max` rows from
/// each dataset the mapping uses, so memory is bounded by the batch size whatever the
/// dataset sizes (plus the library's chunk cache, sized to hold two rows of chunks so that
/// a chunk shared by consecutive batches is decompressed once; at most 64 MiB per dataset).
#[derive(Debug)]
pub struct Hdf5Source {
    name: String,
    /// The vectors, when they are mapped to the record's vector (decoded natively).
    vectors: Option<Vectors>,
    /// The other datasets the mapping uses.
    columns: Vec<Column>,
    mapping: FieldMapping,
    rows: usize,
    next: usize,
    total_bytes: u64,
    /// The file, closed after its datasets (fields drop in order).
    _file: File,
}

impl Hdf5Source {
    /// Opens the file and the datasets of `spec` (see the crate docs for the options and
    /// the mapping). Fails with `ERR_NOT_FOUND` for a missing file, group or dataset,
    /// `ERR_PARSE` for a file that is not HDF5 or is truncated, `ERR_INVALID_ARG` for bad
    /// options, datasets of the wrong type or shape, or datasets of different lengths.
    pub fn open(spec: &SourceSpec) -> Result<Hdf5Source, AdapterError> {
        let opts: Hdf5Options = spec.options()?;
        let name = spec.display_location();
        let at = |field: Option<&str>| Position { source: name.clone(), field: field.map(str::to_owned), ..Default::default() };
        let invalid = |msg: String, field: Option<&str>| AdapterError::new(AdapterErrorCode::InvalidArg, msg, at(field));

        if opts.vectors.is_none() && opts.texts.is_none() {
            return Err(invalid("an hdf5 source needs `vectors` or `texts` (a dataset path)".into(), None));
        }
        let file = open_file(&spec.location, &name)?;
        let base = base_group(&file, opts.group.as_deref(), &name)?;

        // The datasets the options name, as record fields.
        let mut named = Vec::new();
        let mut add = |field: &str, option: &str, path: &Option<String>| {
            if let Some(p) = path {
                named.push(Named { field: field.into(), option: option.into(), path: resolve(&base, p) });
            }
        };
        add(VECTOR_FIELD, "vectors", &opts.vectors);
        add(ID_FIELD, "ids", &opts.ids);
        add(TEXT_FIELD, "texts", &opts.texts);
        for (key, path) in &opts.metadata {
            if key.is_empty() {
                return Err(invalid("a `metadata` field name is empty".into(), None));
            }
            if named.iter().any(|n| n.field == *key) {
                return Err(invalid(
                    format!(
                        "metadata field '{key}' has the name of the built-in field filled by `{}`; rename it",
                        named.iter().find(|n| n.field == *key).map_or("", |n| n.option.as_str())
                    ),
                    Some(key),
                ));
            }
            named.push(Named { field: key.clone(), option: format!("metadata.{key}"), path: resolve(&base, path) });
        }

        let mapping = fill_mapping(&spec.mapping, &opts);
        let fields: Vec<&str> = named.iter().map(|n| n.field.as_str()).collect();
        check_mapping(&mapping, &fields, opts.vectors.is_some(), &at)?;
        let native_vector = opts.vectors.is_some() && mapping.vector.as_deref() == Some(VECTOR_FIELD);
        let all_metadata = mapping.metadata.iter().any(|m| m == "*");
        let used = |field: &str| {
            if field == VECTOR_FIELD && opts.vectors.is_some() {
                return native_vector;
            }
            let refers = |m: &String| root(m) == field;
            all_metadata
                || mapping.id.iter().any(refers)
                || mapping.text.iter().any(refers)
                || mapping.metadata.iter().any(refers)
                || mapping.vector.iter().any(refers)
        };

        // Open and check every named dataset (used or not: a wrong option is an error either way).
        let mut lengths = Vec::with_capacity(named.len());
        let mut vectors = None;
        let mut columns = Vec::new();
        let mut total_bytes = 0u64;
        for n in &named {
            let ds = open_dataset(&file, n, &name)?;
            let shape = ds.shape();
            let desc = ds
                .dtype()
                .and_then(|t| t.to_descriptor())
                .map_err(|e| invalid(format!("dataset '{}' (`{}`) has a type this source cannot read: {e}", n.path, n.option), Some(&n.field)))?;
            check_filters(&ds, n, &name)?;
            lengths.push((n, shape.first().copied().unwrap_or(0)));
            let is_vectors = n.field == VECTOR_FIELD && opts.vectors.is_some();
            let kind = if is_vectors {
                check_vectors(n, &shape, &desc).map_err(|why| invalid(why, Some(&n.field)))?;
                None
            } else {
                let kind = Kind::of(&desc).map_err(|t| {
                    invalid(format!("dataset '{}' (`{}`) holds {t} values; expected numbers, booleans or strings", n.path, n.option), Some(&n.field))
                })?;
                check_column(n, &kind, &shape, &desc).map_err(|why| invalid(why, Some(&n.field)))?;
                Some(kind)
            };
            if !(if is_vectors { native_vector } else { used(&n.field) }) {
                continue;
            }
            let reopen_err = |e: hdf5::Error| h5(&e, &format!("cannot open dataset '{}' (`{}`)", n.path, n.option), at(Some(&n.field)));
            let ds = with_chunk_cache(&file, ds, &n.path).map_err(reopen_err)?;
            total_bytes += ds.storage_size();
            match kind {
                None => vectors = Some(Vectors::new(n.path.clone(), ds, shape[1])),
                Some(kind) => {
                    let width = (shape.len() == 2).then(|| shape[1]);
                    let col = Column::new(n.field.clone(), n.path.clone(), ds, kind, width).map_err(reopen_err)?;
                    columns.push(col);
                }
            }
        }
        let rows = lengths.first().map_or(0, |(_, r)| *r);
        if lengths.iter().any(|(_, r)| *r != rows) {
            let list: Vec<String> = lengths.iter().map(|(n, r)| format!("'{}' (`{}`) has {r}", n.path, n.option)).collect();
            return Err(invalid(format!("the datasets must have the same number of rows: {}", list.join(", ")), None));
        }
        Ok(Hdf5Source { name, vectors, columns, mapping, rows, next: 0, total_bytes, _file: file })
    }

    /// The mapping in use: `spec.mapping` with its empty fields filled from the options.
    pub fn mapping(&self) -> &FieldMapping {
        &self.mapping
    }

    /// The number of rows (records) of the datasets.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// True when the datasets have no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    fn stream_error(&self, e: &hdf5::Error, path: &str, field: &str, row: usize) -> AdapterError {
        let pos = Position { source: self.name.clone(), row: Some(row as u64), field: Some(field.into()), ..Default::default() };
        h5(e, &format!("cannot read rows {row}.. of dataset '{path}'"), pos)
    }
}

impl Source for Hdf5Source {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        if self.next >= self.rows {
            return Ok(None);
        }
        let start = self.next;
        let end = start + max.max(1).min(self.rows - start);
        let n = end - start;
        let block = match &self.vectors {
            Some(v) => Some(v.read(start, end).map_err(|e| self.stream_error(&e, &v.path, VECTOR_FIELD, start))?),
            None => None,
        };
        let dim = self.vectors.as_ref().map_or(0, |v| v.dim);
        let mut cells = Vec::with_capacity(self.columns.len());
        for c in &self.columns {
            let values = c.read(start, end).map_err(|e| self.stream_error(&e, &c.path, &c.field, start))?;
            if values.len() != n {
                let pos = Position { source: self.name.clone(), row: Some(start as u64), field: Some(c.field.clone()), ..Default::default() };
                let msg = format!("dataset '{}' returned {} values for {n} rows", c.path, values.len());
                return Err(AdapterError::new(AdapterErrorCode::Parse, msg, pos));
            }
            cells.push(values.into_iter());
        }

        let mut batch = Batch { rows: Vec::with_capacity(n) };
        // One position for the batch, its row moved along (no per-row copy of the name).
        let mut pos = Position::row(&self.name, start as u64);
        for i in 0..n {
            pos.row = Some((start + i) as u64);
            let mut row = Map::new();
            let mut bad = None;
            for (c, values) in self.columns.iter().zip(cells.iter_mut()) {
                match values.next() {
                    Some(Ok(v)) => {
                        row.insert(c.field.clone(), v);
                    }
                    // The first bad cell names the row; the others still advance.
                    Some(Err(why)) if bad.is_none() => {
                        bad = Some(AdapterError::new(AdapterErrorCode::Parse, format!("dataset '{}': {why}", c.path), pos.field(&c.field)));
                    }
                    Some(Err(_)) | None => {}
                }
            }
            if let Some(e) = bad {
                batch.rows.push(Err(e));
                continue;
            }
            let vector = block.as_ref().map(|b| b[i * dim..(i + 1) * dim].to_vec());
            batch.rows.push(self.mapping.apply_with(&Value::Object(row), vector, &pos));
        }
        self.next = end;
        Ok(Some(batch))
    }

    fn progress(&self) -> Progress {
        let bytes = if self.rows == 0 { 0 } else { (self.total_bytes as u128 * self.next as u128 / self.rows as u128) as u64 };
        Progress { rows: self.next as u64, bytes, total_rows: Some(self.rows as u64), total_bytes: Some(self.total_bytes) }
    }
}

/// Checks that the `vectors` dataset is 2-D `N x D` (with `D > 0`) and holds floats.
fn check_vectors(n: &Named, shape: &[usize], desc: &hdf5::types::TypeDescriptor) -> Result<(), String> {
    if shape.len() != 2 {
        return Err(format!("dataset '{}' (`vectors`) has shape {shape:?}; vectors must be a 2-D dataset N x D (one row per record)", n.path));
    }
    vectors::check_type(desc).map_err(|why| format!("dataset '{}' (`vectors`) {why}", n.path))?;
    if shape[1] == 0 {
        return Err(format!("dataset '{}' (`vectors`) has 0 columns", n.path));
    }
    Ok(())
}

/// Checks the shape and type of a non-vector dataset for the field it fills.
fn check_column(n: &Named, kind: &Kind, shape: &[usize], desc: &hdf5::types::TypeDescriptor) -> Result<(), String> {
    let what = format!("dataset '{}' (`{}`)", n.path, n.option);
    match shape.len() {
        0 => return Err(format!("{what} is a scalar; expected a 1-D dataset with one value per record")),
        1 => {}
        2 if n.option != "ids" && n.option != "texts" && kind.is_numeric() => {}
        _ => return Err(format!("{what} has shape {shape:?}; expected a 1-D dataset with one value per record")),
    }
    match n.option.as_str() {
        "ids" if !(kind.is_string() || matches!(kind, Kind::Int | Kind::UInt)) => {
            Err(format!("{what} holds {}; ids must be strings or integers", type_name(desc)))
        }
        "texts" if !kind.is_string() => Err(format!("{what} holds {}; texts must be strings", type_name(desc))),
        _ => Ok(()),
    }
}
