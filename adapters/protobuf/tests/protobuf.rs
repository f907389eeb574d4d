//! The `protobuf` source against messages encoded by prost-reflect (`DynamicMessage` is a
//! `prost::Message`: its `encode_length_delimited` is the library's own wire encoding), with
//! schemas compiled by protox from `.proto` files written to a temporary directory.

use hektor_adapters_api::{AdapterError, AdapterErrorCode, FieldMapping, SourceRecord, SourceSpec};
use prost::bytes::Bytes;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MapKey, MessageDescriptor, Value};
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hektor-protobuf-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const COMMON: &str = r#"syntax = "proto3";
package shop;
message Money { string currency = 1; int64 units = 2; int32 nanos = 3; }
"#;

const SHOP: &str = r#"syntax = "proto3";
package shop;

import "google/protobuf/timestamp.proto";
import "common.proto";

enum Status { STATUS_UNSPECIFIED = 0; ACTIVE = 1; RETIRED = 2; }

message Dims { double w = 1; double h = 2; }
message Author { string name = 1; }
message Embedding { repeated double values = 1; }

message Product {
  string sku = 1;
  string title = 2;
  optional string body = 3;
  repeated float embedding = 4;
  int32 stock = 5;
  int64 views = 6;
  uint64 big = 7;
  double rating = 8;
  float weight = 9;
  bool active = 10;
  Status status = 11;
  map<string, string> tags = 12;
  repeated string colors = 13;
  Dims dims = 14;
  Author author = 15;
  bytes thumb = 16;
  google.protobuf.Timestamp updated = 17;
  Money price = 18;
  oneof promo { string coupon = 19; int32 discount = 20; }
  Embedding alt = 21;
}

message Catalog { string name = 1; repeated Product products = 2; int32 version = 3; }
"#;

/// Writes the schema files and compiles them as the source will.
fn schema(dir: &TempDir) -> (PathBuf, DescriptorPool) {
    dir.write("common.proto", COMMON);
    let proto = dir.write("shop.proto", SHOP);
    let pool = protox::Compiler::new([&dir.0]).unwrap().include_imports(true).open_file("shop.proto").unwrap().descriptor_pool();
    (proto, pool)
}

fn set(m: &mut DynamicMessage, field: &str, v: Value) {
    m.set_field_by_name(field, v);
}

fn product(pool: &DescriptorPool, i: usize) -> DynamicMessage {
    let desc = pool.get_message_by_name("shop.Product").unwrap();
    let mut m = DynamicMessage::new(desc);
    set(&mut m, "sku", Value::String(format!("sku-{i}")));
    set(&mut m, "title", Value::String(format!("Product {i}")));
    if i.is_multiple_of(2) {
        set(&mut m, "body", Value::String(format!("Body {i}")));
    }
    set(&mut m, "embedding", Value::List(vec![Value::F32(i as f32), Value::F32(0.5), Value::F32(-1.25)]));
    set(&mut m, "stock", Value::I32(i as i32));
    set(&mut m, "views", Value::I64(if i == 0 { 9_007_199_254_740_993 } else { 42 }));
    set(&mut m, "big", Value::U64(u64::MAX));
    set(&mut m, "rating", Value::F64(4.5));
    set(&mut m, "weight", Value::F32(0.1));
    set(&mut m, "active", Value::Bool(!i.is_multiple_of(3)));
    set(&mut m, "status", Value::EnumNumber(if i == 1 { 7 } else { 2 }));
    set(&mut m, "tags", Value::Map(HashMap::from([(MapKey::String("brand".into()), Value::String("acme".into()))])));
    set(&mut m, "colors", Value::List(vec![Value::String("red".into()), Value::String("blue".into())]));
    let mut dims = DynamicMessage::new(pool.get_message_by_name("shop.Dims").unwrap());
    set(&mut dims, "w", Value::F64(2.0));
    set(&mut dims, "h", Value::F64(3.5));
    set(&mut m, "dims", Value::Message(dims));
    if i == 0 {
        let mut author = DynamicMessage::new(pool.get_message_by_name("shop.Author").unwrap());
        set(&mut author, "name", Value::String("Ada".into()));
        set(&mut m, "author", Value::Message(author));
        set(&mut m, "coupon", Value::String("WELCOME".into()));
    }
    set(&mut m, "thumb", Value::Bytes(Bytes::from_static(&[0, 1, 2, 254, 255])));
    let mut ts = DynamicMessage::new(pool.get_message_by_name("google.protobuf.Timestamp").unwrap());
    set(&mut ts, "seconds", Value::I64(1_714_566_896));
    set(&mut ts, "nanos", Value::I32(789_000_000));
    set(&mut m, "updated", Value::Message(ts));
    let mut price = DynamicMessage::new(pool.get_message_by_name("shop.Money").unwrap());
    set(&mut price, "currency", Value::String("EUR".into()));
    set(&mut price, "units", Value::I64(12));
    set(&mut m, "price", Value::Message(price));
    let mut alt = DynamicMessage::new(pool.get_message_by_name("shop.Embedding").unwrap());
    set(&mut alt, "values", Value::List(vec![Value::F64(0.25), Value::F64(0.75)]));
    set(&mut m, "alt", Value::Message(alt));
    m
}

fn delimited(messages: impl IntoIterator<Item = DynamicMessage>) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        m.encode_length_delimited(&mut out).unwrap();
    }
    out
}

fn spec(path: &Path, options: Json, mapping: FieldMapping) -> SourceSpec {
    SourceSpec { kind: "protobuf".into(), location: path.to_string_lossy().into_owned(), options, mapping }
}

fn full_mapping() -> FieldMapping {
    FieldMapping {
        id: Some("sku".into()),
        text: vec!["title".into(), "body".into()],
        vector: Some("embedding".into()),
        metadata: vec!["*".into()],
    }
}

fn read_all(spec: &SourceSpec, max: usize) -> Result<Vec<Result<SourceRecord, AdapterError>>, AdapterError> {
    let mut src = hektor_source_protobuf::open(spec)?;
    let mut out = Vec::new();
    while let Some(b) = src.next_batch(max)? {
        assert!(b.len() <= max);
        out.extend(b.rows);
    }
    Ok(out)
}

#[test]
fn happy_path_delimited_every_type() {
    let dir = TempDir::new("happy");
    let (proto, pool) = schema(&dir);
    let data = dir.write("products.pb", delimited((0..3).map(|i| product(&pool, i))));
    let size = std::fs::metadata(&data).unwrap().len();
    let options = json!({ "proto": proto, "messageType": "shop.Product" });

    let mut src = hektor_source_protobuf::open(&spec(&data, options, full_mapping())).unwrap();
    let b = src.next_batch(2).unwrap().unwrap();
    assert_eq!(b.len(), 2);
    let r0 = b.rows[0].as_ref().unwrap();
    assert_eq!(r0.id, "sku-0");
    assert_eq!(r0.text.as_deref(), Some("Product 0\n\nBody 0"));
    assert_eq!(r0.vector, Some(vec![0.0, 0.5, -1.25]));
    assert_eq!(
        Json::Object(r0.metadata.clone().unwrap()),
        json!({
            "stock": 0,
            "views": "9007199254740993",
            "big": "18446744073709551615",
            "rating": 4.5,
            "weight": 0.1,
            "active": false,
            "status": "RETIRED",
            "tags": {"brand": "acme"},
            "colors": ["red", "blue"],
            "dims": {"w": 2.0, "h": 3.5},
            "author": {"name": "Ada"},
            "thumb": "AAEC/v8=",
            "updated": "2024-05-01T12:34:56.789Z",
            "price": {"currency": "EUR", "units": 12, "nanos": 0},
            "coupon": "WELCOME",
            "alt": {"values": [0.25, 0.75]}
        })
    );
    let r1 = b.rows[1].as_ref().unwrap();
    assert_eq!(r1.text.as_deref(), Some("Product 1"), "an unset optional is no text");
    let m1 = r1.metadata.as_ref().unwrap();
    assert_eq!(m1["status"], json!(7), "an enum number the schema lacks stays a number");
    assert!(!m1.contains_key("author") && !m1.contains_key("coupon"), "unset message and oneof fields are left out");
    assert_eq!(m1["active"], json!(true));

    let p = src.progress();
    assert_eq!((p.rows, p.total_rows, p.total_bytes), (2, None, Some(size)));
    assert_eq!(src.next_batch(2).unwrap().unwrap().len(), 1);
    assert!(src.next_batch(2).unwrap().is_none());
    assert_eq!(src.progress().bytes, size);
}

#[test]
fn nested_vector_path_and_descriptor_set() {
    let dir = TempDir::new("descset");
    let (_, pool) = schema(&dir);
    // What `protoc --include_imports -o shop.pb shop.proto` writes.
    let set = protox::Compiler::new([&dir.0]).unwrap().include_imports(true).open_file("shop.proto").unwrap().encode_file_descriptor_set();
    let set_path = dir.write("shop.desc", set);
    let data = dir.write("products.pb", delimited((0..2).map(|i| product(&pool, i))));
    let mapping = FieldMapping {
        id: None,
        text: vec!["author.name".into()],
        vector: Some("alt.values".into()),
        metadata: vec!["dims.h".into(), "alt".into()],
    };
    let rows = read_all(&spec(&data, json!({ "descriptorSet": set_path, "messageType": ".shop.Product" }), mapping), 10).unwrap();
    let r0 = rows[0].as_ref().unwrap();
    assert_eq!(r0.id, format!("{}:0", data.to_string_lossy()));
    assert_eq!(r0.text.as_deref(), Some("Ada"));
    assert_eq!(r0.vector, Some(vec![0.25, 0.75]));
    let m = r0.metadata.as_ref().unwrap();
    assert_eq!(m["dims.h"], json!(3.5));
    assert_eq!(m["alt"], json!({}), "the vector is taken out of the row");
}

fn catalog(pool: &DescriptorPool, n: usize) -> DynamicMessage {
    let mut c = DynamicMessage::new(pool.get_message_by_name("shop.Catalog").unwrap());
    set(&mut c, "name", Value::String("spring".into()));
    set(&mut c, "products", Value::List((0..n).map(|i| Value::Message(product(pool, i))).collect()));
    set(&mut c, "version", Value::I32(3));
    c
}

#[test]
fn single_framing_container_and_whole_message() {
    let dir = TempDir::new("single");
    let (proto, pool) = schema(&dir);
    let data = dir.write("catalog.pb", catalog(&pool, 5).encode_to_vec());
    let size = std::fs::metadata(&data).unwrap().len();
    for options in [
        json!({ "proto": proto, "messageType": "shop.Catalog", "framing": "single" }),
        json!({ "proto": proto, "messageType": "shop.Catalog", "framing": "single", "recordsField": "products" }),
    ] {
        let mut src = hektor_source_protobuf::open(&spec(&data, options, full_mapping())).unwrap();
        let mut ids = Vec::new();
        while let Some(b) = src.next_batch(2).unwrap() {
            assert!(b.len() <= 2);
            ids.extend(b.rows.into_iter().map(|r| r.unwrap().id));
        }
        assert_eq!(ids, ["sku-0", "sku-1", "sku-2", "sku-3", "sku-4"]);
        assert_eq!(src.progress().bytes, size);
    }

    // A message with no repeated message field is the one record.
    let one = dir.write("one.pb", product(&pool, 0).encode_to_vec());
    let rows =
        read_all(&spec(&one, json!({ "proto": proto, "messageType": "shop.Product", "framing": "single" }), full_mapping()), 10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].as_ref().unwrap().id, "sku-0");

    let e = read_all(
        &spec(&data, json!({ "proto": proto, "messageType": "shop.Catalog", "framing": "single", "recordsField": "name" }), full_mapping()),
        10,
    )
    .unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert_eq!(e.position.field.as_deref(), Some("name"));
}

#[test]
fn wrong_message_type_lists_close_names() {
    let dir = TempDir::new("type");
    let (proto, _) = schema(&dir);
    let data = dir.write("x.pb", b"");
    let e = read_all(&spec(&data, json!({ "proto": proto, "messageType": "shop.Prodcut" }), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert!(e.message.contains("did you mean shop.Product"), "{e}");
    let e = read_all(&spec(&data, json!({ "proto": proto, "messageType": "Product" }), FieldMapping::default()), 10).unwrap_err();
    assert!(e.message.contains("shop.Product"), "an unqualified name is pointed at its full name: {e}");
    let e = read_all(&spec(&data, json!({ "proto": proto, "messageType": "zzzzzzzz" }), FieldMapping::default()), 10).unwrap_err();
    assert!(e.message.contains("message types: shop.Author, shop.Catalog"), "{e}");
}

#[test]
fn bad_proto_syntax_and_missing_import() {
    let dir = TempDir::new("syntax");
    let bad = dir.write("bad.proto", "syntax = \"proto3\";\npackage x;\nmessage A {\n  string name = 1\n  int32 n = 2;\n}\n");
    let data = dir.write("x.pb", b"");
    let e = read_all(&spec(&data, json!({ "proto": bad, "messageType": "x.A" }), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::Parse);
    assert!(e.message.starts_with(&format!("{}:5:3: ", bad.display())), "file:line:column first: {e}");
    assert_eq!(e.position.source, bad.to_string_lossy());

    let unknown_type = dir.write("types.proto", "syntax = \"proto3\";\nmessage B {\n  Missing m = 1;\n}\n");
    let e = read_all(&spec(&data, json!({ "proto": unknown_type, "messageType": "B" }), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::Parse);
    assert!(e.message.starts_with(&format!("{}:3:", unknown_type.display())), "{e}");

    let imports = dir.write("imp.proto", "syntax = \"proto3\";\nimport \"nowhere/dep.proto\";\nmessage C {}\n");
    let e = read_all(&spec(&data, json!({ "proto": imports, "messageType": "C" }), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::NotFound, "{e}");
    assert!(e.message.contains("nowhere/dep.proto"), "{e}");

    // The import is found through `includes`.
    let inc = TempDir::new("inc");
    std::fs::create_dir_all(inc.path("nowhere")).unwrap();
    inc.write("nowhere/dep.proto", "syntax = \"proto3\";\nmessage D {}\n");
    let rows =
        read_all(&spec(&data, json!({ "proto": imports, "messageType": "C", "includes": [inc.0] }), FieldMapping::default()), 10).unwrap();
    assert!(rows.is_empty());

    // Imports rooted at a package directory, as `protoc -I root root/pkg/a.proto` resolves them.
    std::fs::create_dir_all(inc.path("pkg")).unwrap();
    inc.write("pkg/dep.proto", "syntax = \"proto3\";\npackage pkg;\nmessage Dep { string s = 1; }\n");
    let a = inc.write("pkg/a.proto", "syntax = \"proto3\";\npackage pkg;\nimport \"pkg/dep.proto\";\nmessage A { pkg.Dep d = 1; }\n");
    let rows =
        read_all(&spec(&data, json!({ "proto": a, "messageType": "pkg.A", "includes": [inc.0] }), FieldMapping::default()), 10).unwrap();
    assert!(rows.is_empty());
}

#[test]
fn vector_field_of_wrong_type() {
    let dir = TempDir::new("vec");
    let (proto, _) = schema(&dir);
    let data = dir.write("x.pb", b"");
    for (path, expect) in [
        ("title", "is string"),
        ("colors", "is repeated string"),
        ("dims.w", "is double"),
        ("nope", "has no field 'nope'"),
        ("tags.x", "not a singular message"),
    ] {
        let m = FieldMapping { vector: Some(path.into()), ..Default::default() };
        let e = read_all(&spec(&data, json!({ "proto": proto, "messageType": "shop.Product" }), m), 10).unwrap_err();
        assert_eq!(e.code, AdapterErrorCode::InvalidArg, "{path}");
        assert_eq!(e.position.field.as_deref(), Some(path));
        assert!(e.message.contains(expect), "{path}: {e}");
    }
}

#[test]
fn missing_files_and_bad_options() {
    let dir = TempDir::new("missing");
    let (proto, _) = schema(&dir);
    let e = read_all(&spec(&dir.path("none.pb"), json!({ "proto": proto, "messageType": "shop.Product" }), FieldMapping::default()), 10)
        .unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::NotFound);
    assert_eq!(e.position.source, dir.path("none.pb").to_string_lossy());
    let data = dir.write("x.pb", b"");
    let e = read_all(&spec(&data, json!({ "proto": dir.path("none.proto"), "messageType": "shop.Product" }), FieldMapping::default()), 10)
        .unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::NotFound);
    let e =
        read_all(&spec(&data, json!({ "descriptorSet": proto, "messageType": "shop.Product" }), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::Parse, "a .proto is not a descriptor set: {e}");
    for bad in [
        json!({ "proto": proto }),
        json!({ "messageType": "shop.Product" }),
        json!({ "proto": proto, "descriptorSet": proto, "messageType": "shop.Product" }),
        json!({ "proto": proto, "messageType": "shop.Product", "framing": "lines" }),
        json!({ "proto": proto, "messageType": "shop.Product", "messagetype": "x" }),
        json!({ "proto": proto, "messageType": "shop.Product", "recordsField": "products" }),
    ] {
        let e = read_all(&spec(&data, bad.clone(), FieldMapping::default()), 10).unwrap_err();
        assert_eq!(e.code, AdapterErrorCode::InvalidArg, "{bad}: {e}");
    }
}

#[test]
fn truncated_last_message() {
    let dir = TempDir::new("trunc");
    let (proto, pool) = schema(&dir);
    let msgs: Vec<DynamicMessage> = (0..10).map(|i| product(&pool, i)).collect();
    let last_start = delimited(msgs[..9].iter().cloned()).len();
    let bytes = delimited(msgs);
    let data = dir.write("t.pb", &bytes[..bytes.len() - 7]);
    let mut src =
        hektor_source_protobuf::open(&spec(&data, json!({ "proto": proto, "messageType": "shop.Product" }), full_mapping())).unwrap();
    let b = src.next_batch(100).unwrap().unwrap();
    assert_eq!(b.len(), 9, "the whole messages come first");
    assert!(b.rows.iter().all(|r| r.is_ok()));
    let e = src.next_batch(100).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::Parse);
    assert!(e.message.contains("truncated"), "{e}");
    assert_eq!(e.position.row, Some(9));
    assert_eq!(e.position.byte, Some(last_start as u64));
    assert!(src.next_batch(100).unwrap().is_none());

    // A file cut inside a length prefix (a multi-byte varint).
    let cut = dir.write("c.pb", &bytes[..last_start + 1]);
    let rows = read_all(&spec(&cut, json!({ "proto": proto, "messageType": "shop.Product" }), full_mapping()), 100);
    let e = rows.unwrap_err();
    assert_eq!((e.code, e.position.row, e.position.byte), (AdapterErrorCode::Parse, Some(9), Some(last_start as u64)));
}

#[test]
fn absurd_length_is_err_limit() {
    let dir = TempDir::new("limit");
    let (proto, pool) = schema(&dir);
    let mut bytes = delimited((0..2).map(|i| product(&pool, i)));
    let start = bytes.len();
    // varint 2^40, then a few bytes: a reader that trusted it would allocate a terabyte.
    let mut v: u64 = 1 << 40;
    while v >= 0x80 {
        bytes.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    bytes.push(v as u8);
    bytes.extend_from_slice(b"abc");
    let data = dir.write("l.pb", &bytes);
    let e = read_all(&spec(&data, json!({ "proto": proto, "messageType": "shop.Product" }), full_mapping()), 1).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::Limit);
    assert_eq!((e.position.row, e.position.byte), (Some(2), Some(start as u64)));
}

#[test]
fn undecodable_message_is_a_row_error_and_the_stream_goes_on() {
    let dir = TempDir::new("corrupt");
    let (proto, pool) = schema(&dir);
    let good = product(&pool, 0).encode_to_vec();
    let mut bytes = Vec::new();
    product(&pool, 1).encode_length_delimited(&mut bytes).unwrap();
    let bad_start = bytes.len();
    // Same length, but the body's first tag says field 1 is a 2^60-byte string.
    let mut bad = good.clone();
    bad[1] = 0xff;
    bad[2] = 0xff;
    prost::encoding::encode_varint(bad.len() as u64, &mut bytes);
    bytes.extend_from_slice(&bad);
    product(&pool, 2).encode_length_delimited(&mut bytes).unwrap();
    let data = dir.write("c.pb", &bytes);
    let rows = read_all(&spec(&data, json!({ "proto": proto, "messageType": "shop.Product" }), full_mapping()), 10).unwrap();
    assert_eq!(rows.len(), 3);
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::Parse);
    assert_eq!((e.position.row, e.position.byte), (Some(1), Some(bad_start as u64)));
    assert_eq!(rows[2].as_ref().unwrap().id, "sku-2");
}

#[test]
fn streams_many_messages_in_bounded_batches() {
    let dir = TempDir::new("many");
    let proto = dir.write("r.proto", "syntax = \"proto3\";\npackage t;\nmessage R { int64 id = 1; string t = 2; repeated float v = 3; }\n");
    let pool = protox::Compiler::new([&dir.0]).unwrap().open_file("r.proto").unwrap().descriptor_pool();
    let desc: MessageDescriptor = pool.get_message_by_name("t.R").unwrap();
    let n = 100_000usize;
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(dir.path("many.pb")).unwrap());
        let mut buf = Vec::new();
        for i in 0..n {
            let mut m = DynamicMessage::new(desc.clone());
            set(&mut m, "id", Value::I64(i as i64));
            set(&mut m, "t", Value::String(format!("row {i}")));
            set(&mut m, "v", Value::List((0..8).map(|k| Value::F32((i + k) as f32)).collect()));
            buf.clear();
            m.encode_length_delimited(&mut buf).unwrap();
            w.write_all(&buf).unwrap();
        }
    }
    let data = dir.path("many.pb");
    let size = std::fs::metadata(&data).unwrap().len();
    let mapping = FieldMapping { id: Some("id".into()), text: vec!["t".into()], vector: Some("v".into()), metadata: vec![] };
    let mut src = hektor_source_protobuf::open(&spec(&data, json!({ "proto": proto, "messageType": "t.R" }), mapping)).unwrap();
    let (mut rows, mut last) = (0u64, 0u64);
    while let Some(b) = src.next_batch(1000).unwrap() {
        assert!(b.len() <= 1000);
        for r in &b.rows {
            let r = r.as_ref().unwrap();
            assert_eq!(r.id, rows.to_string());
            assert_eq!(r.vector.as_ref().unwrap()[7], (rows + 7) as f32);
            rows += 1;
        }
        let p = src.progress();
        assert!(p.bytes > last && p.bytes <= size);
        last = p.bytes;
    }
    assert_eq!(rows, n as u64);
    assert_eq!(src.progress().bytes, size);
}

#[test]
fn proto2_container_skips_groups_and_other_fields() {
    let dir = TempDir::new("proto2");
    let proto = dir.write(
        "old.proto",
        r#"syntax = "proto2";
package legacy;
message Item {
  required string key = 1;
  optional int32 qty = 2 [default = 5];
  optional string note = 3;
  repeated double vec = 4 [packed = true];
}
message Dump {
  optional string source = 1;
  optional group Meta = 2 { optional int64 written = 3; optional fixed32 crc = 4; }
  repeated Item items = 5;
  optional fixed64 stamp = 6;
  optional float ratio = 7;
}
"#,
    );
    let pool = protox::Compiler::new([&dir.0]).unwrap().open_file("old.proto").unwrap().descriptor_pool();
    let dump_desc = pool.get_message_by_name("legacy.Dump").unwrap();
    let item_desc = pool.get_message_by_name("legacy.Item").unwrap();
    let meta_desc = pool.get_message_by_name("legacy.Dump.Meta").unwrap();
    let mut dump = DynamicMessage::new(dump_desc);
    set(&mut dump, "source", Value::String("export".into()));
    let mut meta = DynamicMessage::new(meta_desc);
    set(&mut meta, "written", Value::I64(1));
    set(&mut meta, "crc", Value::U32(7));
    set(&mut dump, "meta", Value::Message(meta));
    let items = (0..3)
        .map(|i| {
            let mut it = DynamicMessage::new(item_desc.clone());
            set(&mut it, "key", Value::String(format!("k{i}")));
            if i == 1 {
                set(&mut it, "qty", Value::I32(9));
            }
            set(&mut it, "vec", Value::List(vec![Value::F64(i as f64), Value::F64(1.5)]));
            Value::Message(it)
        })
        .collect();
    set(&mut dump, "items", Value::List(items));
    set(&mut dump, "stamp", Value::U64(99));
    set(&mut dump, "ratio", Value::F32(f32::NAN));
    let data = dir.write("dump.bin", dump.encode_to_vec());
    assert!(dump.encode_to_vec().contains(&((2 << 3) | 3)), "the group is on the wire");

    let mapping = FieldMapping { id: Some("key".into()), vector: Some("vec".into()), metadata: vec!["*".into()], ..Default::default() };
    let rows =
        read_all(&spec(&data, json!({ "proto": proto, "messageType": "legacy.Dump", "framing": "single" }), mapping.clone()), 10).unwrap();
    let rows: Vec<SourceRecord> = rows.into_iter().map(Result::unwrap).collect();
    assert_eq!(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["k0", "k1", "k2"]);
    assert_eq!(rows[2].vector, Some(vec![2.0, 1.5]));
    assert_eq!(Json::Object(rows[0].metadata.clone().unwrap()), json!({}), "unset proto2 optionals are left out, even with a default");
    assert_eq!(Json::Object(rows[1].metadata.clone().unwrap()), json!({"qty": 9}));

    // The same through a descriptor set and an explicit recordsField.
    let m = FieldMapping { metadata: vec!["*".into()], ..Default::default() };
    let whole = read_all(&spec(&data, json!({ "descriptorSet": write_set(&dir, "old.proto"), "messageType": "legacy.Dump", "framing": "single", "recordsField": "items" }), m), 10).unwrap();
    assert_eq!(whole.len(), 3);
}

fn write_set(dir: &TempDir, file: &str) -> PathBuf {
    let set = protox::Compiler::new([&dir.0]).unwrap().include_imports(true).open_file(file).unwrap().encode_file_descriptor_set();
    dir.write("set.desc", set)
}
