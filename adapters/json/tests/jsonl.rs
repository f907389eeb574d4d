//! The `jsonl` source against files written by `serde_json` (and flate2 for gzip).

mod common;

use std::io::Write;

use common::*;
use hektor_adapters_api::FieldMapping;
use serde_json::json;

fn write_lines(w: &mut impl Write, n: usize, blank_every: usize, eol: &str) {
    for i in 0..n {
        let rec = json!({
            "id": i, "text": format!("line {i}"), "vec": [i as f64, 0.5],
            "meta": { "lang": "en", "score": i as f64 / 4.0, "ok": i % 2 == 0 }
        });
        serde_json::to_writer(&mut *w, &rec).unwrap();
        w.write_all(eol.as_bytes()).unwrap();
        if blank_every > 0 && i % blank_every == 0 {
            w.write_all(b"   ").unwrap();
            w.write_all(eol.as_bytes()).unwrap();
        }
    }
}

#[test]
fn lines_with_blanks_crlf_and_gzip() {
    let plain = tmp("plain.jsonl");
    write_lines(&mut std::fs::File::create(&plain).unwrap(), 7, 3, "\r\n");
    let gz = tmp("packed.ndjson.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    write_lines(&mut enc, 7, 3, "\n");
    enc.finish().unwrap();
    for path in [&plain, &gz] {
        let m = map("id", &["text"], Some("vec"), &["meta.lang", "meta.score", "meta.ok"]);
        let mut src = hektor_source_json::open(&spec("jsonl", path, json!({}), m)).unwrap();
        let rows = drain(src.as_mut(), 3);
        assert_eq!(rows.len(), 7, "blank lines are not records");
        let r = rows[6].as_ref().unwrap();
        assert_eq!((r.id.as_str(), r.text.as_deref(), r.vector.clone()), ("6", Some("line 6"), Some(vec![6.0, 0.5])));
        let md = r.metadata.as_ref().unwrap();
        assert_eq!((&md["meta.lang"], &md["meta.score"], &md["meta.ok"]), (&json!("en"), &json!(1.5), &json!(true)));
        let p = src.progress();
        let size = std::fs::metadata(path).unwrap().len();
        assert_eq!((p.rows, p.bytes, p.total_bytes), (7, size, Some(size)));
    }
}

#[test]
fn malformed_line_is_a_parse_error_at_its_record_and_byte() {
    let path = tmp("bad.jsonl");
    let mut buf = Vec::new();
    write_lines(&mut buf, 5, 0, "\n");
    let mut text = String::from_utf8(buf).unwrap();
    text.insert(0, '\n'); // a blank first line
    let line3 = text.match_indices('\n').nth(2).unwrap().0 + 1; // record 2 (line 4)
    let brace = line3 + text[line3..].find("\"lang\"").unwrap() - 1;
    text.replace_range(brace..brace + 1, ""); // remove the '{' of the nested object
    std::fs::write(&path, &text).unwrap();
    let mut src = hektor_source_json::open(&spec("jsonl", &path, json!({}), map("id", &[], None, &[]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    assert_eq!(rows.len(), 5);
    let e = rows[2].as_ref().unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_PARSE", Some(2)));
    let byte = e.position.byte.unwrap() as usize;
    assert!(byte > line3 && byte < line3 + text[line3..].find('\n').unwrap(), "byte {byte} inside line at {line3}");
    assert!(e.message.contains("line 4"), "{}", e.message);
    assert!(rows[3].is_ok() && rows[4].is_ok());
}

#[test]
fn non_object_lines_and_deep_nesting() {
    let path = tmp("kinds.jsonl");
    let deep = format!("{{\"id\": 3, \"x\": {}1{}}}", "[".repeat(200), "]".repeat(200));
    std::fs::write(&path, format!("{{\"id\": 1}}\n[1, 2]\n\"text\"\n{deep}\n{{\"id\": 5}}")).unwrap();
    let mut src = hektor_source_json::open(&spec("jsonl", &path, json!({}), map("id", &[], None, &[]))).unwrap();
    let rows = drain(src.as_mut(), 10);
    let codes: Vec<_> = rows.iter().map(|r| r.as_ref().err().map(|e| e.code.as_str())).collect();
    assert_eq!(codes, vec![None, Some("ERR_INVALID_ARG"), Some("ERR_INVALID_ARG"), Some("ERR_LIMIT"), None]);
    assert!(rows[1].as_ref().unwrap_err().message.contains("an array, expected an object"));
    assert_eq!(rows[4].as_ref().unwrap().id, "5", "a last line without newline is read");

    // A JSON array given as jsonl gets a hint.
    let arr = tmp("array.jsonl");
    serde_json::to_writer_pretty(std::fs::File::create(&arr).unwrap(), &json!([{ "id": 1 }])).unwrap();
    let mut src = hektor_source_json::open(&spec("jsonl", &arr, json!({}), FieldMapping::default())).unwrap();
    let e = src.next_batch(10).unwrap().unwrap().rows.remove(0).unwrap_err();
    assert!(e.message.contains("use kind 'json'"), "{}", e.message);
}

#[test]
fn truncated_gzip_long_lines_and_missing_files_end_the_stream() {
    let gz = tmp("cut.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    write_lines(&mut enc, 30_000, 0, "\n");
    let bytes = enc.finish().unwrap();
    std::fs::write(&gz, &bytes[..bytes.len() / 2]).unwrap();
    let mut src = hektor_source_json::open(&spec("jsonl", &gz, json!({}), map("id", &[], None, &[]))).unwrap();
    let (rows, e) = drain_until_error(src.as_mut(), 1000);
    assert!(!rows.is_empty() && rows.len() < 30_000);
    assert_eq!(e.code.as_str(), "ERR_PARSE");
    assert!(e.position.row.unwrap() >= rows.len() as u64 - 1 && e.position.byte.is_some());

    let long = tmp("long.jsonl");
    std::fs::write(&long, format!("{{\"id\": 1}}\n{{\"id\": 2, \"t\": \"{}\"}}\n", "y".repeat(300_000))).unwrap();
    let mut src = hektor_source_json::open(&spec("jsonl", &long, json!({ "maxRecordBytes": 65536 }), map("id", &[], None, &[]))).unwrap();
    let (rows, e) = drain_until_error(src.as_mut(), 10);
    assert_eq!(rows.len(), 1);
    assert_eq!((e.code.as_str(), e.position.row, e.position.byte), ("ERR_LIMIT", Some(1), Some(10)));

    let e = hektor_source_json::open(&spec("jsonl", &tmp("nope.jsonl"), json!({}), FieldMapping::default())).err().unwrap();
    assert_eq!(e.code.as_str(), "ERR_NOT_FOUND");
    let e = hektor_source_json::open(&spec("jsonl", &long, json!({ "pointer": "/x" }), FieldMapping::default())).err().unwrap();
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG", "jsonl has no pointer option");
}
