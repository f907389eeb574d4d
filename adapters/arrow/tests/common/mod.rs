//! Test fixtures written by the arrow writers (shared with the Parquet crate's tests).
#![allow(dead_code)]

use arrow::array::*;
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::*;
use hektor_adapters_api::{AdapterError, Batch, FieldMapping, Source, SourceRecord, SourceSpec};
use std::path::PathBuf;
use std::sync::Arc;

/// Vector dimension of the fixtures.
pub const DIM: usize = 4;

/// A path in a per-test scratch directory under cargo's `CARGO_TARGET_TMPDIR` (inside the
/// target directory: overwritten by the next run, removed by `cargo clean`).
pub fn temp_path(test: &str, file: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(env!("CARGO_PKG_NAME")).join(test);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(file)
}

/// The value of the `emb` vector of row `i`.
pub fn emb(i: usize) -> Vec<f32> {
    (0..DIM).map(|d| i as f32 + d as f32 / 10.0).collect()
}

/// Rows `start..start+n` of the rich fixture: every type the converters map, nulls in
/// most columns (row `i` with `i % 5 == 3` has a null vector, body, score).
pub fn rich_batch(start: usize, n: usize) -> RecordBatch {
    let rows: Vec<usize> = (start..start + n).collect();
    let id = Int64Array::from_iter_values(rows.iter().map(|&i| i as i64));
    let title = StringArray::from_iter_values(rows.iter().map(|i| format!("title {i}")));
    let body = LargeStringArray::from_iter(rows.iter().map(|i| (i % 5 != 3).then(|| format!("body {i}"))));
    let emb_field = Arc::new(Field::new("item", DataType::Float32, true));
    let emb_values = Float32Array::from_iter_values(rows.iter().flat_map(|&i| emb(i)));
    let emb_nulls = arrow::buffer::NullBuffer::from_iter(rows.iter().map(|i| i % 5 != 3));
    let emb_arr = FixedSizeListArray::new(emb_field, DIM as i32, Arc::new(emb_values), Some(emb_nulls));
    // a list<float64> vector column, with its own nulls
    let list_field = Arc::new(Field::new("item", DataType::Float64, true));
    let list_values = Float64Array::from_iter_values(rows.iter().flat_map(|&i| emb(i).into_iter().map(|v| v as f64)));
    let list_arr = ListArray::new(
        list_field,
        OffsetBuffer::from_lengths(rows.iter().map(|_| DIM)),
        Arc::new(list_values),
        Some(arrow::buffer::NullBuffer::from_iter(rows.iter().map(|i| i % 7 != 6))),
    );
    let author = StructArray::from(vec![
        (
            Arc::new(Field::new("name", DataType::Utf8, true)),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|i| format!("author {}", i % 3)))) as ArrayRef,
        ),
        (
            Arc::new(Field::new("age", DataType::Int32, true)),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|&i| 20 + i as i32 % 50))) as ArrayRef,
        ),
    ]);
    let mut tags = ListBuilder::new(StringBuilder::new());
    for &i in &rows {
        for t in 0..(i % 3) {
            tags.values().append_value(format!("t{t}"));
        }
        tags.append(true);
    }
    let ts = TimestampMillisecondArray::from_iter_values(rows.iter().map(|&i| 1_700_000_000_000 + i as i64 * 1_500)).with_timezone("UTC");
    let ts_local = TimestampMicrosecondArray::from_iter_values(rows.iter().map(|&i| 1_700_000_000_000_000 + i as i64));
    let day = Date32Array::from_iter_values(rows.iter().map(|&i| 19_000 + i as i32));
    let price = Decimal128Array::from_iter_values(rows.iter().map(|&i| 1999 + i as i128)).with_precision_and_scale(10, 2).unwrap();
    let big = Decimal128Array::from_iter_values(rows.iter().map(|&i| 123_456_789_012_345_678_901_234_567_890i128 + i as i128))
        .with_precision_and_scale(38, 4)
        .unwrap();
    // one dictionary for every batch (an IPC file allows no dictionary replacement)
    let cat = DictionaryArray::<Int32Type>::try_new(
        Int32Array::from_iter_values(rows.iter().map(|&i| (i % 3) as i32)),
        Arc::new(StringArray::from(vec!["red", "green", "blue"])),
    )
    .unwrap();
    let blob = BinaryArray::from_iter_values(rows.iter().map(|&i| vec![i as u8, 0xff, 0x00]));
    let score = Float32Array::from_iter(rows.iter().map(|&i| (i % 5 != 3).then_some(i as f32 + 0.1)));
    let flag = BooleanArray::from_iter(rows.iter().map(|i| Some(i % 2 == 0)));
    let mut attrs = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
    for &i in &rows {
        attrs.keys().append_value("views");
        attrs.values().append_value(i as i64 * 10);
        attrs.append(true).unwrap();
    }
    RecordBatch::try_from_iter_with_nullable([
        ("id", Arc::new(id) as ArrayRef, false),
        ("title", Arc::new(title) as _, false),
        ("body", Arc::new(body) as _, true),
        ("emb", Arc::new(emb_arr) as _, true),
        ("emb_list", Arc::new(list_arr) as _, true),
        ("author", Arc::new(author) as _, true),
        ("tags", Arc::new(tags.finish()) as _, true),
        ("ts", Arc::new(ts) as _, true),
        ("ts_local", Arc::new(ts_local) as _, true),
        ("day", Arc::new(day) as _, true),
        ("price", Arc::new(price) as _, true),
        ("big", Arc::new(big) as _, true),
        ("cat", Arc::new(cat) as _, true),
        ("blob", Arc::new(blob) as _, true),
        ("score", Arc::new(score) as _, true),
        ("flag", Arc::new(flag) as _, true),
        ("attrs", Arc::new(attrs.finish()) as _, true),
    ])
    .unwrap()
}

/// The mapping the happy-path tests use: all four fields, nested and typed metadata.
pub fn rich_mapping() -> FieldMapping {
    FieldMapping {
        id: Some("id".into()),
        text: vec!["title".into(), "body".into()],
        vector: Some("emb".into()),
        metadata: ["author.name", "author", "tags", "ts", "ts_local", "day", "price", "big", "cat", "blob", "score", "flag", "attrs"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    }
}

/// A spec for `path`.
pub fn spec(kind: &str, path: &std::path::Path, mapping: FieldMapping, options: serde_json::Value) -> SourceSpec {
    SourceSpec { kind: kind.into(), location: path.to_string_lossy().into_owned(), options, mapping }
}

/// Reads the whole source in batches of `max`, checking every batch's size.
pub fn drain(src: &mut dyn Source, max: usize) -> Result<Vec<Result<SourceRecord, AdapterError>>, AdapterError> {
    let mut out = Vec::new();
    while let Some(Batch { rows }) = src.next_batch(max)? {
        assert!(!rows.is_empty() && rows.len() <= max, "batch of {} rows for max {max}", rows.len());
        out.extend(rows);
    }
    Ok(out)
}

/// Checks the record for fixture row `i` under [`rich_mapping`].
pub fn check_rich_record(r: &SourceRecord, i: usize) {
    use serde_json::json;
    assert_eq!(r.id, i.to_string());
    if i % 5 == 3 {
        assert_eq!(r.text.as_deref(), Some(format!("title {i}").as_str()));
        assert_eq!(r.vector, None);
    } else {
        assert_eq!(r.text.as_deref(), Some(format!("title {i}\n\nbody {i}").as_str()));
        assert_eq!(r.vector.as_deref(), Some(emb(i).as_slice()));
    }
    let m = r.metadata.as_ref().unwrap();
    assert_eq!(m["author.name"], json!(format!("author {}", i % 3)));
    assert_eq!(m["author"], json!({"name": format!("author {}", i % 3), "age": 20 + i % 50}));
    let tags: Vec<String> = (0..i % 3).map(|t| format!("t{t}")).collect();
    assert_eq!(m["tags"], json!(tags));
    let ts = chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + i as i64 * 1_500).unwrap();
    assert_eq!(m["ts"], json!(ts.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()));
    let local = if i == 0 { "2023-11-14T22:13:20".to_string() } else { format!("2023-11-14T22:13:20.{i:06}") };
    assert_eq!(m["ts_local"], json!(local), "no time zone: wall-clock time without a suffix");
    let day = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(19_000 + i as i64);
    assert_eq!(m["day"], json!(day.format("%Y-%m-%d").to_string()));
    assert_eq!(m["price"], json!((1999 + i) as f64 / 100.0));
    assert_eq!(m["big"], json!(format!("12345678901234567890123456.{}", 7890 + i)));
    assert_eq!(m["cat"], json!(["red", "green", "blue"][i % 3]));
    use base64::Engine as _;
    assert_eq!(m["blob"], json!(base64::engine::general_purpose::STANDARD.encode([i as u8, 0xff, 0x00])));
    if i % 5 == 3 {
        assert_eq!(m["score"], json!(null));
    } else {
        assert_eq!(m["score"], crate::common::f32_json(i as f32 + 0.1));
    }
    assert_eq!(m["flag"], json!(i.is_multiple_of(2)));
    assert_eq!(m["attrs"], json!({"views": i * 10}));
}

/// The JSON number for an f32 as its shortest decimal.
pub fn f32_json(v: f32) -> serde_json::Value {
    serde_json::json!(v.to_string().parse::<f64>().unwrap())
}

/// A file written by `fixtures/pyarrow/gen.py` (pyarrow, the reference implementation).
pub fn pyarrow_fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../arrow/tests/fixtures/pyarrow")).join(name)
}

/// The mapping the tests use over the table `fixtures/pyarrow/gen.py` writes.
pub fn pyarrow_mapping() -> FieldMapping {
    FieldMapping {
        id: Some("id".into()),
        text: vec!["title".into(), "sv".into()],
        vector: Some("emb".into()),
        metadata: ["author.name", "author", "ts", "day", "price", "cat", "m", "blob", "emb_list", "f16"].iter().map(|s| s.to_string()).collect(),
    }
}

/// Checks the record of row `i` of gen.py's table under [`pyarrow_mapping`].
pub fn check_pyarrow_record(r: &SourceRecord, i: usize) {
    use base64::Engine as _;
    assert_eq!(r.id, format!("doc-{i}"));
    assert_eq!(r.text.as_deref(), Some(format!("title {i}\n\nview {i}").as_str()));
    let emb: Vec<f32> = (0..4).map(|d| i as f32 + d as f32 / 10.0).collect();
    assert_eq!(r.vector, (i % 5 != 3).then_some(emb));
    let m = r.metadata.as_ref().unwrap();
    assert_eq!(m["author"], serde_json::json!({"name": format!("a{}", i % 3), "age": i}));
    assert_eq!(m["author.name"], serde_json::json!(format!("a{}", i % 3)));
    // 12:00:ss in America/New_York's column is the UTC instant pyarrow stored
    assert_eq!(m["ts"], serde_json::json!(format!("2024-01-01T12:00:{:02}Z", i % 60)));
    assert_eq!(m["day"], serde_json::json!(format!("2024-01-{:02}", 1 + i % 28)));
    assert_eq!(m["price"], serde_json::json!(format!("{i}.25").parse::<f64>().unwrap()));
    assert_eq!(m["cat"], serde_json::json!(["red", "green"][i % 2]));
    assert_eq!(m["m"], serde_json::json!({"k": i}));
    assert_eq!(m["blob"], serde_json::json!(base64::engine::general_purpose::STANDARD.encode([i as u8, 1])));
    assert_eq!(m["emb_list"], serde_json::json!([i as f64, i as f64, i as f64]));
    assert_eq!(m["f16"], serde_json::json!([1.5, 2.5]));
}
