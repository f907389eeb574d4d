//! The `parquet` source over files written by parquet's ArrowWriter.

#[path = "../../arrow/tests/common/mod.rs"]
mod common;

use arrow::array::*;
use arrow::datatypes::*;
use common::*;
use hektor_adapters_api::{AdapterErrorCode, FieldMapping, Source};
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

fn write(path: &Path, batches: &[RecordBatch], rows_per_group: usize, compression: Compression) {
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(rows_per_group)).set_compression(compression).build();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

/// 25 rows in row groups of 10, 10 and 5.
fn rich_file(test: &str) -> std::path::PathBuf {
    let path = temp_path(test, "rich.parquet");
    write(&path, &[rich_batch(0, 13), rich_batch(13, 12)], 10, Compression::SNAPPY);
    path
}

fn open(path: &Path, mapping: FieldMapping, options: serde_json::Value) -> Box<dyn Source> {
    hektor_source_parquet::open(&spec("parquet", path, mapping, options)).unwrap()
}

fn open_err(path: &Path, mapping: FieldMapping, options: serde_json::Value) -> hektor_adapters_api::AdapterError {
    match hektor_source_parquet::open(&spec("parquet", path, mapping, options)) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e,
    }
}

#[test]
fn row_groups_nested_columns_and_fixed_size_list_vectors() {
    let path = rich_file("rich");
    let size = std::fs::metadata(&path).unwrap().len();
    let mut src = open(&path, rich_mapping(), json!({}));
    let p = src.progress();
    assert_eq!((p.rows, p.total_rows, p.total_bytes), (0, Some(25), Some(size)));
    let mut sizes = Vec::new();
    let mut rows = Vec::new();
    while let Some(b) = src.next_batch(4).unwrap() {
        sizes.push(b.len());
        rows.extend(b.rows);
    }
    assert!(sizes.iter().all(|n| (1..=4).contains(n)), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 25);
    for (i, r) in rows.iter().enumerate() {
        check_rich_record(r.as_ref().unwrap(), i);
    }
    let p = src.progress();
    assert_eq!(p.rows, 25);
    assert!(p.bytes > 0 && p.bytes <= size, "bytes {} of {size}", p.bytes);
}

#[test]
fn list_vectors_every_codec_and_star_metadata() {
    let codecs = [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::ZSTD(ZstdLevel::default()),
        Compression::LZ4_RAW,
        Compression::GZIP(GzipLevel::default()),
        Compression::BROTLI(BrotliLevel::default()),
    ];
    for c in codecs {
        let path = temp_path("codecs", &format!("{c:?}.parquet").replace(['(', ')', ' '], "_"));
        write(&path, &[rich_batch(0, 25)], 7, c);
        let mapping = FieldMapping { vector: Some("emb_list".into()), metadata: vec!["*".into()], ..Default::default() };
        let rows = drain(open(&path, mapping, json!({})).as_mut(), 6).unwrap();
        assert_eq!(rows.len(), 25, "{c:?}");
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_ref().unwrap();
            assert_eq!(r.id, format!("{}:{i}", path.to_string_lossy()));
            assert_eq!(r.vector.as_deref(), (i % 7 != 6).then(|| emb(i)).as_deref(), "{c:?} row {i}");
            let m = r.metadata.as_ref().unwrap();
            assert_eq!(m.len(), 16);
            assert!(!m.contains_key("emb_list"));
            assert_eq!(m["cat"], json!(["red", "green", "blue"][i % 3]));
            assert_eq!(m["author"]["age"], json!(20 + i % 50));
        }
    }
}

#[test]
fn row_groups_option_keeps_file_row_numbers() {
    let path = rich_file("rowgroups");
    let mapping = FieldMapping { text: vec!["title".into()], ..Default::default() };
    let mut src = open(&path, mapping, json!({ "rowGroups": [2, 0], "batchSize": 3 }));
    assert_eq!(src.progress().total_rows, Some(15));
    let rows = drain(src.as_mut(), 100).unwrap();
    let want: Vec<usize> = (20..25).chain(0..10).collect();
    assert_eq!(rows.len(), want.len());
    for (r, i) in rows.iter().zip(want) {
        let r = r.as_ref().unwrap();
        assert_eq!(r.text.as_deref(), Some(format!("title {i}").as_str()));
        assert_eq!(r.id, format!("{}:{i}", path.to_string_lossy()), "ids follow the row's place in the file");
    }
    assert_eq!(src.progress().rows, 15);
}

#[test]
fn batch_size_option_and_bounded_batches_over_120k_rows() {
    let path = temp_path("bounded", "big.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("text", DataType::Utf8, false),
        Field::new("v", DataType::new_list(DataType::Float32, true), false),
        Field::new("unused", DataType::Utf8, false),
    ]));
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(50_000)).build();
    let mut w = ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema.clone(), Some(props)).unwrap();
    let per = 20_000;
    for b in 0..6 {
        let text = StringArray::from_iter_values((0..per).map(|i| format!("row {}", b * per + i)));
        let mut v = ListBuilder::new(Float32Builder::new());
        for i in 0..per {
            v.append_value((0..16).map(|d| Some((b * per + i + d) as f32)));
        }
        let unused = StringArray::from_iter_values((0..per).map(|_| "x".repeat(20)));
        w.write(&RecordBatch::try_new(schema.clone(), vec![Arc::new(text), Arc::new(v.finish()), Arc::new(unused)]).unwrap()).unwrap();
    }
    w.close().unwrap();
    let mapping = FieldMapping { text: vec!["text".into()], vector: Some("v".into()), ..Default::default() };
    for options in [json!({}), json!({ "batchSize": 777 })] {
        let mut src = open(&path, mapping.clone(), options);
        let mut seen = 0usize;
        while let Some(batch) = src.next_batch(1000).unwrap() {
            assert!(batch.len() <= 1000);
            for r in &batch.rows {
                let r = r.as_ref().unwrap();
                assert_eq!(r.text.as_deref(), Some(format!("row {seen}").as_str()));
                assert_eq!(r.vector.as_ref().unwrap()[15], (seen + 15) as f32);
                seen += 1;
            }
        }
        assert_eq!(seen, 120_000);
        let p = src.progress();
        assert_eq!((p.rows, p.total_rows), (120_000, Some(120_000)));
    }
}

#[test]
fn only_mapped_columns_are_read() {
    let path = temp_path("projection", "wide.parquet");
    let n = 20_000;
    // a large column nobody maps, and a small one
    let noise = StringArray::from_iter_values((0..n).map(|i: u64| format!("{:x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).repeat(8)));
    let small = Int32Array::from_iter_values(0..n as i32);
    let batch = RecordBatch::try_from_iter([("noise", Arc::new(noise) as ArrayRef), ("small", Arc::new(small) as _)]).unwrap();
    write(&path, &[batch], 5_000, Compression::SNAPPY);
    let size = std::fs::metadata(&path).unwrap().len();
    let mut src = open(&path, FieldMapping { id: Some("small".into()), ..Default::default() }, json!({}));
    let rows = drain(src.as_mut(), 4096).unwrap();
    assert_eq!(rows[19_999].as_ref().unwrap().id, "19999");
    let read = src.progress().bytes;
    assert!(read < size / 4, "read {read} of {size} bytes: the unmapped column was decoded");
    // metadata: ["*"] reads everything
    let mut src = open(&path, FieldMapping { metadata: vec!["*".into()], ..Default::default() }, json!({}));
    let rows = drain(src.as_mut(), 4096).unwrap();
    assert_eq!(rows[0].as_ref().unwrap().metadata.as_ref().unwrap().len(), 2);
    assert!(src.progress().bytes > size * 9 / 10);
}

#[test]
fn truncated_file_is_a_parse_error() {
    let path = rich_file("truncated");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = open_err(&path, rich_mapping(), json!({}));
    assert_eq!(e.code, AdapterErrorCode::Parse, "{e}");
    assert_eq!(e.position.source, path.to_string_lossy());
}

#[test]
fn corrupt_footer_is_a_parse_error() {
    let path = rich_file("footer");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    let meta_len = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    for b in &mut bytes[n - 8 - meta_len..n - 8 - meta_len / 2] {
        *b = 0xAB;
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = open_err(&path, rich_mapping(), json!({}));
    assert_eq!(e.code, AdapterErrorCode::Parse, "{e}");
    assert!(e.message.contains("not a readable Parquet file"), "{e}");
}

#[test]
fn corrupt_page_fails_the_stream_with_its_row() {
    let path = temp_path("page", "page.parquet");
    let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, false)]));
    let text = StringArray::from_iter_values((0..2000).map(|i| format!("some text for row number {i}")));
    write(&path, &[RecordBatch::try_new(schema, vec![Arc::new(text)]).unwrap()], 1000, Compression::SNAPPY);
    // smash the second row group's data (between its first byte and the footer)
    let file = parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let rg = parquet::file::reader::FileReader::metadata(&file).row_group(1).column(0).byte_range();
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[rg.0 as usize + 40..(rg.0 + rg.1) as usize] {
        *b = 0x5A;
    }
    std::fs::write(&path, &bytes).unwrap();
    let mut src = open(&path, FieldMapping { text: vec!["text".into()], ..Default::default() }, json!({}));
    let mut rows = 0;
    let e = loop {
        match src.next_batch(500) {
            Ok(Some(b)) => rows += b.len(),
            Ok(None) => panic!("corrupt data must not decode"),
            Err(e) => break e,
        }
    };
    assert_eq!(rows, 1000, "the first row group is intact");
    assert_eq!(e.code, AdapterErrorCode::Parse, "{e}");
    assert_eq!(e.position.row, Some(1000));
}

#[test]
fn wrong_vector_type_and_missing_columns_are_invalid_arg() {
    let path = rich_file("mapping");
    let e = open_err(&path, FieldMapping { vector: Some("title".into()), ..Default::default() }, json!({}));
    assert_eq!((e.code, e.position.field.as_deref()), (AdapterErrorCode::InvalidArg, Some("title")));
    assert!(e.message.contains("vector column 'title'"), "{e}");
    let e = open_err(&path, FieldMapping { id: Some("uuid".into()), ..Default::default() }, json!({}));
    assert_eq!((e.code, e.position.field.as_deref()), (AdapterErrorCode::InvalidArg, Some("uuid")));
    assert!(e.message.contains("column 'uuid' not found") && e.message.contains("'emb_list'"), "{e}");
    let e = open_err(&path, FieldMapping { metadata: vec!["tags.first".into()], ..Default::default() }, json!({}));
    assert!(e.message.contains("'tags' is a list"), "{e}");
    // a list index is a valid path
    let rows = drain(open(&path, FieldMapping { metadata: vec!["tags.1".into()], ..Default::default() }, json!({})).as_mut(), 30).unwrap();
    assert_eq!(rows[2].as_ref().unwrap().metadata.as_ref().unwrap()["tags.1"], json!("t1"));
}

#[test]
fn missing_file_directory_other_formats_and_bad_options() {
    let path = rich_file("paths");
    let dir = path.parent().unwrap();
    assert_eq!(open_err(&dir.join("nope.parquet"), FieldMapping::default(), json!({})).code, AdapterErrorCode::NotFound);
    assert_eq!(open_err(dir, FieldMapping::default(), json!({})).code, AdapterErrorCode::InvalidArg);
    let csv = dir.join("data.csv");
    std::fs::write(&csv, "id,title\n1,hello\n").unwrap();
    assert_eq!(open_err(&csv, FieldMapping::default(), json!({})).code, AdapterErrorCode::Parse);
    let e = open_err(&path, FieldMapping::default(), json!({ "rowGroups": [3] }));
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert!(e.message.contains("row group 3 does not exist (the file has 3)"), "{e}");
    assert_eq!(open_err(&path, FieldMapping::default(), json!({ "rowGroups": [1, 1] })).code, AdapterErrorCode::InvalidArg);
    assert_eq!(open_err(&path, FieldMapping::default(), json!({ "batchSize": 0 })).code, AdapterErrorCode::InvalidArg);
    let e = open_err(&path, FieldMapping::default(), json!({ "columns": ["a"] }));
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert!(e.message.contains("columns"), "{e}");
}

#[test]
fn empty_mapping_still_counts_rows() {
    let path = rich_file("nocols");
    let rows = drain(open(&path, FieldMapping::default(), json!({})).as_mut(), 8).unwrap();
    assert_eq!(rows.len(), 25);
    assert_eq!(rows[24].as_ref().unwrap().id, format!("{}:24", path.to_string_lossy()));
}

/// Throughput of 100k x 384 float32 vectors with an id and a text column. Run with
/// `cargo test --release -p hektor-source-parquet -- --ignored --nocapture throughput`.
#[test]
#[ignore]
fn throughput_100k_x_384() {
    let n = 100_000;
    let dim = 384;
    let path = temp_path("throughput", "vectors.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
        Field::new("vector", DataType::new_fixed_size_list(DataType::Float32, dim, false), false),
    ]));
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut w = ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema.clone(), Some(props)).unwrap();
    for b in 0..(n / 10_000) {
        let ids = StringArray::from_iter_values((0..10_000).map(|i| format!("doc-{}", b * 10_000 + i)));
        let text = StringArray::from_iter_values((0..10_000).map(|i| format!("a short passage of text for document {}", b * 10_000 + i)));
        // embedding-like values (no repetition for the encoder to exploit)
        let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ b as u64;
        let values = Float32Array::from_iter_values((0..10_000 * dim).map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        }));
        let v = FixedSizeListArray::new(Arc::new(Field::new("item", DataType::Float32, false)), dim, Arc::new(values), None);
        w.write(&RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(text), Arc::new(v)]).unwrap()).unwrap();
    }
    w.close().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let full = FieldMapping { id: Some("id".into()), text: vec!["text".into()], vector: Some("vector".into()), ..Default::default() };
    let vector_only = FieldMapping { vector: Some("vector".into()), ..Default::default() };
    for (what, mapping) in [("id + text + vector", &full), ("vector only", &vector_only), ("id + text + vector", &full)] {
        let start = std::time::Instant::now();
        let mut src = open(&path, mapping.clone(), json!({}));
        let mut rows = 0;
        while let Some(b) = src.next_batch(1000).unwrap() {
            rows += b.rows.iter().filter(|r| r.is_ok()).count();
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(rows, n);
        println!(
            "{what}: {n} rows x {dim} dims in {secs:.3} s = {:.0} rows/s, {:.0} MB/s of file ({:.0} MB)",
            n as f64 / secs,
            size as f64 / secs / 1e6,
            size as f64 / 1e6
        );
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn pyarrow_written_file() {
    // pyarrow 26: row groups of 16, 16, 16, 2; string_view, tz-aware timestamp[ns],
    // dictionary, map, decimal, fixed_size_list<float32> and <float16> columns
    let path = pyarrow_fixture("t.parquet");
    let mut src = open(&path, pyarrow_mapping(), json!({}));
    assert_eq!(src.progress().total_rows, Some(50));
    let rows = drain(src.as_mut(), 10).unwrap();
    assert_eq!(rows.len(), 50);
    for (i, r) in rows.iter().enumerate() {
        check_pyarrow_record(r.as_ref().unwrap(), i);
    }
    let rows = drain(open(&path, pyarrow_mapping(), json!({ "rowGroups": [3] })).as_mut(), 10).unwrap();
    check_pyarrow_record(rows[1].as_ref().unwrap(), 49);
}
