//! Hostile input for the `json` and `jsonl` sources: property tests over mutated valid
//! documents (seeded like `tests/json.rs` and `tests/jsonl.rs`) and arbitrary bytes, plus
//! regression tests for deep nesting, huge strings and gzip bombs. Every input must give
//! records or hektor errors: no panic, no stack overflow, no unbounded memory.

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

const JSON_SEEDS: &[(&str, &str)] = &[
    (
        r#"[{"id": 1, "title": "A \"quoted\" \u00e9 title", "emb": [0.5, 1.5], "author": {"name": "Ann"}},
  {"id": "two", "title": null, "emb": [], "tags": ["x", {"y": [1, 2, {"z": null}]}]},
  {"id": 3, "title": "x}\"]", "emb": [1e3, -2.5E-2], "n": 18446744073709551615}]"#,
        "",
    ),
    (
        r#"{"meta": {"n": 1, "skip": [[1, [2]], {"a": "]"}]}, "a/b": {"items": [{"id": 9}]},
 "data": {"items": [{"id": 7, "title": "Hello", "emb": [0.5, 1.5]}, {"id": 8, "title": "World"}]},
 "pages": [{"items": []}, {"items": [{"id": 1}, {"id": 2}]}]}"#,
        "/data/items",
    ),
    (r#"{"pages": [{"items": []}, {"items": [{"id": 1}, {"id": 2, "title": "t"}]}]}"#, "/pages/1/items"),
];

const JSONL_SEEDS: &[&str] = &[
    "{\"id\": 1, \"title\": \"a\", \"emb\": [1, 2]}\n\n{\"id\": 2, \"title\": \"b\\nc\", \"author\": {\"name\": \"B\"}}\r\n{\"id\": 3}\n",
    "\u{feff}{\"id\": \"x\", \"title\": [1]}\n[1, 2]\n\"s\"\n{\"id\": \"y\", \"emb\": \"oops\"}",
];

fn mapping() -> FieldMapping {
    FieldMapping { id: Some("id".into()), text: vec!["title".into()], vector: Some("emb".into()), metadata: vec!["*".into()] }
}

fn read(dir: &TempDir, kind: &str, bytes: &[u8], options: Value, name: &str) -> Outcome {
    let path = dir.write(name, bytes);
    let spec = SourceSpec { kind: kind.into(), location: loc(&path), options, mapping: mapping() };
    let out = drain(|| hektor_source_json::open(&spec), 5, 100_000);
    let _ = std::fs::remove_file(&path);
    out
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn mutated_json(seed in 0..JSON_SEEDS.len(), edits in edits(8), small_limit in any::<bool>()) {
        let dir = TempDir::new("json");
        let (text, pointer) = JSON_SEEDS[seed];
        let bytes = mutate(text.as_bytes(), &edits);
        let mut options = json!({ "pointer": pointer });
        if small_limit {
            options["maxRecordBytes"] = json!(64);
        }
        read(&dir, "json", &bytes, options, "m.json");
    }

    #[test]
    fn mutated_jsonl(seed in 0..JSONL_SEEDS.len(), edits in edits(8), zip in any::<bool>()) {
        let dir = TempDir::new("jsonl");
        let mut bytes = mutate(JSONL_SEEDS[seed].as_bytes(), &edits);
        if zip {
            bytes = gz(&bytes);
        }
        read(&dir, "jsonl", &bytes, json!({ "maxRecordBytes": 256 }), if zip { "m.jsonl.gz" } else { "m.jsonl" });
    }

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400), jsonl in any::<bool>()) {
        let dir = TempDir::new("json-any");
        read(&dir, if jsonl { "jsonl" } else { "json" }, &bytes, json!({}), "a.json");
    }

    /// Brackets, quotes and escapes in any order: exercises the structural scanner.
    #[test]
    fn structural_soup(text in "[\\[\\]{}\",:\\\\ a1]{0,200}", pointer in prop_oneof![Just(""), Just("/a"), Just("/0/a")]) {
        let dir = TempDir::new("json-soup");
        read(&dir, "json", text.as_bytes(), json!({ "pointer": pointer }), "s.json");
    }

    /// A valid document cut anywhere before its end is an error, never a silent success.
    #[test]
    fn truncated_json_is_an_error(seed in 0..JSON_SEEDS.len(), cut in any::<usize>()) {
        let dir = TempDir::new("json-cut");
        let (text, pointer) = JSON_SEEDS[seed];
        let text = text.trim_end();
        let cut = cut % text.len();
        let out = read(&dir, "json", &text.as_bytes()[..cut], json!({ "pointer": pointer }), "t.json");
        let e = out.end.as_ref();
        prop_assert!(e.is_some_and(|e| matches!(e.code, AdapterErrorCode::Parse | AdapterErrorCode::NotFound)), "cut at {cut}: {:?}", out);
    }
}

fn deep(open: &str, close: &str, n: usize) -> String {
    format!("{}{}", open.repeat(n), close.repeat(n))
}

#[test]
fn nesting_100k_deep_is_an_error_not_a_stack_overflow() {
    let _x = exclusive();
    let dir = TempDir::new("json-deep");
    let arrays = deep("[", "]", 100_000);
    let objects = deep("{\"a\":", "}", 100_000);
    // as a record: serde_json's recursion limit
    let out = read(&dir, "json", format!("[{{\"id\": 1, \"x\": {arrays}}}, {{\"id\": 2}}]").as_bytes(), json!({}), "r.json");
    assert_eq!(out.ok, 1);
    assert_eq!(out.row_errors[0].code, AdapterErrorCode::Limit, "{:?}", out.row_errors);
    let out = read(&dir, "jsonl", format!("{{\"id\": 1, \"x\": {objects}}}\n{{\"id\": 2}}\n").as_bytes(), json!({}), "r.jsonl");
    assert_eq!((out.ok, out.row_errors[0].code), (1, AdapterErrorCode::Limit));
    // as the document, and as a value skipped on the way to the pointer
    for (doc, pointer) in [
        (arrays.clone(), ""),
        (format!("{{\"skip\": {objects}, \"data\": [{{\"id\": 1}}]}}"), "/data"),
        (format!("{{\"skip\": {arrays}, \"data\": [{{\"id\": 1}}]}}"), "/data"),
        (format!("[{arrays}]"), "/0"),
    ] {
        let (out, peak) = heap_peak(|| read(&dir, "json", doc.as_bytes(), json!({ "pointer": pointer }), "d.json"));
        let e = out.end.as_ref().or(out.row_errors.first()).expect("an error");
        assert!(matches!(e.code, AdapterErrorCode::Limit | AdapterErrorCode::InvalidArg), "{pointer}: {e}");
        assert!(peak < 16 * MIB, "heap peak {peak}");
    }
    // deeper than the scanner's limit but unclosed: still the limit, not a long wait
    let mut bytes = b"{\"skip\": ".to_vec();
    bytes.resize(bytes.len() + (8 << 20), b'[');
    let (out, peak) = heap_peak(|| read(&dir, "json", &bytes, json!({ "pointer": "/data" }), "u.json"));
    let e = out.end.expect("an error");
    assert_eq!(e.code, AdapterErrorCode::Limit, "{e}");
    eprintln!("json 8 Mi '[' skipped on the way to a pointer: {e}; heap peak {} MiB", peak / MIB);
    assert!(peak < 16 * MIB, "heap peak {peak}");
}

#[test]
fn a_64_mib_string_is_err_limit_within_bounded_memory() {
    let _x = exclusive();
    let dir = TempDir::new("json-huge");
    let mut s = "x".repeat(64 << 20);
    for (kind, text) in [
        ("json", format!("[{{\"id\": 1}}, {{\"id\": 2, \"title\": \"{s}\"}}, {{\"id\": 3}}]")),
        ("jsonl", format!("{{\"id\": 1}}\n{{\"id\": 2, \"title\": \"{s}\"}}\n{{\"id\": 3}}\n")),
    ] {
        let (out, peak) = heap_peak(|| read(&dir, kind, text.as_bytes(), json!({}), "h.json"));
        let e = out.end.expect("an error");
        assert_eq!((out.ok, e.code, e.position.row), (1, AdapterErrorCode::Limit, Some(1)), "{kind}: {e}");
        // the text itself (in this test) is 64 MiB of the peak's baseline, not counted
        eprintln!("{kind} 64 MiB string: {e}; heap peak {} MiB", peak / MIB);
        assert!(peak < 96 * MIB, "{kind}: heap peak {peak}");
    }
    s.clear();
    // skipped on the way to the pointer: costs nothing
    let text = format!("{{\"big\": \"{}\", \"data\": [{{\"id\": 1}}]}}", "y".repeat(64 << 20));
    let (out, peak) = heap_peak(|| read(&dir, "json", text.as_bytes(), json!({ "pointer": "/data" }), "s.json"));
    assert_eq!((out.ok, out.end.map(|e| e.code)), (1, None));
    assert!(peak < 16 * MIB, "heap peak {peak}");
}

/// `prefix` then 2 GiB of `fill`, as ~2 MB of gzip (repeated members).
fn gzip_bomb(prefix: &[u8], fill: &[u8]) -> Vec<u8> {
    let mut out = gz(prefix);
    let chunk = fill.repeat((1 << 20) / fill.len());
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    for _ in 0..64 {
        e.write_all(&chunk).unwrap();
    }
    let member = e.finish().unwrap();
    for _ in 0..32 {
        out.extend_from_slice(&member);
    }
    out
}

#[test]
fn gzip_bombs_stop_at_the_record_limit() {
    let _x = exclusive();
    let dir = TempDir::new("json-bomb");
    for (kind, prefix, fill) in [
        ("jsonl", &b"{\"id\": 1}\n"[..], &[0u8][..]),
        ("jsonl", b"{\"id\": 1}\n{\"title\": \"", b"a"),
        ("json", b"[{\"id\": 1}, {\"title\": \"", b"a"),
        ("json", b"[{\"id\": 1}, ", b"["),
    ] {
        let path = dir.write("bomb.json.gz", &gzip_bomb(prefix, fill));
        let spec = SourceSpec { kind: kind.into(), location: loc(&path), options: json!({}), mapping: FieldMapping::default() };
        let (out, peak) = heap_peak(|| drain(|| hektor_source_json::open(&spec), 100, 1000));
        let e = out.end.expect("an error");
        assert_eq!((out.ok, e.code), (1, AdapterErrorCode::Limit), "{kind}: {e}");
        eprintln!("{kind} gzip bomb ({:?} then 2 GiB of {:?}): {e}; heap peak {} MiB", String::from_utf8_lossy(prefix), fill[0] as char, peak / MIB);
        assert!(peak < 96 * MIB, "heap peak {peak}");
    }
}

/// Found by `truncated_json_is_an_error`: with a pointer, a document cut after the records'
/// array (`{"data": {"items": [{...}, {...}]` and no closing braces) read as a success.
#[test]
fn regression_cut_after_the_pointed_array_is_an_error() {
    let _x = exclusive();
    let dir = TempDir::new("json-cut-after");
    let (text, pointer) = JSON_SEEDS[1];
    let cut = text.find("\"World\"}]").unwrap() + "\"World\"}]".len();
    for (doc, code) in [
        (&text[..cut], Some(AdapterErrorCode::Parse)),
        (&text[..cut + 1], Some(AdapterErrorCode::Parse)),
        (text, None),
        (&format!("{text} {{}}")[..], Some(AdapterErrorCode::Parse)),
        (&format!("{}, \"x\" 1}}", &text[..text.len() - 1])[..], Some(AdapterErrorCode::Parse)),
    ] {
        let out = read(&dir, "json", doc.as_bytes(), json!({ "pointer": pointer }), "c.json");
        assert_eq!((out.ok, out.end.as_ref().map(|e| e.code)), (2, code), "{doc}: {:?}", out.end);
    }
}
