//! Record batches to records: which columns a mapping needs, and the row conversion.

use super::json::array_to_json;
use super::vector::{check_vector_type, decode_vectors, VectorSlot};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Schema};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, FieldMapping, Position, SourceRecord};
use serde_json::{Map, Value};

/// Converts record batches to [`SourceRecord`]s following a [`FieldMapping`].
///
/// Built once per source from the file's schema, it checks the mapping up front (every
/// mapped column exists, the vector column is a float list) and knows which top-level
/// columns to decode ([`projection`](Self::projection)): only those the mapping names,
/// or all of them for `metadata: ["*"]`. Each row becomes a JSON object of those columns
/// (see [`array_to_json`] for the types), except the vector column, which is decoded
/// natively and passed to [`FieldMapping::apply_with`].
#[derive(Debug)]
pub struct RowConverter {
    source: String,
    mapping: FieldMapping,
    /// Top-level columns decoded to JSON, in schema order.
    columns: Vec<String>,
    /// The vector column: its top-level column, then struct children.
    vector: Option<Vec<String>>,
    /// Length of the first non-empty vector, to report a ragged list column at its row.
    dimension: Option<usize>,
}

impl RowConverter {
    /// Checks `mapping` against `schema` and plans the conversion. `source` names the
    /// input in positions (a path or a redacted address).
    ///
    /// Errors are `ERR_INVALID_ARG` naming the mapped field: a column the schema does not
    /// have (the message lists the columns), a path into a column that has no such
    /// child, an id or text column that is a struct, list or map, a vector column that is
    /// not a list of floats.
    pub fn new(schema: &Schema, mapping: &FieldMapping, source: &str) -> Result<Self, AdapterError> {
        let at = |field: &str| Position { source: source.to_string(), field: Some(field.to_string()), ..Default::default() };
        let invalid = |field: &str, msg: String| AdapterError::new(AdapterErrorCode::InvalidArg, msg, at(field));
        let mut needed = vec![false; schema.fields().len()];
        let roles = mapping.id.iter().map(|p| ("id", p)).chain(mapping.text.iter().map(|p| ("text", p)));
        let roles = roles.chain(mapping.metadata.iter().filter(|m| *m != "*").map(|p| ("metadata", p)));
        for (role, path) in roles {
            let (top, dt) = resolve(schema, path, false).map_err(|m| invalid(path, m))?;
            needed[top[0]] = true;
            // id and text take scalars: a struct, list or map column there is a mapping mistake
            if let Some(dt) = dt.filter(|dt| role != "metadata" && dt.is_nested()) {
                return Err(invalid(path, format!("{role} column '{path}' is {dt}; {role} must be a string, number or boolean column")));
            }
        }
        let vector = match &mapping.vector {
            None => None,
            Some(path) => {
                let (idx, _) = resolve(schema, path, true).map_err(|m| invalid(path, m))?;
                let mut names = vec![schema.field(idx[0]).name().clone()];
                let mut dt = schema.field(idx[0]).data_type();
                for &i in &idx[1..] {
                    match dt {
                        DataType::Struct(fields) => {
                            names.push(fields[i].name().clone());
                            dt = fields[i].data_type();
                        }
                        _ => return Err(invalid(path, format!("vector column '{path}' must be reached through struct fields only"))),
                    }
                }
                check_vector_type(dt).map_err(|m| invalid(path, format!("vector column '{path}': {m}")))?;
                Some(names)
            }
        };
        if mapping.metadata.iter().any(|m| m == "*") {
            // every column, except the vector column itself (decoded natively, and never metadata)
            let vector_col = mapping.vector.as_ref().and_then(|v| schema.index_of(v).ok());
            for (i, slot) in needed.iter_mut().enumerate() {
                *slot |= Some(i) != vector_col;
            }
        }
        let columns = schema.fields().iter().zip(&needed).filter(|(_, n)| **n).map(|(f, _)| f.name().clone()).collect();
        Ok(RowConverter { source: source.to_string(), mapping: mapping.clone(), columns, vector, dimension: None })
    }

    /// Indices of the top-level columns of `schema` that the mapping needs (JSON columns and
    /// the vector column), ascending: the projection to ask the reader for.
    pub fn projection(&self, schema: &Schema) -> Vec<usize> {
        let vector_top = self.vector.as_ref().map(|v| v[0].as_str());
        schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| self.columns.iter().any(|c| c == f.name()) || Some(f.name().as_str()) == vector_top)
            .map(|(i, _)| i)
            .collect()
    }

    /// Converts every row of `batch`; its first row is row `first_row` of the input. A row
    /// that cannot be mapped is an `Err` carrying its position.
    pub fn convert(&mut self, batch: &RecordBatch, first_row: u64) -> Vec<Result<SourceRecord, AdapterError>> {
        let n = batch.num_rows();
        let schema = batch.schema();
        let mut objects: Vec<Map<String, Value>> = (0..n).map(|_| Map::new()).collect();
        // a column that failed to convert fails every row of the batch, naming the column
        let mut failed: Option<(String, AdapterErrorCode, String)> = None;
        for name in &self.columns {
            let Ok(idx) = schema.index_of(name) else {
                failed = Some((name.clone(), AdapterErrorCode::InvalidArg, format!("column '{name}' is missing from this batch")));
                break;
            };
            match array_to_json(batch.column(idx).as_ref(), schema.field(idx)) {
                Ok(values) => {
                    for (obj, v) in objects.iter_mut().zip(values) {
                        obj.insert(name.clone(), v);
                    }
                }
                Err(e) => {
                    failed = Some((name.clone(), AdapterErrorCode::Parse, format!("cannot convert column '{name}': {e}")));
                    break;
                }
            }
        }
        let vectors: Option<Vec<VectorSlot>> = match (&self.vector, &failed) {
            (Some(path), None) => match self.vector_slots(batch, path) {
                Ok(v) => Some(v),
                Err(msg) => {
                    failed = Some((self.vector_field(), AdapterErrorCode::Parse, msg));
                    None
                }
            },
            _ => None,
        };
        let mut vectors = vectors.map(Vec::into_iter);
        let vector_field = self.vector_field();
        let mut out = Vec::with_capacity(n);
        for (i, obj) in objects.into_iter().enumerate() {
            let pos = Position::row(&self.source, first_row + i as u64);
            if let Some((field, code, msg)) = &failed {
                out.push(Err(AdapterError::new(*code, msg.clone(), pos.field(field))));
                continue;
            }
            let vector = match vectors.as_mut().and_then(|v| v.next()) {
                None | Some(Ok(None)) => None,
                Some(Err(msg)) => {
                    out.push(Err(AdapterError::new(AdapterErrorCode::InvalidArg, msg, pos.field(&vector_field))));
                    continue;
                }
                Some(Ok(Some(v))) => match self.check_dimension(&v) {
                    Ok(()) => Some(v),
                    Err((code, msg)) => {
                        out.push(Err(AdapterError::new(code, msg, pos.field(&vector_field))));
                        continue;
                    }
                },
            };
            out.push(self.mapping.apply_with(&Value::Object(obj), vector, &pos));
        }
        out
    }

    fn vector_field(&self) -> String {
        self.mapping.vector.clone().unwrap_or_default()
    }

    fn check_dimension(&mut self, v: &[f32]) -> Result<(), (AdapterErrorCode, String)> {
        if v.is_empty() {
            return Err((AdapterErrorCode::InvalidArg, "vector is an empty list".into()));
        }
        match self.dimension {
            None => {
                self.dimension = Some(v.len());
                Ok(())
            }
            Some(d) if d == v.len() => Ok(()),
            Some(d) => Err((AdapterErrorCode::DimensionMismatch, format!("vector has {} dimensions, earlier rows of this source have {d}", v.len()))),
        }
    }

    /// Decodes the vector column of `batch`; a row whose parent struct is null has no vector.
    fn vector_slots(&self, batch: &RecordBatch, path: &[String]) -> Result<Vec<VectorSlot>, String> {
        let missing = || format!("vector column '{}' is missing from this batch", path.join("."));
        let mut array: ArrayRef = batch.column_by_name(&path[0]).ok_or_else(missing)?.clone();
        let mut parents: Vec<ArrayRef> = Vec::new();
        for name in &path[1..] {
            let child = array.as_struct_opt().and_then(|s| s.column_by_name(name)).ok_or_else(missing)?.clone();
            parents.push(std::mem::replace(&mut array, child));
        }
        let mut slots = decode_vectors(array.as_ref()).map_err(|e| format!("cannot decode vector column: {e}"))?;
        for p in parents.iter().filter(|p| p.null_count() > 0) {
            for (i, slot) in slots.iter_mut().enumerate() {
                if p.is_null(i) {
                    *slot = Ok(None);
                }
            }
        }
        Ok(slots)
    }
}

/// Resolves a mapped field path against `schema` the way [`hektor_adapters_api::lookup`]
/// walks a row: the whole path as a top-level column name first, else dot-separated
/// segments. Returns the top-level column index followed by the struct child indices
/// walked, and the type the path ends on; the walk stops (with no type) at a map or
/// union, whose keys only the rows know. With `struct_only`, only struct fields may be
/// walked (used for vectors).
fn resolve<'a>(schema: &'a Schema, path: &str, struct_only: bool) -> Result<(Vec<usize>, Option<&'a DataType>), String> {
    if let Ok(i) = schema.index_of(path) {
        return Ok((vec![i], Some(schema.field(i).data_type())));
    }
    let mut segs = path.split('.');
    let first = segs.next().unwrap_or(path);
    let Ok(top) = schema.index_of(first) else {
        return Err(format!("column '{path}' not found; the columns are {}", column_list(schema.fields().iter().map(|f| f.name().as_str()))));
    };
    let mut out = vec![top];
    let mut dt = schema.field(top).data_type();
    let mut walked = first.to_string();
    for seg in segs {
        // dictionaries and run-end encoding are transparent
        while let DataType::Dictionary(_, v) = dt {
            dt = v;
        }
        if let DataType::RunEndEncoded(_, v) = dt {
            dt = v.data_type();
        }
        match dt {
            DataType::Struct(fields) => match fields.iter().position(|f| f.name() == seg) {
                Some(i) => {
                    out.push(i);
                    dt = fields[i].data_type();
                }
                None => {
                    return Err(format!("'{walked}' has no field '{seg}'; its fields are {}", column_list(fields.iter().map(|f| f.name().as_str()))))
                }
            },
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) | DataType::ListView(f) | DataType::LargeListView(f)
                if !struct_only =>
            {
                if seg.parse::<usize>().is_err() {
                    return Err(format!("'{walked}' is a list: index it with a number, not '{seg}'"));
                }
                dt = f.data_type();
            }
            DataType::Map(..) | DataType::Union(..) if !struct_only => return Ok((out, None)),
            other => return Err(format!("'{walked}' is {other}, it has no field '{seg}'")),
        }
        walked.push('.');
        walked.push_str(seg);
    }
    Ok((out, Some(dt)))
}

fn column_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    const SHOWN: usize = 30;
    let names: Vec<&str> = names.collect();
    let mut s = names.iter().take(SHOWN).map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    if s.is_empty() {
        s = "(none)".into();
    }
    s
}
