//! Helpers shared by the json test files.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hektor_adapters_api::{AdapterError, FieldMapping, Source, SourceRecord, SourceSpec};

pub fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hektor-json-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

pub fn spec(kind: &str, path: &Path, options: serde_json::Value, mapping: FieldMapping) -> SourceSpec {
    SourceSpec { kind: kind.into(), location: path.to_string_lossy().into_owned(), options, mapping }
}

pub fn map(id: &str, text: &[&str], vector: Option<&str>, metadata: &[&str]) -> FieldMapping {
    FieldMapping {
        id: (!id.is_empty()).then(|| id.to_string()),
        text: text.iter().map(|s| s.to_string()).collect(),
        vector: vector.map(str::to_string),
        metadata: metadata.iter().map(|s| s.to_string()).collect(),
    }
}

/// All rows until the end, checking the batch bound; panics on a stream error.
pub fn drain(src: &mut dyn Source, max: usize) -> Vec<Result<SourceRecord, AdapterError>> {
    let mut out = Vec::new();
    while let Some(b) = src.next_batch(max).unwrap() {
        assert!(!b.is_empty() && b.len() <= max, "batch of {} rows with max {max}", b.len());
        out.extend(b.rows);
    }
    out
}

/// Rows until the stream error that must come.
pub fn drain_until_error(src: &mut dyn Source, max: usize) -> (Vec<Result<SourceRecord, AdapterError>>, AdapterError) {
    let mut out = Vec::new();
    loop {
        match src.next_batch(max) {
            Ok(Some(b)) => out.extend(b.rows),
            Ok(None) => panic!("expected a stream error, got the end after {} rows", out.len()),
            Err(e) => return (out, e),
        }
    }
}
