//! The `arrow` and `feather` sources over files written by arrow's IPC writers.

mod common;

use arrow::array::*;
use arrow::datatypes::*;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow::ipc::CompressionType;
use common::*;
use hektor_adapters_api::{AdapterErrorCode, FieldMapping, Source};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

fn write_file(path: &Path, batches: &[RecordBatch], compression: Option<CompressionType>) {
    let options = IpcWriteOptions::default().try_with_compression(compression).unwrap();
    let mut w = FileWriter::try_new_with_options(std::fs::File::create(path).unwrap(), &batches[0].schema(), options).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
}

fn write_stream(path: &Path, batches: &[RecordBatch], compression: Option<CompressionType>) {
    let options = IpcWriteOptions::default().try_with_compression(compression).unwrap();
    let mut w = StreamWriter::try_new_with_options(std::fs::File::create(path).unwrap(), &batches[0].schema(), options).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
}

/// 22 rows in batches of 10, 7 and 5.
fn rich_batches() -> Vec<RecordBatch> {
    vec![rich_batch(0, 10), rich_batch(10, 7), rich_batch(17, 5)]
}

fn open_err(spec: &hektor_adapters_api::SourceSpec) -> hektor_adapters_api::AdapterError {
    match hektor_source_arrow::open(spec) {
        Ok(_) => panic!("{} opened", spec.location),
        Err(e) => e,
    }
}

fn open(kind: &str, path: &Path, mapping: FieldMapping) -> Box<dyn Source> {
    hektor_source_arrow::open(&spec(kind, path, mapping, json!({}))).unwrap()
}

#[test]
fn ipc_file_all_fields_nested_and_typed_metadata() {
    let path = temp_path("file", "rich.arrow");
    write_file(&path, &rich_batches(), None);
    let mut src = open("arrow", &path, rich_mapping());
    let size = std::fs::metadata(&path).unwrap().len();
    let p = src.progress();
    assert_eq!((p.rows, p.total_rows, p.total_bytes), (0, Some(22), Some(size)));
    let rows = drain(src.as_mut(), 4).unwrap();
    assert_eq!(rows.len(), 22);
    for (i, r) in rows.iter().enumerate() {
        check_rich_record(r.as_ref().unwrap(), i);
    }
    let p = src.progress();
    assert_eq!(p.rows, 22);
    assert!(p.bytes > size / 2 && p.bytes <= size, "bytes {} of {size}", p.bytes);
    assert_eq!(src.name(), path.to_string_lossy());
}

#[test]
fn ipc_stream_reads_like_the_file() {
    let path = temp_path("stream", "rich.arrows");
    write_stream(&path, &rich_batches(), None);
    let mut src = open("arrow", &path, rich_mapping());
    assert_eq!(src.progress().total_rows, None);
    let rows = drain(src.as_mut(), 1000).unwrap();
    assert_eq!(rows.len(), 22);
    for (i, r) in rows.iter().enumerate() {
        check_rich_record(r.as_ref().unwrap(), i);
    }
    let p = src.progress();
    assert_eq!(p.bytes, std::fs::metadata(&path).unwrap().len());
    assert_eq!(p.total_bytes, Some(p.bytes));
}

#[test]
fn feather_v2_with_lz4_and_zstd_buffers() {
    for (name, c) in [("lz4", CompressionType::LZ4_FRAME), ("zstd", CompressionType::ZSTD)] {
        let path = temp_path("feather", &format!("rich-{name}.feather"));
        write_file(&path, &rich_batches(), Some(c));
        let mut src = open("feather", &path, rich_mapping());
        assert_eq!(src.progress().total_rows, Some(22));
        let rows = drain(src.as_mut(), 5).unwrap();
        assert_eq!(rows.len(), 22, "{name}");
        for (i, r) in rows.iter().enumerate() {
            check_rich_record(r.as_ref().unwrap(), i);
        }
        // the compressed stream format too
        let path = temp_path("feather", &format!("rich-{name}.arrows"));
        write_stream(&path, &rich_batches(), Some(c));
        let rows = drain(open("arrow", &path, rich_mapping()).as_mut(), 3).unwrap();
        check_rich_record(rows[21].as_ref().unwrap(), 21);
    }
}

#[test]
fn list_float64_vector_column_and_star_metadata() {
    let path = temp_path("star", "rich.arrow");
    write_file(&path, &rich_batches(), None);
    let mapping = FieldMapping { vector: Some("emb_list".into()), metadata: vec!["*".into()], ..Default::default() };
    let rows = drain(open("arrow", &path, mapping).as_mut(), 100).unwrap();
    for (i, r) in rows.iter().enumerate() {
        let r = r.as_ref().unwrap();
        assert_eq!(r.id, format!("{}:{i}", path.to_string_lossy()), "generated ids are <source>:<row>");
        assert_eq!(r.vector.as_deref(), (i % 7 != 6).then(|| emb(i)).as_deref());
        let m = r.metadata.as_ref().unwrap();
        assert!(!m.contains_key("emb_list"), "the vector column is not metadata");
        assert_eq!(m.len(), 16);
        assert_eq!(m["emb"], if i % 5 == 3 { json!(null) } else { json!(emb(i).iter().map(|v| f32_json(*v)).collect::<Vec<_>>()) });
        assert_eq!(m["id"], json!(i));
        assert_eq!(m["title"], json!(format!("title {i}")));
    }
}

#[test]
fn float16_vectors_nested_vector_path_and_uuid() {
    let n = 6;
    let f16s = Float16Array::from_iter_values((0..n * 2).map(|v| half::f16::from_f32(v as f32 * 0.5)));
    let v16 = FixedSizeListArray::new(Arc::new(Field::new("item", DataType::Float16, false)), 2, Arc::new(f16s), None);
    let inner = StructArray::from(vec![(Arc::new(Field::new("v", v16.data_type().clone(), true)), Arc::new(v16) as ArrayRef)]);
    // the struct itself is null on row 2: no vector there
    let doc = StructArray::new(inner.fields().clone(), inner.columns().to_vec(), Some(arrow::buffer::NullBuffer::from_iter((0..n).map(|i| i != 2))));
    let uuid_field = Field::new("uid", DataType::FixedSizeBinary(16), false)
        .with_metadata(std::collections::HashMap::from([("ARROW:extension:name".to_string(), "arrow.uuid".to_string())]));
    let uids = FixedSizeBinaryArray::try_from_iter((0..n).map(|i| [i as u8; 16])).unwrap();
    let schema = Arc::new(Schema::new(vec![Field::new("doc", doc.data_type().clone(), true), uuid_field]));
    let batch = RecordBatch::try_new(schema, vec![Arc::new(doc), Arc::new(uids)]).unwrap();
    let path = temp_path("f16", "f16.arrow");
    write_file(&path, &[batch], None);
    let mapping = FieldMapping { id: Some("uid".into()), vector: Some("doc.v".into()), ..Default::default() };
    let rows = drain(open("arrow", &path, mapping).as_mut(), 10).unwrap();
    let r = rows[1].as_ref().unwrap();
    assert_eq!(r.id, "01010101-0101-0101-0101-010101010101");
    assert_eq!(r.vector, Some(vec![1.0, 1.5]));
    assert_eq!(rows[2].as_ref().unwrap().vector, None);
}

#[test]
fn more_types_as_json() {
    let n = 3;
    let dec_big = Decimal256Array::from_iter_values((0..n).map(|i| i256::from_i128(10i128.pow(30) + i))).with_precision_and_scale(40, 0).unwrap();
    let dec_int = Decimal128Array::from_iter_values((0..n).map(|i| 123_456_789_012 + i)).with_precision_and_scale(18, 0).unwrap();
    let ree = RunArray::<Int32Type>::try_new(&Int32Array::from(vec![2, 3]), &StringArray::from(vec!["a", "b"])).unwrap();
    let view = StringViewArray::from_iter_values((0..n).map(|i| format!("a string longer than twelve bytes {i}")));
    let batch = RecordBatch::try_from_iter([
        ("u64", Arc::new(UInt64Array::from_iter_values((0..n).map(|i| u64::MAX - i as u64))) as ArrayRef),
        ("nan", Arc::new(Float64Array::from(vec![f64::NAN, 1.5, f64::INFINITY])) as _),
        ("dec_big", Arc::new(dec_big) as _),
        ("dec_int", Arc::new(dec_int) as _),
        ("ree", Arc::new(ree) as _),
        ("view", Arc::new(view) as _),
        ("t", Arc::new(Time32SecondArray::from(vec![3_600, 3_661, 0])) as _),
        ("dur", Arc::new(DurationMillisecondArray::from(vec![1_500, 0, 60_000])) as _),
        ("nul", Arc::new(NullArray::new(n as usize)) as _),
        ("ts_s", Arc::new(TimestampSecondArray::from(vec![0, 86_400, i64::MAX])) as _),
    ])
    .unwrap();
    let path = temp_path("types", "types.arrows");
    write_stream(&path, &[batch], None);
    let mapping = FieldMapping { metadata: vec!["*".into()], ..Default::default() };
    let rows = drain(open("arrow", &path, mapping).as_mut(), 10).unwrap();
    let m: Vec<_> = rows.iter().map(|r| r.as_ref().unwrap().metadata.clone().unwrap()).collect();
    assert_eq!(m[1]["u64"], json!(u64::MAX - 1));
    assert_eq!((&m[0]["nan"], &m[1]["nan"], &m[2]["nan"]), (&json!(null), &json!(1.5), &json!(null)));
    assert_eq!(m[2]["dec_big"], json!("1000000000000000000000000000002"));
    assert_eq!(m[2]["dec_int"], json!(123_456_789_014u64));
    assert_eq!((&m[1]["ree"], &m[2]["ree"]), (&json!("a"), &json!("b")));
    assert_eq!(m[0]["view"], json!("a string longer than twelve bytes 0"));
    assert_eq!(m[1]["t"], json!("01:01:01"));
    assert!(m[0]["dur"].as_str().unwrap().starts_with("PT1.5"), "{}", m[0]["dur"]);
    assert_eq!(m[0]["nul"], json!(null));
    assert_eq!(m[1]["ts_s"], json!("1970-01-02T00:00:00"));
    assert_eq!(m[2]["ts_s"], json!(i64::MAX), "out-of-range timestamps stay numbers");
}

#[test]
fn bounded_batches_over_150k_rows() {
    let path = temp_path("bounded", "big.arrows");
    let schema = Arc::new(Schema::new(vec![
        Field::new("text", DataType::Utf8, false),
        Field::new("v", DataType::new_fixed_size_list(DataType::Float32, 8, false), false),
    ]));
    let mut w = StreamWriter::try_new(std::fs::File::create(&path).unwrap(), &schema).unwrap();
    let per = 25_000;
    for b in 0..6 {
        let text = StringArray::from_iter_values((0..per).map(|i| format!("row {}", b * per + i)));
        let values = Float32Array::from_iter_values((0..per * 8).map(|x| x as f32));
        let v = FixedSizeListArray::new(Arc::new(Field::new("item", DataType::Float32, false)), 8, Arc::new(values), None);
        w.write(&RecordBatch::try_new(schema.clone(), vec![Arc::new(text), Arc::new(v)]).unwrap()).unwrap();
    }
    w.finish().unwrap();
    let mapping = FieldMapping { text: vec!["text".into()], vector: Some("v".into()), ..Default::default() };
    let mut src = open("arrow", &path, mapping);
    let mut seen = 0usize;
    while let Some(batch) = src.next_batch(1000).unwrap() {
        assert!(batch.len() <= 1000);
        let last = batch.rows.last().unwrap().as_ref().unwrap();
        seen += batch.len();
        assert_eq!(last.text.as_deref(), Some(format!("row {}", seen - 1).as_str()));
        assert_eq!(last.vector.as_ref().unwrap().len(), 8);
    }
    assert_eq!(seen, 150_000);
    assert_eq!(src.progress().rows, 150_000);
}

#[test]
fn feather_v1_is_refused_with_the_fix() {
    let path = temp_path("v1", "old.feather");
    // Feather v1 starts and ends with FEA1 (hand-made: no v1 writer in Rust)
    std::fs::write(&path, [b"FEA1".as_slice(), &[0u8; 64], b"FEA1"].concat()).unwrap();
    for kind in ["feather", "arrow"] {
        let e = open_err(&spec(kind, &path, FieldMapping::default(), json!(null)));
        assert_eq!(e.code, AdapterErrorCode::Parse);
        assert!(e.message.contains("Feather v1 is not supported; re-save with pyarrow.feather.write_feather(version=2)"), "{e}");
        assert_eq!(e.position.source, path.to_string_lossy());
    }
}

#[test]
fn truncated_ipc_file_is_a_parse_error() {
    let path = temp_path("truncated", "cut.arrow");
    write_file(&path, &rich_batches(), None);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = open_err(&spec("arrow", &path, rich_mapping(), json!({})));
    assert_eq!(e.code, AdapterErrorCode::Parse);
    assert!(e.message.contains("truncated or corrupt"), "{e}");
    assert_eq!(e.position.source, path.to_string_lossy());
}

#[test]
fn truncated_ipc_stream_fails_at_the_batch_with_its_byte_offset() {
    let path = temp_path("truncated-stream", "cut.arrows");
    write_stream(&path, &rich_batches(), None);
    let bytes = std::fs::read(&path).unwrap();
    let cut = bytes.len() * 3 / 4;
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let mut src = open("arrow", &path, rich_mapping());
    let mut rows = 0;
    let e = loop {
        match src.next_batch(4) {
            Ok(Some(b)) => rows += b.len(),
            Ok(None) => panic!("a truncated stream must not end cleanly"),
            Err(e) => break e,
        }
    };
    assert_eq!(e.code, AdapterErrorCode::Parse);
    assert!(e.message.contains("truncated"), "{e}");
    assert_eq!(e.position.row, Some(rows as u64));
    let byte = e.position.byte.unwrap();
    assert!(byte > 0 && byte <= cut as u64, "byte {byte}");
    assert!(src.next_batch(4).unwrap().is_none(), "the stream ends after its error");
}

#[test]
fn corrupt_footer_is_a_parse_error() {
    let path = temp_path("footer", "bad-footer.arrow");
    write_file(&path, &rich_batches(), None);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    let footer_len = i32::from_le_bytes(bytes[n - 10..n - 6].try_into().unwrap()) as usize;
    for b in &mut bytes[n - 10 - footer_len..n - 10] {
        *b = 0xAB;
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = open_err(&spec("feather", &path, rich_mapping(), json!({})));
    assert_eq!(e.code, AdapterErrorCode::Parse, "{e}");
    assert!(e.message.contains("footer"), "{e}");
}

#[test]
fn string_column_mapped_as_vector_is_invalid_arg() {
    let path = temp_path("wrong-vector", "rich.arrow");
    write_file(&path, &rich_batches(), None);
    let mapping = FieldMapping { vector: Some("title".into()), ..Default::default() };
    let e = open_err(&spec("arrow", &path, mapping, json!({})));
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert_eq!(e.position.field.as_deref(), Some("title"));
    assert!(e.message.contains("list or fixed_size_list"), "{e}");
    // a list of strings is refused too
    let mapping = FieldMapping { vector: Some("tags".into()), ..Default::default() };
    let e = open_err(&spec("arrow", &path, mapping, json!({})));
    assert_eq!((e.code, e.position.field.as_deref()), (AdapterErrorCode::InvalidArg, Some("tags")));
}

#[test]
fn missing_columns_are_named() {
    let path = temp_path("missing", "rich.arrows");
    write_stream(&path, &rich_batches(), None);
    let mapping = FieldMapping { text: vec!["title".into(), "summary".into()], ..Default::default() };
    let e = open_err(&spec("arrow", &path, mapping, json!({})));
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert_eq!(e.position.field.as_deref(), Some("summary"));
    assert!(e.message.contains("column 'summary' not found") && e.message.contains("'title'"), "{e}");
    let mapping = FieldMapping { metadata: vec!["author.nmae".into()], ..Default::default() };
    let e = open_err(&spec("arrow", &path, mapping, json!({})));
    assert_eq!(e.position.field.as_deref(), Some("author.nmae"));
    assert!(e.message.contains("'author' has no field 'nmae'; its fields are 'name', 'age'"), "{e}");
    let mapping = FieldMapping { text: vec!["author".into()], ..Default::default() };
    let e = open_err(&spec("arrow", &path, mapping, json!({})));
    assert_eq!((e.code, e.position.field.as_deref()), (AdapterErrorCode::InvalidArg, Some("author")));
    assert!(e.message.contains("text must be a string, number or boolean column"), "{e}");
}

#[test]
fn vector_rows_with_null_elements_or_other_lengths_are_row_errors() {
    let mut b = ListBuilder::new(Float32Builder::new());
    b.append_value([Some(1.0), Some(2.0)]);
    b.append_value([Some(1.0), None]);
    b.append_value([Some(1.0), Some(2.0), Some(3.0)]);
    b.append_value([Some(3.0), Some(4.0)]);
    let batch = RecordBatch::try_from_iter([("v", Arc::new(b.finish()) as ArrayRef)]).unwrap();
    let path = temp_path("ragged", "ragged.arrow");
    write_file(&path, &[batch], None);
    let rows = drain(open("arrow", &path, FieldMapping { vector: Some("v".into()), ..Default::default() }).as_mut(), 10).unwrap();
    assert_eq!(rows[0].as_ref().unwrap().vector, Some(vec![1.0, 2.0]));
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!((e.code, e.position.row, e.position.field.as_deref()), (AdapterErrorCode::InvalidArg, Some(1), Some("v")));
    assert!(e.message.contains("null element at index 1"), "{e}");
    let e = rows[2].as_ref().unwrap_err();
    assert_eq!((e.code, e.position.row), (AdapterErrorCode::DimensionMismatch, Some(2)));
    assert_eq!(rows[3].as_ref().unwrap().vector, Some(vec![3.0, 4.0]));
}

#[test]
fn missing_file_directory_garbage_and_bad_options() {
    let dir = temp_path("paths", "x").parent().unwrap().to_path_buf();
    let e = open_err(&spec("arrow", &dir.join("nope.arrow"), FieldMapping::default(), json!({})));
    assert_eq!(e.code, AdapterErrorCode::NotFound);
    let e = open_err(&spec("arrow", &dir, FieldMapping::default(), json!({})));
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    let csv = dir.join("data.csv");
    std::fs::write(&csv, "id,title\n1,hello\n").unwrap();
    let e = open_err(&spec("arrow", &csv, FieldMapping::default(), json!({})));
    assert_eq!(e.code, AdapterErrorCode::Parse, "{e}");
    let e = open_err(&spec("feather", &csv, FieldMapping::default(), json!({})));
    assert!(e.message.contains("not a Feather v2 file"), "{e}");
    let empty = dir.join("empty.arrow");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(open_err(&spec("arrow", &empty, FieldMapping::default(), json!({}))).code, AdapterErrorCode::Parse);
    let path = dir.join("ok.arrow");
    write_file(&path, &rich_batches(), None);
    let e = open_err(&spec("arrow", &path, FieldMapping::default(), json!({"batchSize": 10})));
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert!(e.message.contains("batchSize"), "{e}");
}

#[test]
fn empty_mapping_still_counts_rows() {
    let path = temp_path("nocols", "rich.arrow");
    write_file(&path, &rich_batches(), None);
    let rows = drain(open("arrow", &path, FieldMapping::default()).as_mut(), 8).unwrap();
    assert_eq!(rows.len(), 22);
    assert_eq!(rows[21].as_ref().unwrap().id, format!("{}:21", path.to_string_lossy()));
}

#[cfg(unix)]
#[test]
fn ipc_stream_from_a_pipe() {
    let path = temp_path("fifo", "pipe.arrows");
    let _ = std::fs::remove_file(&path);
    if !std::process::Command::new("mkfifo").arg(&path).status().is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable: skipped");
        return;
    }
    let writer_path = path.clone();
    let writer = std::thread::spawn(move || write_stream(&writer_path, &rich_batches(), Some(CompressionType::ZSTD)));
    let mut src = open("arrow", &path, rich_mapping());
    let rows = drain(src.as_mut(), 6).unwrap();
    writer.join().unwrap();
    assert_eq!(rows.len(), 22);
    check_rich_record(rows[21].as_ref().unwrap(), 21);
    let p = src.progress();
    assert_eq!((p.total_rows, p.total_bytes), (None, None));
    assert!(p.bytes > 0);
}
