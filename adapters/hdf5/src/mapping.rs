//! The field mapping of an hdf5 source: the options name the datasets, and each row is
//! the object `{ id, text, <metadata names>... }` plus the vector; an empty mapping slot is
//! filled from the options.

use hektor_adapters_api::{AdapterError, AdapterErrorCode, FieldMapping, Position};

use crate::options::Hdf5Options;

/// The record field the `ids` dataset fills.
pub const ID_FIELD: &str = "id";
/// The record field the `texts` dataset fills.
pub const TEXT_FIELD: &str = "text";
/// The record field the `vectors` dataset fills.
pub const VECTOR_FIELD: &str = "vector";

/// `spec.mapping` with each empty field filled from the options: `id` -> `"id"` when
/// `ids` is given, `text` -> `["text"]` when `texts` is, `vector` -> `"vector"` when
/// `vectors` is, `metadata` -> every `metadata` key.
pub(crate) fn fill_mapping(given: &FieldMapping, opts: &Hdf5Options) -> FieldMapping {
    let mut m = given.clone();
    if m.id.is_none() && opts.ids.is_some() {
        m.id = Some(ID_FIELD.into());
    }
    if m.text.is_empty() && opts.texts.is_some() {
        m.text = vec![TEXT_FIELD.into()];
    }
    if m.vector.is_none() && opts.vectors.is_some() {
        m.vector = Some(VECTOR_FIELD.into());
    }
    if m.metadata.is_empty() {
        m.metadata = opts.metadata.keys().cloned().collect();
    }
    m
}

/// The field a (possibly dotted) mapped name starts with.
pub(crate) fn root(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// Every name the mapping uses must be one of the source's fields.
pub(crate) fn check_mapping(m: &FieldMapping, fields: &[&str], has_vectors: bool, at: &dyn Fn(Option<&str>) -> Position) -> Result<(), AdapterError> {
    let known = |f: &str| fields.contains(&f) || fields.contains(&root(f));
    let mut uses: Vec<(&str, &str)> = Vec::new();
    uses.extend(m.id.iter().map(|f| ("id", f.as_str())));
    uses.extend(m.text.iter().map(|f| ("text", f.as_str())));
    uses.extend(m.vector.iter().map(|f| ("vector", f.as_str())));
    uses.extend(m.metadata.iter().filter(|f| *f != "*").map(|f| ("metadata", f.as_str())));
    for (slot, f) in uses {
        if !known(f) {
            let list = if fields.is_empty() { "none".to_owned() } else { fields.join(", ") };
            let msg = format!("mapping `{slot}` names '{f}', which is not a field of this hdf5 source (its fields, from the options: {list})");
            return Err(AdapterError::new(AdapterErrorCode::InvalidArg, msg, at(Some(f))));
        }
        if root(f) == VECTOR_FIELD && !(slot == "vector" && f == VECTOR_FIELD) && has_vectors {
            let msg = "the `vectors` dataset can only be mapped as the record's vector (`vector: \"vector\"`)".to_owned();
            return Err(AdapterError::new(AdapterErrorCode::InvalidArg, msg, at(Some(f))));
        }
    }
    Ok(())
}
