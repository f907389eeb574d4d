//! The `csv` source against files written by the `csv` crate's own writer (and flate2 for
//! gzip); corruptions are made by editing those files.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use hektor_adapters_api::{AdapterError, FieldMapping, Source, SourceRecord, SourceSpec};
use serde_json::json;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hektor-csv-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn spec(path: &Path, options: serde_json::Value, mapping: FieldMapping) -> SourceSpec {
    SourceSpec { kind: "csv".into(), location: path.to_string_lossy().into_owned(), options, mapping }
}

fn map(id: &str, text: &[&str], vector: Option<&str>, metadata: &[&str]) -> FieldMapping {
    FieldMapping {
        id: (!id.is_empty()).then(|| id.to_string()),
        text: text.iter().map(|s| s.to_string()).collect(),
        vector: vector.map(str::to_string),
        metadata: metadata.iter().map(|s| s.to_string()).collect(),
    }
}

/// All rows of a source, batch by batch, checking the batch bound.
fn drain(src: &mut dyn Source, max: usize) -> Vec<Result<SourceRecord, AdapterError>> {
    let mut out = Vec::new();
    while let Some(b) = src.next_batch(max).unwrap() {
        assert!(!b.is_empty() && b.len() <= max, "batch of {} rows with max {max}", b.len());
        out.extend(b.rows);
    }
    out
}

fn write_csv(path: &PathBuf, rows: &[&[&str]]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    for r in rows {
        w.write_record(*r).unwrap();
    }
    w.flush().unwrap();
}

#[test]
fn happy_path_all_fields_types_and_progress() {
    let path = tmp("happy.csv");
    write_csv(
        &path,
        &[
            &["id", "title", "body", "emb", "year", "score", "ok", "zip", "meta", "note", "title"],
            &[
                "a1",
                "First",
                "Body, with \"quotes\"\nand a newline",
                "[0.5, -1, 2e-1]",
                "2021",
                "4.5",
                "TRUE",
                "02134",
                r#"{"author":{"name":"Ann"},"tags":["x","y"]}"#,
                "",
                "dup",
            ],
            &["a2", "Second", "", "[1,2,3]", "1999", "-0.25", "false", "10001", r#"{"author":{"name":"Bob"}}"#, "n", "dup2"],
        ],
    );
    let size = std::fs::metadata(&path).unwrap().len();
    let m = map("id", &["title", "body"], Some("emb"), &["year", "score", "ok", "zip", "meta.author.name", "note", "title.1"]);
    let mut src = hektor_source_csv::open(&spec(&path, json!({ "types": { "meta": "json" } }), m)).unwrap();
    assert_eq!(src.progress().total_bytes, Some(size));
    let rows = drain(src.as_mut(), 10);
    assert_eq!(rows.len(), 2);
    let r = rows[0].as_ref().unwrap();
    assert_eq!(r.id, "a1");
    assert_eq!(r.text.as_deref(), Some("First\n\nBody, with \"quotes\"\nand a newline"));
    assert_eq!(r.vector, Some(vec![0.5, -1.0, 0.2]));
    let md = r.metadata.as_ref().unwrap();
    assert_eq!(md["year"], json!(2021));
    assert_eq!(md["score"], json!(4.5));
    assert_eq!(md["ok"], json!(true));
    assert_eq!(md["zip"], json!("02134"), "leading zeros stay text");
    assert_eq!(md["meta.author.name"], json!("Ann"), "dotted path into a json column");
    assert_eq!(md["note"], json!(null), "empty cell is null");
    assert_eq!(md["title.1"], json!("dup"), "a repeated header name gets .1");
    let r = rows[1].as_ref().unwrap();
    assert_eq!(r.text.as_deref(), Some("Second"), "a null text part is left out");
    assert_eq!(r.vector.as_ref().map(Vec::len), Some(3));
    let p = src.progress();
    assert_eq!((p.rows, p.bytes, p.total_bytes), (2, size, Some(size)));
    assert!(src.next_batch(10).unwrap().is_none(), "stays at the end");
}

#[test]
fn gzip_tsv_without_header_with_separator_preamble_and_comments() {
    let path = tmp("plain.tsv.gz");
    let mut w = csv::WriterBuilder::new()
        .delimiter(b'\t')
        .flexible(true)
        .from_writer(GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::default()));
    // A preamble line the reader must skip, then comments and data.
    w.write_record(["exported by tool v2"]).unwrap();
    w.write_record(["# a comment"]).unwrap();
    for i in 0..5 {
        w.write_record([format!("k{i}"), format!("text {i}"), format!("{i} {}.5", i), "x".into()]).unwrap();
    }
    w.into_inner().unwrap().finish().unwrap();
    let opts = json!({ "header": false, "columns": ["key", "txt", "vec", "flag"], "vectorSeparator": " ", "skipRows": 1, "comment": "#", "inferTypes": false });
    let mut src = hektor_source_csv::open(&spec(&path, opts, map("key", &["txt"], Some("vec"), &["*"]))).unwrap();
    let rows = drain(src.as_mut(), 2);
    assert_eq!(rows.len(), 5);
    let r = rows[3].as_ref().unwrap();
    assert_eq!(r.id, "k3");
    assert_eq!(r.vector, Some(vec![3.0, 3.5]));
    assert_eq!(r.metadata.as_ref().unwrap(), json!({ "flag": "x" }).as_object().unwrap(), "* keeps the unmapped columns");
    let p = src.progress();
    assert_eq!(p.bytes, std::fs::metadata(&path).unwrap().len(), "progress counts compressed bytes");

    // Positional names without `columns`; a generated id names file and row.
    let mut src =
        hektor_source_csv::open(&spec(&path, json!({ "header": false, "skipRows": 1, "comment": "#" }), map("", &["1"], None, &["0"])))
            .unwrap();
    let rows = drain(src.as_mut(), 100);
    let r = rows[4].as_ref().unwrap();
    assert_eq!(r.id, format!("{}:4", path.display()));
    assert_eq!(r.metadata.as_ref().unwrap()["0"], json!("k4"));
}

#[test]
fn bom_quote_escape_trim_and_null_values() {
    let path = tmp("excel.csv");
    let mut body = b"\xef\xbb\xbf".to_vec();
    let mut w = csv::WriterBuilder::new().delimiter(b';').quote(b'\'').escape(b'\\').double_quote(false).from_writer(Vec::new());
    w.write_record(["id", " name ", "v"]).unwrap();
    w.write_record(["1", "it's ; here", "NA"]).unwrap();
    w.write_record(["2", "  spaced  ", "3"]).unwrap();
    body.extend(w.into_inner().unwrap());
    std::fs::write(&path, body).unwrap();
    let opts = json!({ "delimiter": ";", "quote": "'", "escape": "\\", "trim": true, "nullValues": ["NA", ""] });
    let mut src = hektor_source_csv::open(&spec(&path, opts, map("id", &["name"], None, &["v"]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    let r0 = rows[0].as_ref().unwrap();
    assert_eq!(r0.id, "1", "the byte-order mark is not part of the first column name");
    assert_eq!(r0.text.as_deref(), Some("it's ; here"));
    assert_eq!(r0.metadata.as_ref().unwrap()["v"], json!(null));
    let r1 = rows[1].as_ref().unwrap();
    assert_eq!(r1.text.as_deref(), Some("spaced"));
    assert_eq!(r1.metadata.as_ref().unwrap()["v"], json!(3));
}

#[test]
fn ragged_row_is_a_parse_error_at_its_row_and_byte_and_reading_goes_on() {
    let path = tmp("ragged.csv");
    let mut w = csv::WriterBuilder::new().flexible(true).from_path(&path).unwrap();
    w.write_record(["id", "text"]).unwrap();
    w.write_record(["1", "one"]).unwrap();
    w.write_record(["2", "two", "extra"]).unwrap();
    w.write_record(["3", "three"]).unwrap();
    w.flush().unwrap();
    let content = std::fs::read_to_string(&path).unwrap();
    let byte = content.find("2,two").unwrap() as u64;
    let mut src = hektor_source_csv::open(&spec(&path, json!({}), map("id", &["text"], None, &[]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    assert_eq!(rows.len(), 3);
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!(e.code.as_str(), "ERR_PARSE");
    assert_eq!((e.position.row, e.position.byte), (Some(1), Some(byte)));
    assert!(e.message.contains("3 fields, expected 2") && e.message.contains("line 3"), "{}", e.message);
    assert_eq!(e.position.source, path.to_string_lossy());
    assert_eq!(rows[2].as_ref().unwrap().id, "3");
}

#[test]
fn invalid_utf8_is_a_parse_error_naming_row_byte_and_column() {
    let path = tmp("latin1.csv");
    write_csv(&path, &[&["id", "name"], &["1", "ok"], &["2", "caf\u{e9}"]]);
    // Re-encode the é as Latin-1, as a mis-exported file would have it.
    let bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(2).position(|w| w == [0xc3, 0xa9]).unwrap();
    let mut bad = bytes[..at].to_vec();
    bad.push(0xe9);
    bad.extend(&bytes[at + 2..]);
    std::fs::write(&path, &bad).unwrap();
    let record_start = bad.windows(2).position(|w| w == b"2,").unwrap() as u64;
    let mut src = hektor_source_csv::open(&spec(&path, json!({}), map("id", &["name"], None, &[]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!(e.code.as_str(), "ERR_PARSE");
    assert_eq!(e.position.row, Some(1));
    assert_eq!(e.position.byte, Some(record_start));
    assert_eq!(e.position.field.as_deref(), Some("name"));
    assert!(e.message.contains("byte 3 of the field"), "{}", e.message);

    let e = hektor_source_csv::open(&spec(&path, json!({ "encoding": "latin1" }), FieldMapping::default())).err().unwrap();
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert!(e.message.contains("only UTF-8"));
}

#[test]
fn wrong_types_are_invalid_arg_on_the_field() {
    let path = tmp("types.csv");
    write_csv(
        &path,
        &[&["id", "n", "emb", "flag"], &["1", "12", "[1, 2]", "yes"], &["2", "twelve", "[1, 2]", "no"], &["3", "5", "[1, oops]", "0"]],
    );
    let opts = json!({ "types": { "n": "integer", "flag": "boolean" } });
    let mut src = hektor_source_csv::open(&spec(&path, opts, map("id", &[], Some("emb"), &["n", "flag"]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    let r = rows[0].as_ref().unwrap();
    assert_eq!(r.metadata.as_ref().unwrap()["flag"], json!(true));
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row, e.position.field.as_deref()), ("ERR_INVALID_ARG", Some(1), Some("n")));
    assert!(e.message.contains("'twelve' is not an integer"), "{}", e.message);
    let e = rows[2].as_ref().unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row, e.position.field.as_deref()), ("ERR_INVALID_ARG", Some(2), Some("emb")));
    assert!(e.message.contains("element 1 ('oops')"), "{}", e.message);
}

#[test]
fn bad_options_and_mapping_fail_at_open() {
    let path = tmp("opts.csv");
    write_csv(&path, &[&["id", "title"], &["1", "x"]]);
    let code = |opts: serde_json::Value, m: FieldMapping| {
        hektor_source_csv::open(&spec(&path, opts, m)).err().map(|e| (e.code.as_str(), e.position.field, e.message))
    };
    let (c, _, msg) = code(json!({ "delimeter": ";" }), FieldMapping::default()).unwrap();
    assert_eq!(c, "ERR_INVALID_ARG");
    assert!(msg.contains("delimeter"), "{msg}");
    assert_eq!(code(json!({ "delimiter": "::" }), FieldMapping::default()).unwrap().0, "ERR_INVALID_ARG");
    assert_eq!(code(json!({ "types": { "titel": "string" } }), FieldMapping::default()).unwrap().0, "ERR_INVALID_ARG");
    assert_eq!(code(json!({ "types": { "title": "float" } }), FieldMapping::default()).unwrap().0, "ERR_INVALID_ARG");
    assert_eq!(code(json!({ "columns": ["a"] }), FieldMapping::default()).unwrap().0, "ERR_INVALID_ARG");
    let (c, field, msg) = code(json!({}), map("id", &["titel"], None, &[])).unwrap();
    assert_eq!((c, field.as_deref()), ("ERR_INVALID_ARG", Some("titel")));
    assert!(msg.contains("columns: id, title"), "{msg}");
    let missing = tmp("does-not-exist.csv");
    let e = hektor_source_csv::open(&spec(&missing, json!({}), FieldMapping::default())).err().unwrap();
    assert_eq!(e.code.as_str(), "ERR_NOT_FOUND");
    assert_eq!(e.position.source, missing.to_string_lossy());
}

#[test]
fn truncated_gzip_ends_the_stream_with_a_parse_error() {
    let path = tmp("cut.csv.gz");
    let mut w = csv::Writer::from_writer(GzEncoder::new(Vec::new(), flate2::Compression::default()));
    w.write_record(["id", "text"]).unwrap();
    for i in 0..20_000 {
        w.write_record([i.to_string(), format!("row number {i} with some words to compress {}", i * 7919 % 1000)]).unwrap();
    }
    let gz = w.into_inner().unwrap().finish().unwrap();
    std::fs::write(&path, &gz[..gz.len() * 2 / 3]).unwrap();
    let mut src = hektor_source_csv::open(&spec(&path, json!({}), map("id", &["text"], None, &[]))).unwrap();
    let mut ok = 0;
    let err = loop {
        match src.next_batch(1000) {
            Ok(Some(b)) => ok += b.rows.iter().filter(|r| r.is_ok()).count(),
            Ok(None) => panic!("a truncated gzip file must not end quietly"),
            Err(e) => break e,
        }
    };
    assert!(ok > 0 && ok < 20_000);
    assert_eq!(err.code.as_str(), "ERR_PARSE");
    assert!(err.position.row.is_some() && err.position.byte.is_some());
    assert!(src.next_batch(1000).unwrap().is_none());
}

#[test]
fn an_unclosed_quote_hits_the_record_limit() {
    let path = tmp("unclosed.csv");
    write_csv(&path, &[&["id", "text"], &["1", "fine"]]);
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"2,\"never closed\n").unwrap();
    for i in 0..10_000 {
        writeln!(f, "{i},swallowed by the open quote").unwrap();
    }
    drop(f);
    let mut src = hektor_source_csv::open(&spec(&path, json!({ "maxRecordBytes": 4096 }), map("id", &["text"], None, &[]))).unwrap();
    let b = src.next_batch(10).unwrap().unwrap();
    assert_eq!(b.len(), 1);
    let e = src.next_batch(10).unwrap_err();
    assert_eq!(e.code.as_str(), "ERR_LIMIT");
    assert_eq!(e.position.row, Some(1));
    assert!(e.message.contains("maxRecordBytes"), "{}", e.message);
}

#[test]
fn large_file_streams_in_bounded_batches() {
    let path = tmp("large.csv");
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(["id", "text", "emb"]).unwrap();
    let n = 150_000;
    for i in 0..n {
        w.write_record([format!("id{i}"), format!("document {i}"), format!("[{}, {}, 0.25]", i % 7, i % 3)]).unwrap();
    }
    w.flush().unwrap();
    let mut src = hektor_source_csv::open(&spec(&path, json!({}), map("id", &["text"], Some("emb"), &[]))).unwrap();
    let mut count = 0u64;
    let mut batches = 0;
    while let Some(b) = src.next_batch(4096).unwrap() {
        assert!(b.len() <= 4096);
        for r in &b.rows {
            let r = r.as_ref().unwrap();
            assert_eq!(r.vector.as_ref().unwrap().len(), 3);
        }
        count += b.len() as u64;
        batches += 1;
        let p = src.progress();
        assert_eq!(p.rows, count);
        assert!(p.bytes <= p.total_bytes.unwrap());
    }
    assert_eq!(count, n);
    assert_eq!(batches, n.div_ceil(4096));
    let p = src.progress();
    assert_eq!(p.bytes, p.total_bytes.unwrap());
}
