//! The `json` source against documents written by `serde_json` (and flate2 for gzip);
//! corruptions are made by editing those files.

mod common;

use std::io::Write;

use common::*;
use hektor_adapters_api::FieldMapping;
use serde_json::{json, Value};

fn records(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "id": format!("doc-{i}"),
                "title": format!("Title {i}"),
                "body": if i % 2 == 0 { json!(format!("Body {i} with \"quotes\", ]brackets[ and }}braces{{")) } else { Value::Null },
                "emb": [i as f64 * 0.5, -1.0, 0.25],
                "year": 2000 + i,
                "score": 0.5 + i as f64,
                "draft": i % 3 == 0,
                "tags": ["a", "b"],
                "author": { "name": format!("Author {i}"), "address": { "city": "Oslo" } },
                "missing": null,
            })
        })
        .collect()
}

#[test]
fn top_level_array_all_fields_and_progress() {
    let path = tmp("array.json");
    serde_json::to_writer_pretty(std::fs::File::create(&path).unwrap(), &records(5)).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let m = map("id", &["title", "body"], Some("emb"), &["year", "score", "draft", "tags", "author.address.city", "missing"]);
    let mut src = hektor_source_json::open(&spec("json", &path, json!({}), m)).unwrap();
    let rows = drain(src.as_mut(), 2);
    assert_eq!(rows.len(), 5);
    let r = rows[2].as_ref().unwrap();
    assert_eq!(r.id, "doc-2");
    assert_eq!(r.text.as_deref(), Some("Title 2\n\nBody 2 with \"quotes\", ]brackets[ and }braces{"));
    assert_eq!(r.vector, Some(vec![1.0, -1.0, 0.25]));
    let md = r.metadata.as_ref().unwrap();
    assert_eq!(md["year"], json!(2002));
    assert_eq!(md["score"], json!(2.5));
    assert_eq!(md["draft"], json!(false));
    assert_eq!(md["tags"], json!(["a", "b"]));
    assert_eq!(md["author.address.city"], json!("Oslo"));
    assert_eq!(md["missing"], json!(null));
    assert_eq!(rows[1].as_ref().unwrap().text.as_deref(), Some("Title 1"));
    let p = src.progress();
    assert_eq!((p.rows, p.bytes, p.total_bytes), (5, size, Some(size)));
    assert!(src.next_batch(2).unwrap().is_none());

    // `*` keeps every unmapped field, nested ones as nested objects.
    let mut src = hektor_source_json::open(&spec("json", &path, json!({}), map("id", &["title"], None, &["*"]))).unwrap();
    let r = drain(src.as_mut(), 100).remove(0).unwrap();
    let md = r.metadata.unwrap();
    assert_eq!(md["author"]["address"]["city"], json!("Oslo"));
    assert!(!md.contains_key("id") && !md.contains_key("title") && md.contains_key("emb"));
}

#[test]
fn pointer_skips_to_nested_arrays_in_plain_and_gzip_files() {
    let doc = json!({
        "meta": { "skipped": records(50), "note": "a string with [brackets] and {braces}" },
        "a/b": { "items": records(2) },
        "pages": [ { "items": [] }, { "items": records(3) } ],
        "data": { "items": records(4), "after": [1, 2, 3] },
        "trailer": true
    });
    let plain = tmp("pointer.json");
    serde_json::to_writer(std::fs::File::create(&plain).unwrap(), &doc).unwrap();
    let gz = tmp("pointer.json.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    serde_json::to_writer_pretty(&mut enc, &doc).unwrap();
    enc.finish().unwrap();
    for path in [&plain, &gz] {
        for (pointer, n) in [("/data/items", 4), ("/pages/1/items", 3), ("/a~1b/items", 2), ("/pages/0/items", 0)] {
            let mut src =
                hektor_source_json::open(&spec("json", path, json!({ "pointer": pointer }), map("id", &["title"], Some("emb"), &[])))
                    .unwrap();
            let rows = drain(src.as_mut(), 3);
            assert_eq!(rows.len(), n, "{pointer} in {}", path.display());
            if n > 0 {
                assert_eq!(rows[n - 1].as_ref().unwrap().id, format!("doc-{}", n - 1));
            }
        }
    }
}

#[test]
fn malformed_and_non_object_elements_are_row_errors_and_reading_goes_on() {
    let path = tmp("bad-rows.json");
    let mut text = serde_json::to_string_pretty(&records(4)).unwrap();
    // Element k spans from its "\n  {" to the next "\n  }".
    let starts: Vec<usize> = text.match_indices("\n  {").map(|(i, _)| i + 3).collect();
    assert_eq!(starts.len(), 4);
    // Corrupt record 1 (`false` -> `fals`) and make record 3 a bare number.
    let at = starts[1] + text[starts[1]..starts[2]].find("false").unwrap();
    text.replace_range(at..at + 5, "fals");
    let r3 = starts[3] - 1;
    let r3_end = r3 + text[r3..].find("\n  }").unwrap() + 4;
    text.replace_range(r3..r3_end, "42");
    std::fs::write(&path, &text).unwrap();
    let record1_start = (starts[1] - 1) as u64;
    let mut src = hektor_source_json::open(&spec("json", &path, json!({}), map("id", &["title"], None, &[]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    assert_eq!(rows.len(), 4);
    assert!(rows[0].is_ok() && rows[2].is_ok());
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_PARSE", Some(1)));
    let byte = e.position.byte.unwrap();
    assert!(byte > record1_start && byte >= at as u64 && byte <= at as u64 + 5, "error byte {byte}, corruption at {at}");
    let e = rows[3].as_ref().unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_INVALID_ARG", Some(3)));
    assert!(e.message.contains("a number, expected an object"), "{}", e.message);
    assert_eq!(e.position.byte, Some(r3 as u64));
}

#[test]
fn truncated_file_ends_the_stream_with_a_parse_error() {
    let path = tmp("truncated.json");
    let text = serde_json::to_string(&records(20)).unwrap();
    let cut = text.match_indices("\"doc-12\"").next().unwrap().0 + 30;
    std::fs::write(&path, &text[..cut]).unwrap();
    let mut src = hektor_source_json::open(&spec("json", &path, json!({}), map("id", &[], None, &[]))).unwrap();
    let (rows, e) = drain_until_error(src.as_mut(), 5);
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| r.is_ok()));
    assert_eq!(e.code.as_str(), "ERR_PARSE");
    assert_eq!(e.position.row, Some(12));
    assert_eq!(e.position.byte, Some(cut as u64));
    assert!(e.message.contains("truncated"), "{}", e.message);
    assert!(src.next_batch(5).unwrap().is_none());

    // Broken structure between records ends the stream too.
    std::fs::write(&path, r#"[{"id": 1} {"id": 2}]"#).unwrap();
    let mut src = hektor_source_json::open(&spec("json", &path, json!({}), map("id", &[], None, &[]))).unwrap();
    let (rows, e) = drain_until_error(src.as_mut(), 5);
    assert_eq!(rows.len(), 1);
    assert_eq!((e.code.as_str(), e.position.byte), ("ERR_PARSE", Some(11)));
    assert!(e.message.contains("expected ',' or ']'"), "{}", e.message);
}

#[test]
fn documents_that_are_not_arrays_get_hints() {
    let path = tmp("object.json");
    serde_json::to_writer(std::fs::File::create(&path).unwrap(), &json!({ "count": 2, "results": records(2), "facets": [] })).unwrap();
    let e = hektor_source_json::open(&spec("json", &path, json!({}), FieldMapping::default())).err().unwrap();
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert!(e.message.contains("arrays at: ") && e.message.contains("/results") && e.message.contains("/facets"), "{}", e.message);

    let lines = tmp("really-lines.json");
    let mut f = std::fs::File::create(&lines).unwrap();
    for r in records(3) {
        serde_json::to_writer(&mut f, &r).unwrap();
        f.write_all(b"\n").unwrap();
    }
    drop(f);
    let e = hektor_source_json::open(&spec("json", &lines, json!({}), FieldMapping::default())).err().unwrap();
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert!(e.message.contains("use kind 'jsonl'"), "{}", e.message);

    // A pointer that leads nowhere, or to something that is not an array.
    for (pointer, code) in [
        ("/nope", "ERR_NOT_FOUND"),
        ("/results/9", "ERR_NOT_FOUND"),
        ("/count/x", "ERR_NOT_FOUND"),
        ("/count", "ERR_INVALID_ARG"),
        ("results", "ERR_INVALID_ARG"),
    ] {
        let e = hektor_source_json::open(&spec("json", &path, json!({ "pointer": pointer }), FieldMapping::default()))
            .and_then(|mut s| s.next_batch(10).map(|_| ()))
            .unwrap_err();
        assert_eq!(e.code.as_str(), code, "{pointer}: {}", e.message);
    }
}

#[test]
fn open_errors_and_mapping_errors() {
    let missing = tmp("missing.json");
    let e = hektor_source_json::open(&spec("json", &missing, json!({}), FieldMapping::default())).err().unwrap();
    assert_eq!((e.code.as_str(), e.position.source.as_str()), ("ERR_NOT_FOUND", missing.to_str().unwrap()));
    let path = tmp("opts.json");
    serde_json::to_writer(std::fs::File::create(&path).unwrap(), &records(2)).unwrap();
    let e = hektor_source_json::open(&spec("json", &path, json!({ "pointr": "/x" }), FieldMapping::default())).err().unwrap();
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert!(e.message.contains("pointr"));
    // A vector field holding a string is a row error naming the field.
    let mut src = hektor_source_json::open(&spec("json", &path, json!({}), map("id", &[], Some("title"), &[]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row, e.position.field.as_deref()), ("ERR_INVALID_ARG", Some(1), Some("title")));
    // A record larger than maxRecordBytes ends the stream with ERR_LIMIT.
    let big = tmp("big-record.json");
    serde_json::to_writer(
        std::fs::File::create(&big).unwrap(),
        &json!([{ "id": 1 }, { "id": 2, "text": "x".repeat(600_000) }, { "id": 3 }]),
    )
    .unwrap();
    let mut src = hektor_source_json::open(&spec("json", &big, json!({ "maxRecordBytes": 100_000 }), map("id", &[], None, &[]))).unwrap();
    let (rows, e) = drain_until_error(src.as_mut(), 10);
    assert_eq!(rows.len(), 1);
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_LIMIT", Some(1)));
}
