//! Hostile input for the `csv` source: property tests over mutated valid files (seeded from
//! the inputs of `tests/csv.rs`) and arbitrary bytes, plus explicit regression tests for a
//! gzip bomb and a huge field. Every input must give records or hektor errors: no panic,
//! no unbounded memory, no endless stream.

#[path = "../../api/tests/fuzz_support/mod.rs"]
mod support;

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use hektor_adapters_api::{AdapterErrorCode, FieldMapping, SourceSpec};
use proptest::prelude::*;
use serde_json::{json, Value};
use support::*;

#[global_allocator]
static ALLOC: Counting = Counting;

const SEEDS: &[&str] = &[
    "id,title,body,emb,year,score,ok,zip,meta,note\n\
     a1,First,\"Body, with \"\"quotes\"\"\nand a newline\",\"[0.5, -1, 2e-1]\",2021,4.5,TRUE,02134,\"{\"\"author\"\":{\"\"name\"\":\"\"Ann\"\"},\"\"tags\"\":[\"\"x\"\"]}\",\n\
     a2,Second,,\"[1,2,3]\",1999,-0.25,false,10001,\"{\"\"author\"\":{\"\"name\"\":\"\"Bob\"\"}}\",n\n",
    "\u{feff}id;title;emb\r\nx;'it''s; here';1 2 3\r\ny;\\'q\\';\r\n",
    "# preamble\nk1,hello world,0.1 0.2,true\nk2,\"multi\nline\",,0\n",
];

/// (options, mapping) pairs the seeds are read with.
fn setups() -> Vec<(Value, FieldMapping)> {
    let m = |id: &str, text: &[&str], vector: Option<&str>, metadata: &[&str]| FieldMapping {
        id: (!id.is_empty()).then(|| id.to_string()),
        text: text.iter().map(|s| s.to_string()).collect(),
        vector: vector.map(str::to_string),
        metadata: metadata.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        (json!({ "types": { "meta": "json", "year": "integer", "ok": "boolean", "score": "number" } }), m("id", &["title", "body"], Some("emb"), &["*"])),
        (json!({ "delimiter": ";", "quote": "'", "escape": "\\", "trim": true, "nullValues": ["NA", ""], "maxRecordBytes": 4096 }), m("", &[], None, &["*"])),
        (json!({ "header": false, "columns": ["key", "txt", "vec", "flag"], "vectorSeparator": " ", "skipRows": 1, "comment": "#", "inferTypes": false }), m("key", &["txt"], Some("vec"), &["flag"])),
        (json!({ "header": false, "types": { "0": "vector", "1": "json" } }), m("", &[], None, &["*"])),
    ]
}

fn read(dir: &TempDir, bytes: &[u8], setup: usize, name: &str) -> Outcome {
    let (options, mapping) = setups().swap_remove(setup % 4);
    let path = dir.write(name, bytes);
    let spec = SourceSpec { kind: "csv".into(), location: loc(&path), options, mapping };
    let out = drain(|| hektor_source_csv::open(&spec), 7, 100_000);
    let _ = std::fs::remove_file(&path);
    out
}

proptest! {
    #![proptest_config(config(768))]

    /// Mutated valid files: records or errors, never a panic.
    #[test]
    fn mutated_files(seed in 0..SEEDS.len(), setup in 0..4usize, edits in edits(8), gz in any::<bool>()) {
        let dir = TempDir::new("csv");
        let mut bytes = mutate(SEEDS[seed].as_bytes(), &edits);
        if gz {
            // a gzip stream, itself possibly cut short
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(&bytes).unwrap();
            let z = e.finish().unwrap();
            let cut = edits.len() % 3 == 0;
            bytes = if cut { z[..z.len() * 2 / 3].to_vec() } else { z };
        }
        let out = read(&dir, &bytes, setup, if gz { "m.csv.gz" } else { "m.csv" });
        if let Some(e) = &out.end {
            prop_assert!(!e.message.is_empty());
        }
    }

    /// Arbitrary bytes.
    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600), setup in 0..4usize) {
        let dir = TempDir::new("csv-any");
        read(&dir, &bytes, setup, "a.csv");
    }

    /// A gzip file cut anywhere is an error (the csv text itself cannot show truncation).
    #[test]
    fn truncated_gzip_is_an_error(cut in 1usize..10_000) {
        let dir = TempDir::new("csv-gz");
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        for _ in 0..20 {
            e.write_all(SEEDS[0].as_bytes()).unwrap();
        }
        let z = e.finish().unwrap();
        let cut = 10 + cut % (z.len() - 10);
        let out = read(&dir, &z[..cut], 1, "t.csv.gz");
        prop_assert!(out.end.as_ref().is_some_and(|e| e.code == AdapterErrorCode::Parse), "{:?}", out.end);
    }
}

/// A member of gzip holding `n` zero bytes, made once and repeated: 32 members of 64 MiB
/// decompress to 2 GiB from about 2 MB of file.
pub fn gzip_bomb(prefix: &[u8], fill: &[u8], members: usize) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(prefix).unwrap();
    let mut out = e.finish().unwrap();
    let chunk = fill.repeat((1 << 20) / fill.len());
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    for _ in 0..64 {
        e.write_all(&chunk).unwrap();
    }
    let member = e.finish().unwrap();
    for _ in 0..members {
        out.extend_from_slice(&member);
    }
    out
}

#[test]
fn gzip_bomb_of_one_endless_record_stops_at_the_record_limit() {
    let _x = exclusive();
    let dir = TempDir::new("csv-bomb");
    let path = dir.write("bomb.csv.gz", &gzip_bomb(b"id,text\n1,", &[0], 32));
    let spec = SourceSpec { kind: "csv".into(), location: loc(&path), options: json!({}), mapping: FieldMapping::default() };
    let (out, peak) = heap_peak(|| drain(|| hektor_source_csv::open(&spec), 100, 1000));
    let e = out.end.expect("an error");
    assert_eq!(e.code, AdapterErrorCode::Limit, "{e}");
    assert!(e.message.contains("maxRecordBytes"), "{e}");
    eprintln!("csv gzip bomb (2 GiB of zeros in one record): {e}; heap peak {} MiB", peak / MIB);
    assert!(peak < 96 * MIB, "heap peak {peak}");
}

#[test]
fn gzip_bomb_of_many_rows_streams_in_bounded_batches() {
    let _x = exclusive();
    let dir = TempDir::new("csv-bomb-rows");
    let path = dir.write("rows.csv.gz", &gzip_bomb(b"id,text\n", b"7,x\n", 32));
    let spec = SourceSpec { kind: "csv".into(), location: loc(&path), options: json!({}), mapping: FieldMapping::default() };
    let (seen, peak) = heap_peak(|| {
        let mut src = hektor_source_csv::open(&spec).unwrap();
        let mut seen = 0;
        for _ in 0..50 {
            seen += src.next_batch(1000).unwrap().unwrap().len();
        }
        assert!(src.progress().bytes < 4 << 20, "read ahead {} bytes", src.progress().bytes);
        seen
    });
    assert_eq!(seen, 50_000);
    eprintln!("csv gzip bomb (512 Mi rows): 50 batches read, heap peak {} MiB", peak / MIB);
    assert!(peak < 32 * MIB, "heap peak {peak}");
}

#[test]
fn a_64_mib_field_is_err_limit_within_bounded_memory() {
    let _x = exclusive();
    let dir = TempDir::new("csv-huge");
    let mut text = b"id,text\n1,short\n2,".to_vec();
    text.resize(text.len() + (64 << 20), b'a');
    text.extend_from_slice(b"\n3,after\n");
    let path = dir.write("huge.csv", &text);
    drop(text);
    let spec = SourceSpec { kind: "csv".into(), location: loc(&path), options: json!({}), mapping: FieldMapping::default() };
    let (out, peak) = heap_peak(|| drain(|| hektor_source_csv::open(&spec), 100, 1000));
    assert_eq!(out.ok, 1);
    let e = out.end.expect("an error");
    assert_eq!((e.code, e.position.row), (AdapterErrorCode::Limit, Some(1)), "{e}");
    eprintln!("csv 64 MiB field: {e}; heap peak {} MiB", peak / MIB);
    assert!(peak < 96 * MIB, "heap peak {peak}");
    // raised limit: read whole
    let spec = SourceSpec { options: json!({ "maxRecordBytes": 100 << 20 }), ..spec };
    let out = drain(|| hektor_source_csv::open(&spec), 100, 1000);
    assert_eq!((out.ok, out.end.map(|e| e.code)), (3, None));
}

#[test]
fn deeply_nested_json_cell_is_a_row_error() {
    let _x = exclusive();
    let dir = TempDir::new("csv-deep");
    let deep = format!("\"{}{}\"", "[".repeat(100_000), "]".repeat(100_000));
    let text = format!("id,meta\n1,{deep}\n2,\"{{\"\"a\"\":1}}\"\n");
    let out = read(&dir, text.as_bytes(), 3, "deep.csv");
    // setup 3 has no header: row 0 is "id,meta"; column 1 is json
    assert!(out.end.is_none(), "{:?}", out.end);
    assert!(out.row_errors.iter().any(|e| e.code == AdapterErrorCode::Parse && e.message.contains("recursion")), "{:?}", out.row_errors);
}
