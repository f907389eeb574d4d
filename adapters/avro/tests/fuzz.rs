//! Hostile input for the `avro` source: property tests over mutated valid object container
//! files (written by apache-avro's `Writer`, as in `tests/avro.rs`), plus regression tests
//! for absurd declared lengths, recursion and huge decimal scales. Every input must give
//! records or hektor errors: no panic, no stack overflow, no huge allocation.

#[path = "../../api/tests/fuzz_support/mod.rs"]
mod support;

use apache_avro::types::{Record, Value};
use apache_avro::{Codec, DeflateSettings, Schema, Writer};
use hektor_adapters_api::{AdapterErrorCode, FieldMapping, SourceSpec};
use proptest::prelude::*;
use serde_json::json;
use std::collections::HashMap;
use std::sync::OnceLock;
use support::*;

#[global_allocator]
static ALLOC: Counting = Counting;

const SCHEMA: &str = r#"{
  "type": "record", "name": "Doc", "namespace": "t",
  "fields": [
    {"name": "id", "type": "string"},
    {"name": "title", "type": ["null", "string"], "default": null},
    {"name": "emb", "type": {"type": "array", "items": "float"}},
    {"name": "n", "type": "long"},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
    {"name": "tags", "type": {"type": "map", "values": "string"}},
    {"name": "when", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "code", "type": {"type": "fixed", "name": "Code", "size": 4}}
  ]
}"#;

fn doc(schema: &Schema, i: usize) -> Value {
    let mut r = Record::new(schema).unwrap();
    r.put("id", format!("d{i}"));
    r.put("title", Value::Union(1, Box::new(Value::String(format!("Title {i}")))));
    r.put("emb", Value::Array(vec![Value::Float(i as f32), Value::Float(0.5)]));
    r.put("n", Value::Long(i as i64 * 1_000_003));
    r.put("price", Value::Decimal(apache_avro::Decimal::from(12345i64.to_be_bytes().to_vec())));
    r.put("kind", Value::Enum((i % 2) as u32, if i % 2 == 0 { "A" } else { "B" }.into()));
    r.put("tags", Value::Map(HashMap::from([("k".to_string(), Value::String("v".into()))])));
    r.put("when", Value::TimestampMillis(1_714_566_896_789 + i as i64));
    r.put("code", Value::Fixed(4, b"AB12".to_vec()));
    r.into()
}

fn write(schema: &Schema, n: usize, codec: Codec, block: usize) -> Vec<u8> {
    let mut w = Writer::builder().schema(schema).writer(Vec::new()).codec(codec).block_size(block).build().unwrap();
    for i in 0..n {
        w.append_value(doc(schema, i)).unwrap();
    }
    w.into_inner().unwrap()
}

/// Valid files: null, deflate and snappy codecs, several blocks each.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        vec![
            write(&schema, 6, Codec::Null, 200),
            write(&schema, 6, Codec::Deflate(DeflateSettings::default()), 200),
            write(&schema, 6, Codec::Snappy, 200),
        ]
    })
}

fn mapping() -> FieldMapping {
    FieldMapping { id: Some("id".into()), text: vec!["title".into()], vector: Some("emb".into()), metadata: vec!["*".into()] }
}

fn read(dir: &TempDir, bytes: &[u8]) -> Outcome {
    read_with(dir, bytes, mapping())
}

fn read_with(dir: &TempDir, bytes: &[u8], mapping: FieldMapping) -> Outcome {
    let path = dir.write("f.avro", bytes);
    let spec = SourceSpec { kind: "avro".into(), location: loc(&path), options: json!({}), mapping };
    drain(|| hektor_source_avro::open(&spec), 4, 100_000)
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn mutated_files(seed in 0..3usize, edits in edits(6)) {
        let dir = TempDir::new("avro");
        read(&dir, &mutate(&seeds()[seed], &edits));
    }

    /// Edits only after the header: exercises the data blocks rather than schema parsing.
    #[test]
    fn mutated_blocks(seed in 0..3usize, edits in edits(4)) {
        let dir = TempDir::new("avro-blocks");
        let file = &seeds()[seed];
        let head = header_len(file);
        let mut bytes = file[..head].to_vec();
        bytes.extend(mutate(&file[head..], &edits));
        read(&dir, &bytes);
    }

    /// A file cut inside a block (not at a block boundary) is an error.
    #[test]
    fn truncated_files_are_errors(seed in 0..3usize, cut in any::<usize>()) {
        let dir = TempDir::new("avro-cut");
        let file = &seeds()[seed];
        let sync = &file[file.len() - 16..];
        let cut = cut % file.len();
        let at_boundary = cut >= 16 && &file[cut - 16..cut] == sync;
        prop_assume!(!at_boundary);
        let out = read(&dir, &file[..cut]);
        prop_assert!(out.end.is_some(), "cut at {cut}: {out:?}");
    }
}

/// Length of the header (magic, metadata map, sync marker).
fn header_len(file: &[u8]) -> usize {
    let sync = &file[file.len() - 16..];
    file.windows(16).position(|w| w == sync).unwrap() + 16
}

fn zigzag(n: i64) -> Vec<u8> {
    let mut v = ((n << 1) ^ (n >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        if v < 0x80 {
            out.push(v as u8);
            return out;
        }
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
}

/// A file of `schema` (null codec) whose single data block holds `count` records as `data`.
fn handmade(schema: &str, count: i64, data: &[u8]) -> Vec<u8> {
    let schema = Schema::parse_str(schema).unwrap();
    let w = Writer::builder().schema(&schema).writer(Vec::new()).build().unwrap();
    let file = w.into_inner().unwrap();
    let sync = file[file.len() - 16..].to_vec();
    let mut out = file;
    out.extend(zigzag(count));
    out.extend(zigzag(data.len() as i64));
    out.extend_from_slice(data);
    out.extend(sync);
    out
}

#[test]
fn absurd_declared_lengths_are_errors_without_the_allocation() {
    let _x = exclusive();
    let dir = TempDir::new("avro-len");
    let one_string = r#"{"type": "record", "name": "R", "fields": [{"name": "s", "type": "string"}]}"#;
    let null_array = r#"{"type": "record", "name": "R", "fields": [{"name": "a", "type": {"type": "array", "items": "null"}}]}"#;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // a string of 2^40 bytes
        ("string length 2^40", handmade(one_string, 1, &zigzag(1 << 40))),
        // a string of -5 bytes
        ("negative string length", handmade(one_string, 1, &zigzag(-5))),
        // 2^62 records in a block of 3 bytes
        ("record count 2^62", handmade(one_string, 1 << 62, &[2, b'a', 0])),
        // an array of 2^40 nulls (zero bytes each)
        ("array of 2^40 nulls", handmade(null_array, 1, &[zigzag(1 << 40), vec![0]].concat())),
        // a block of 2^40 bytes
        ("block size 2^40", {
            let mut f = handmade(one_string, 1, &[2, b'a']);
            let head = header_len(&f);
            f.truncate(head);
            f.extend(zigzag(1));
            f.extend(zigzag(1 << 40));
            f.extend_from_slice(&[2, b'a']);
            f
        }),
    ];
    for (what, bytes) in cases {
        let (out, peak) = heap_peak(|| read_with(&dir, &bytes, FieldMapping::default()));
        let e = out.end.expect("an error");
        assert!(matches!(e.code, AdapterErrorCode::Limit | AdapterErrorCode::Parse), "{what}: {e}");
        eprintln!("avro {what}: {e}; heap peak {} MiB", peak / MIB);
        assert!(peak <= 160 * MIB, "{what}: heap peak {peak}");
    }
}

#[test]
fn deeply_recursive_data_is_an_error_not_a_stack_overflow() {
    let _x = exclusive();
    let dir = TempDir::new("avro-deep");
    let node = r#"{"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]}"#;
    for depth in [10, 100, 1_000, 100_000, 1_000_000] {
        // union branch 1 (a Node) `depth` times, then branch 0 (null)
        let mut data = vec![2u8; depth];
        data.push(0);
        let (out, peak) = heap_peak(|| read_with(&dir, &handmade(node, 1, &data), FieldMapping::default()));
        if depth <= 100 {
            assert_eq!((out.ok, out.end.as_ref().map(|e| e.code)), (1, None), "depth {depth}: {out:?}");
        } else {
            let e = out.end.as_ref().expect("an error");
            assert_eq!(e.code, AdapterErrorCode::Limit, "depth {depth}: {e}");
            eprintln!("avro data nested {depth} deep: {e}; heap peak {} MiB", peak / MIB);
        }
    }
}

#[test]
fn huge_decimal_scale_does_not_allocate_it() {
    let _x = exclusive();
    let dir = TempDir::new("avro-scale");
    for scale in [40usize, 1 << 20, 1 << 40] {
        let schema = format!(
            r#"{{"type": "record", "name": "R", "fields": [{{"name": "d", "type": {{"type": "bytes", "logicalType": "decimal", "precision": {scale}, "scale": {scale}}}}}]}}"#
        );
        let Ok(parsed) = Schema::parse_str(&schema) else {
            eprintln!("avro: decimal scale {scale} is refused by the schema parser");
            continue;
        };
        let mut w = Writer::builder().schema(&parsed).writer(Vec::new()).build().unwrap();
        w.append_value(Value::Record(vec![("d".into(), Value::Decimal(apache_avro::Decimal::from(vec![0x01, 0x02])))])).unwrap();
        let bytes = w.into_inner().unwrap();
        let (out, peak) = heap_peak(|| read_with(&dir, &bytes, FieldMapping::default()));
        eprintln!("avro decimal scale {scale}: {} ok, end {:?}; heap peak {} KiB", out.ok, out.end, peak >> 10);
        assert!(peak < 16 * MIB, "scale {scale}: heap peak {peak}");
    }
}
