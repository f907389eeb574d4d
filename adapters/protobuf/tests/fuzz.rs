//! Hostile input for the `protobuf` source: property tests over mutated valid files
//! (messages encoded by prost-reflect, as in `tests/protobuf.rs`) in both framings, plus
//! regression tests for absurd declared lengths and deep nesting. Every input must give
//! records or hektor errors: no panic, no stack overflow, no huge allocation.

#[path = "../../api/tests/fuzz_support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use hektor_adapters_api::{AdapterErrorCode, FieldMapping, SourceSpec};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, Value};
use proptest::prelude::*;
use serde_json::json;
use support::*;

#[global_allocator]
static ALLOC: Counting = Counting;

const PROTO: &str = r#"syntax = "proto3";
package t;
enum Kind { KIND_UNSPECIFIED = 0; A = 1; B = 2; }
message Inner { double w = 1; repeated string tags = 2; }
message Doc {
  string id = 1;
  optional string title = 2;
  repeated float emb = 3;
  int64 n = 4;
  uint64 big = 5;
  bool ok = 6;
  Kind kind = 7;
  map<string, string> attrs = 8;
  Inner inner = 9;
  bytes raw = 10;
  oneof pick { string s = 11; sint32 z = 12; }
  fixed64 f = 13;
}
message Node { Node next = 1; string s = 2; }
message Batch { string name = 1; repeated Doc docs = 2; }
"#;

/// The schema file (written once, kept for the test run) and its pool.
fn schema() -> &'static (PathBuf, DescriptorPool) {
    static S: OnceLock<(PathBuf, DescriptorPool)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hektor-fuzz-proto-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.proto");
        std::fs::write(&path, PROTO).unwrap();
        let pool = protox::Compiler::new([&dir]).unwrap().include_imports(true).open_file("t.proto").unwrap().descriptor_pool();
        (path, pool)
    })
}

fn doc(i: usize) -> DynamicMessage {
    let pool = &schema().1;
    let mut m = DynamicMessage::new(pool.get_message_by_name("t.Doc").unwrap());
    m.set_field_by_name("id", Value::String(format!("d{i}")));
    if i % 2 == 0 {
        m.set_field_by_name("title", Value::String(format!("Title {i}")));
    }
    m.set_field_by_name("emb", Value::List(vec![Value::F32(i as f32), Value::F32(0.5)]));
    m.set_field_by_name("n", Value::I64(-(i as i64) * 1_000_003));
    m.set_field_by_name("big", Value::U64(u64::MAX - i as u64));
    m.set_field_by_name("ok", Value::Bool(i % 3 == 0));
    m.set_field_by_name("kind", Value::EnumNumber(if i == 1 { 9 } else { 2 }));
    m.set_field_by_name("attrs", Value::Map(HashMap::from([(MapKey::String("k".into()), Value::String("v".into()))])));
    let mut inner = DynamicMessage::new(pool.get_message_by_name("t.Inner").unwrap());
    inner.set_field_by_name("w", Value::F64(2.5));
    inner.set_field_by_name("tags", Value::List(vec![Value::String("a".into())]));
    m.set_field_by_name("inner", Value::Message(inner));
    m.set_field_by_name("raw", Value::Bytes(prost::bytes::Bytes::from_static(&[0, 1, 255])));
    m.set_field_by_name(if i % 2 == 0 { "s" } else { "z" }, if i % 2 == 0 { Value::String("x".into()) } else { Value::I32(-3) });
    m.set_field_by_name("f", Value::U64(7));
    m
}

/// Valid inputs: delimited docs, and one `Batch` container.
fn seeds() -> &'static [(Vec<u8>, bool)] {
    static SEEDS: OnceLock<Vec<(Vec<u8>, bool)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut delimited = Vec::new();
        for i in 0..4 {
            doc(i).encode_length_delimited(&mut delimited).unwrap();
        }
        let pool = &schema().1;
        let mut batch = DynamicMessage::new(pool.get_message_by_name("t.Batch").unwrap());
        batch.set_field_by_name("name", Value::String("b".into()));
        batch.set_field_by_name("docs", Value::List((0..4).map(|i| Value::Message(doc(i))).collect()));
        vec![(delimited, false), (batch.encode_to_vec(), true)]
    })
}

fn spec(path: &std::path::Path, single: bool, message: &str) -> SourceSpec {
    let options = if single {
        json!({ "proto": loc(&schema().0), "messageType": message, "framing": "single", "recordsField": "docs" })
    } else {
        json!({ "proto": loc(&schema().0), "messageType": message })
    };
    let mapping =
        FieldMapping { id: Some("id".into()), text: vec!["title".into()], vector: Some("emb".into()), metadata: vec!["*".into()] };
    SourceSpec { kind: "protobuf".into(), location: loc(path), options, mapping }
}

fn read(dir: &TempDir, bytes: &[u8], single: bool) -> Outcome {
    let path = dir.write("f.pb", bytes);
    let spec = spec(&path, single, if single { "t.Batch" } else { "t.Doc" });
    drain(|| hektor_source_protobuf::open(&spec), 3, 100_000)
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn mutated_files(seed in 0..2usize, edits in edits(6)) {
        let dir = TempDir::new("pb");
        let (bytes, single) = &seeds()[seed];
        read(&dir, &mutate(bytes, &edits), *single);
    }

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300), single in any::<bool>()) {
        let dir = TempDir::new("pb-any");
        read(&dir, &bytes, single);
    }

    /// Delimited messages cut inside a message are an error.
    #[test]
    fn truncated_files_are_errors(cut in any::<usize>()) {
        let dir = TempDir::new("pb-cut");
        let (bytes, _) = &seeds()[0];
        let mut ends = vec![0];
        for i in 0..4 {
            ends.push(ends[i] + doc(i).encoded_len() + prost::length_delimiter_len(doc(i).encoded_len()));
        }
        let cut = cut % bytes.len();
        prop_assume!(!ends.contains(&cut));
        let out = read(&dir, &bytes[..cut], false);
        prop_assert!(out.end.as_ref().is_some_and(|e| e.code == AdapterErrorCode::Parse), "cut at {cut}: {out:?}");
    }
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

#[test]
fn absurd_declared_lengths_are_errors_without_the_allocation() {
    let _x = exclusive();
    let dir = TempDir::new("pb-len");
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("message length 2^40", varint(1 << 40), false),
        ("message length 2^64-1", varint(u64::MAX), false),
        ("11-byte varint", vec![0xff; 11], false),
        // a message of 10 bytes whose string field declares 2^40 bytes
        ("field length 2^40", [varint(8), vec![0x0a], varint(1 << 40), vec![b'a']].concat(), false),
        ("container field length 2^40", [vec![0x12], varint(1 << 40), vec![0; 4]].concat(), true),
        // a packed float field declaring more bytes than the message has
        ("packed length past the end", [varint(4), vec![0x1a, 0x7f, 0, 0]].concat(), false),
    ];
    for (what, bytes, single) in cases {
        let (out, peak) = heap_peak(|| read(&dir, &bytes, single));
        let e = out.end.as_ref().or(out.row_errors.first()).unwrap_or_else(|| panic!("{what}: no error"));
        assert!(matches!(e.code, AdapterErrorCode::Limit | AdapterErrorCode::Parse), "{what}: {e}");
        eprintln!("protobuf {what}: {e}; heap peak {} KiB", peak >> 10);
        assert!(peak < 16 * MIB, "{what}: heap peak {peak}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let _x = exclusive();
    let dir = TempDir::new("pb-deep");
    // Node { next: Node { next: ... } } 100,000 deep: built inside out
    let mut m: Vec<u8> = vec![0x12, 1, b'x'];
    for _ in 0..100_000 {
        let mut outer = vec![0x0a];
        outer.extend(varint(m.len() as u64));
        outer.extend_from_slice(&m);
        m = outer;
    }
    let mut file = varint(m.len() as u64);
    file.extend_from_slice(&m);
    let path = dir.write("deep.pb", &file);
    let spec = SourceSpec { options: json!({ "proto": loc(&schema().0), "messageType": "t.Node" }), ..spec(&path, false, "t.Node") };
    let spec = SourceSpec { mapping: FieldMapping::default(), ..spec };
    let (out, peak) = heap_peak(|| drain(|| hektor_source_protobuf::open(&spec), 3, 100));
    let e = out.end.as_ref().or(out.row_errors.first()).expect("an error");
    assert!(matches!(e.code, AdapterErrorCode::Parse | AdapterErrorCode::Limit), "{e}");
    eprintln!("protobuf message nested 100,000 deep ({} bytes): {e}; heap peak {} MiB", file.len(), peak / MIB);
}

/// Found by `absurd_declared_lengths_are_errors_without_the_allocation`: a length prefix of
/// 2^64-1 was taken for the framing's internal "read to the end" marker, so the rest of
/// the file (here nothing) became a message.
#[test]
fn regression_length_prefix_of_u64_max_is_err_limit() {
    let _x = exclusive();
    let dir = TempDir::new("pb-max");
    let mut bytes = varint(u64::MAX);
    doc(0).encode_length_delimited(&mut bytes).unwrap();
    let out = read(&dir, &bytes, false);
    let e = out.end.expect("an error");
    assert_eq!((out.ok, out.row_errors.len(), e.code, e.position.byte), (0, 0, AdapterErrorCode::Limit, Some(0)), "{e}");
}
