//! The `avro` source against files written by apache-avro's own `Writer`.

use apache_avro::types::{Record, Value};
use apache_avro::{Codec, Days, Decimal, DeflateSettings, Duration, Millis, Months, Schema, Uuid, Writer};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, FieldMapping, SourceRecord, SourceSpec};
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hektor-avro-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const PRODUCT: &str = r#"{
  "type": "record", "name": "Product", "namespace": "shop",
  "fields": [
    {"name": "sku", "type": "string"},
    {"name": "title", "type": "string"},
    {"name": "body", "type": ["null", "string"], "default": null},
    {"name": "embedding", "type": {"type": "array", "items": "float"}},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "stock", "type": "int"},
    {"name": "views", "type": "long"},
    {"name": "rating", "type": "double"},
    {"name": "weight", "type": "float"},
    {"name": "active", "type": "boolean"},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["ACTIVE", "RETIRED", "DRAFT"]}},
    {"name": "tags", "type": {"type": "map", "values": "string"}},
    {"name": "colors", "type": {"type": "array", "items": "string"}},
    {"name": "dims", "type": {"type": "record", "name": "Dims", "fields": [
      {"name": "w", "type": "double"}, {"name": "h", "type": "double"}]}},
    {"name": "author", "type": ["null", {"type": "record", "name": "Author", "fields": [{"name": "name", "type": "string"}]}], "default": null},
    {"name": "added", "type": {"type": "int", "logicalType": "date"}},
    {"name": "updated", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "updated_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "opens", "type": {"type": "int", "logicalType": "time-millis"}},
    {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "thumb", "type": "bytes"},
    {"name": "code", "type": {"type": "fixed", "name": "Code", "size": 4}},
    {"name": "warranty", "type": {"type": "fixed", "name": "Span", "size": 12, "logicalType": "duration"}}
  ]
}"#;

fn product(schema: &Schema, i: usize) -> Value {
    let mut r = Record::new(schema).unwrap();
    r.put("sku", format!("sku-{i}"));
    r.put("title", format!("Product {i}"));
    r.put(
        "body",
        if i.is_multiple_of(2) {
            Value::Union(1, Box::new(Value::String(format!("Body {i}"))))
        } else {
            Value::Union(0, Box::new(Value::Null))
        },
    );
    r.put("embedding", Value::Array(vec![Value::Float(i as f32), Value::Float(0.5), Value::Float(-1.25)]));
    // 1234.50 with scale 2: unscaled 123450
    r.put("price", Value::Decimal(Decimal::from(123_450i64.to_be_bytes().to_vec())));
    r.put("stock", Value::Int(i as i32));
    r.put("views", Value::Long(if i == 0 { 9_007_199_254_740_993 } else { 42 }));
    r.put("rating", Value::Double(4.5));
    r.put("weight", Value::Float(0.1));
    r.put("active", Value::Boolean(!i.is_multiple_of(3)));
    r.put("status", Value::Enum(1, "RETIRED".into()));
    r.put("tags", Value::Map(HashMap::from([("brand".to_string(), Value::String("acme".into()))])));
    r.put("colors", Value::Array(vec![Value::String("red".into()), Value::String("blue".into())]));
    r.put("dims", Value::Record(vec![("w".into(), Value::Double(2.0)), ("h".into(), Value::Double(3.5))]));
    r.put(
        "author",
        if i == 0 {
            Value::Union(1, Box::new(Value::Record(vec![("name".into(), Value::String("Ada".into()))])))
        } else {
            Value::Union(0, Box::new(Value::Null))
        },
    );
    r.put("added", Value::Date(19_844));
    r.put("updated", Value::TimestampMillis(1_714_566_896_789));
    r.put("updated_us", Value::TimestampMicros(1_714_566_896_789_012));
    r.put("opens", Value::TimeMillis(45_296_789));
    r.put("uid", Value::Uuid(Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap()));
    r.put("thumb", Value::Bytes(vec![0, 1, 2, 254, 255]));
    r.put("code", Value::Fixed(4, b"AB12".to_vec()));
    r.put("warranty", Value::Duration(Duration::new(Months::new(24), Days::new(3), Millis::new(500))));
    r.into()
}

fn write_products(path: &Path, n: usize, codec: Codec, block_size: usize) {
    let schema = Schema::parse_str(PRODUCT).unwrap();
    let mut w = Writer::builder().schema(&schema).writer(Vec::new()).codec(codec).block_size(block_size).build().unwrap();
    for i in 0..n {
        w.append_value(product(&schema, i)).unwrap();
    }
    std::fs::write(path, w.into_inner().unwrap()).unwrap();
}

fn spec(path: &Path, options: Json, mapping: FieldMapping) -> SourceSpec {
    SourceSpec { kind: "avro".into(), location: path.to_string_lossy().into_owned(), options, mapping }
}

fn full_mapping() -> FieldMapping {
    FieldMapping {
        id: Some("sku".into()),
        text: vec!["title".into(), "body".into()],
        vector: Some("embedding".into()),
        metadata: vec!["*".into()],
    }
}

/// Reads everything; row errors are returned in place.
fn read_all(spec: &SourceSpec, max: usize) -> Result<Vec<Result<SourceRecord, AdapterError>>, AdapterError> {
    let mut src = hektor_source_avro::open(spec)?;
    let mut out = Vec::new();
    while let Some(b) = src.next_batch(max)? {
        assert!(b.len() <= max);
        out.extend(b.rows);
    }
    Ok(out)
}

#[test]
fn happy_path_every_type() {
    let dir = TempDir::new("happy");
    let path = dir.path("products.avro");
    write_products(&path, 3, Codec::Null, 16_000);
    let size = std::fs::metadata(&path).unwrap().len();

    let mut src = hektor_source_avro::open(&spec(&path, json!({}), full_mapping())).unwrap();
    assert_eq!(src.name(), path.to_string_lossy());
    let batch = src.next_batch(2).unwrap().unwrap();
    assert_eq!(batch.len(), 2);
    let r0 = batch.rows[0].as_ref().unwrap();
    assert_eq!(r0.id, "sku-0");
    assert_eq!(r0.text.as_deref(), Some("Product 0\n\nBody 0"));
    assert_eq!(r0.vector, Some(vec![0.0, 0.5, -1.25]));
    let m = Json::Object(r0.metadata.clone().unwrap());
    assert_eq!(
        m,
        json!({
            "price": 1234.5,
            "stock": 0,
            "views": "9007199254740993",
            "rating": 4.5,
            "weight": 0.1,
            "active": false,
            "status": "RETIRED",
            "tags": {"brand": "acme"},
            "colors": ["red", "blue"],
            "dims": {"w": 2.0, "h": 3.5},
            "author": {"name": "Ada"},
            "added": "2024-05-01",
            "updated": "2024-05-01T12:34:56.789Z",
            "updated_us": "2024-05-01T12:34:56.789012Z",
            "opens": "12:34:56.789",
            "uid": "67e55044-10b1-426f-9247-bb680e5fe0c8",
            "thumb": "AAEC/v8=",
            "code": "QUIxMg==",
            "warranty": {"months": 24, "days": 3, "millis": 500}
        })
    );
    let r1 = batch.rows[1].as_ref().unwrap();
    assert_eq!(r1.text.as_deref(), Some("Product 1"), "a null union branch is no text");
    assert_eq!(r1.metadata.as_ref().unwrap()["author"], Json::Null);
    assert_eq!(r1.metadata.as_ref().unwrap()["views"], json!(42));

    let p = src.progress();
    assert_eq!((p.rows, p.total_rows, p.total_bytes), (2, None, Some(size)));
    let rest = src.next_batch(2).unwrap().unwrap();
    assert_eq!(rest.len(), 1);
    assert!(src.next_batch(2).unwrap().is_none());
    let p = src.progress();
    assert_eq!((p.rows, p.bytes), (3, size));
}

#[test]
fn nested_paths_and_generated_ids() {
    let dir = TempDir::new("nested");
    let path = dir.path("p.avro");
    write_products(&path, 2, Codec::Null, 16_000);
    let mapping =
        FieldMapping { id: None, text: vec!["author.name".into()], vector: None, metadata: vec!["dims.h".into(), "tags.brand".into()] };
    let rows = read_all(&spec(&path, json!(null), mapping), 10).unwrap();
    let r0 = rows[0].as_ref().unwrap();
    assert_eq!(r0.id, format!("{}:0", path.to_string_lossy()));
    assert_eq!(r0.text.as_deref(), Some("Ada"));
    assert_eq!(r0.metadata.as_ref().unwrap()["dims.h"], json!(3.5));
    assert_eq!(r0.metadata.as_ref().unwrap()["tags.brand"], json!("acme"));
    assert_eq!(rows[1].as_ref().unwrap().text, None);
}

#[test]
fn every_codec_reads_the_same() {
    use apache_avro::{Bzip2Settings, ZstandardSettings};
    let dir = TempDir::new("codecs");
    let plain = dir.path("null.avro");
    write_products(&plain, 50, Codec::Null, 1_000);
    let expected = read_all(&spec(&plain, json!({}), full_mapping()), 7).unwrap();
    assert_eq!(expected.len(), 50);
    for (name, codec) in [
        ("deflate", Codec::Deflate(DeflateSettings::default())),
        ("snappy", Codec::Snappy),
        ("zstandard", Codec::Zstandard(ZstandardSettings::default())),
        ("bzip2", Codec::Bzip2(Bzip2Settings::default())),
    ] {
        let path = dir.path(&format!("{name}.avro"));
        write_products(&path, 50, codec, 1_000);
        let got = read_all(&spec(&path, json!({}), full_mapping()), 7).unwrap();
        assert_eq!(got, expected, "codec {name}");
    }
}

const V1: &str = r#"{"type": "record", "name": "Item", "namespace": "v1", "fields": [
  {"name": "id", "type": "int"},
  {"name": "name", "type": "string"},
  {"name": "score", "type": "float"},
  {"name": "legacy", "type": "string"},
  {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}},
  {"name": "vec", "type": {"type": "array", "items": "float"}},
  {"name": "note", "type": ["null", "string"]}
]}"#;

const V2: &str = r#"{"type": "record", "name": "Item", "namespace": "v2", "fields": [
  {"name": "id", "type": "long"},
  {"name": "title", "type": "string", "aliases": ["name"]},
  {"name": "score", "type": "double"},
  {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"], "default": "A"}},
  {"name": "vec", "type": ["null", {"type": "array", "items": "double"}], "default": null},
  {"name": "note", "type": ["null", "string", "bytes"], "default": null},
  {"name": "lang", "type": "string", "default": "en"},
  {"name": "added", "type": {"type": "int", "logicalType": "date"}, "default": 0},
  {"name": "extra", "type": ["null", "int"], "default": null}
]}"#;

fn write_v1(path: &Path, kinds: &[(u32, &str)]) {
    let schema = Schema::parse_str(V1).unwrap();
    let mut w = Writer::with_codec(&schema, Vec::new(), Codec::Deflate(DeflateSettings::default())).unwrap();
    for (i, (ki, k)) in kinds.iter().enumerate() {
        let mut r = Record::new(&schema).unwrap();
        r.put("id", Value::Int(i as i32));
        r.put("name", format!("item {i}"));
        r.put("score", Value::Float(0.25));
        r.put("legacy", "dropped");
        r.put("kind", Value::Enum(*ki, k.to_string()));
        r.put("vec", Value::Array(vec![Value::Float(1.0), Value::Float(2.0)]));
        r.put("note", Value::Union(1, Box::new(Value::String("n".into()))));
        w.append_value(r).unwrap();
    }
    std::fs::write(path, w.into_inner().unwrap()).unwrap();
}

#[test]
fn reader_schema_evolution() {
    let dir = TempDir::new("evolve");
    let path = dir.path("v1.avro");
    write_v1(&path, &[(0, "A"), (2, "C")]);
    let mapping =
        FieldMapping { id: Some("id".into()), text: vec!["title".into()], vector: Some("vec".into()), metadata: vec!["*".into()] };
    // the reader schema given as a JSON object (a string works too, see below)
    let v2: Json = serde_json::from_str(V2).unwrap();
    let rows = read_all(&spec(&path, json!({ "readerSchema": v2 }), mapping.clone()), 100).unwrap();
    let r0 = rows[0].as_ref().unwrap();
    assert_eq!(r0.id, "0");
    assert_eq!(r0.text.as_deref(), Some("item 0"), "renamed through the alias");
    assert_eq!(r0.vector, Some(vec![1.0, 2.0]), "array<float> promoted to array<double>, in a union");
    assert_eq!(
        Json::Object(r0.metadata.clone().unwrap()),
        json!({"score": 0.25, "kind": "A", "note": "n", "lang": "en", "added": "1970-01-01", "extra": null}),
        "legacy dropped, defaults filled, int promoted"
    );
    let r1 = rows[1].as_ref().unwrap();
    assert_eq!(r1.metadata.as_ref().unwrap()["kind"], json!("A"), "unknown symbol C takes the reader enum default");

    // the same schema as a string
    let rows2 = read_all(&spec(&path, json!({ "readerSchema": V2 }), mapping), 100).unwrap();
    assert_eq!(rows, rows2);
}

#[test]
fn enum_symbol_without_default_is_a_row_error() {
    let dir = TempDir::new("enum");
    let path = dir.path("v1.avro");
    write_v1(&path, &[(0, "A"), (2, "C"), (1, "B")]);
    let reader = V1.replace(r#"["A", "B", "C"]"#, r#"["A", "B"]"#);
    let rows =
        read_all(&spec(&path, json!({ "readerSchema": reader }), FieldMapping { metadata: vec!["*".into()], ..Default::default() }), 100)
            .unwrap();
    assert_eq!(rows.len(), 3, "the stream goes on after a row error");
    assert!(rows[0].is_ok() && rows[2].is_ok());
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert_eq!(e.position.row, Some(1));
    assert_eq!(e.position.field.as_deref(), Some("kind"));
    assert!(e.message.contains("'C'"), "{e}");
}

#[test]
fn incompatible_reader_schema_fails_at_open() {
    let dir = TempDir::new("incompat");
    let path = dir.path("v1.avro");
    write_v1(&path, &[(0, "A")]);
    let reader = r#"{"type": "record", "name": "Item", "fields": [{"name": "id", "type": "int"}, {"name": "price", "type": "double"}]}"#;
    let e = read_all(&spec(&path, json!({ "readerSchema": reader }), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert_eq!(e.position.field.as_deref(), Some("price"));
    assert!(e.message.contains("no default"), "{e}");

    let narrowing = r#"{"type": "record", "name": "Item", "fields": [{"name": "score", "type": "int"}]}"#;
    let e = read_all(&spec(&path, json!({ "readerSchema": narrowing }), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert_eq!(e.position.field.as_deref(), Some("score"));

    let e = read_all(&spec(&path, json!({ "readerSchema": "{not json" }), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert!(e.message.contains("readerSchema"));
}

#[test]
fn vector_field_of_wrong_type_or_missing() {
    let dir = TempDir::new("vec");
    let path = dir.path("p.avro");
    write_products(&path, 1, Codec::Null, 16_000);
    let e = read_all(&spec(&path, json!({}), FieldMapping { vector: Some("colors".into()), ..Default::default() }), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert_eq!(e.position.field.as_deref(), Some("colors"));
    assert!(e.message.contains("array<float>"), "{e}");
    let e = read_all(&spec(&path, json!({}), FieldMapping { vector: Some("embeding".into()), ..Default::default() }), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert!(e.message.contains("embedding"), "lists the fields: {e}");
}

#[test]
fn bad_options_and_missing_or_foreign_files() {
    let dir = TempDir::new("bad");
    let e = read_all(&spec(&dir.path("nope.avro"), json!({}), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::NotFound);
    assert_eq!(e.position.source, dir.path("nope.avro").to_string_lossy());

    let csv = dir.path("data.avro");
    std::fs::write(&csv, "id,title\n1,hello\n").unwrap();
    let e = read_all(&spec(&csv, json!({}), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::Parse);
    assert!(e.message.contains("not a readable Avro"), "{e}");

    let e = read_all(&spec(&csv, json!({ "schema": "x" }), FieldMapping::default()), 10).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::InvalidArg);
    assert!(e.message.contains("schema"), "{e}");
}

/// Byte offsets of the sync markers in a file: the header's, then one after each block.
fn sync_offsets(bytes: &[u8]) -> Vec<usize> {
    // Header: magic, then the metadata map<bytes> in blocks, then the 16-byte marker.
    let mut i = 4;
    loop {
        let (count, n) = varint(&bytes[i..]);
        i += n;
        if count == 0 {
            break;
        }
        if count < 0 {
            i += varint(&bytes[i..]).1; // block size in bytes
        }
        for _ in 0..count.unsigned_abs() {
            for _ in 0..2 {
                let (len, n) = varint(&bytes[i..]);
                i += n + len as usize;
            }
        }
    }
    let marker = &bytes[i..i + 16];
    let mut found = vec![i];
    i += 16;
    // Each block: object count, byte size, data, marker.
    while i < bytes.len() {
        let (_count, n1) = varint(&bytes[i..]);
        let (size, n2) = varint(&bytes[i + n1..]);
        i += n1 + n2 + size as usize;
        assert_eq!(&bytes[i..i + 16], marker);
        found.push(i);
        i += 16;
    }
    found
}

#[test]
fn truncated_file_delivers_the_rows_before_then_err_parse() {
    let dir = TempDir::new("trunc");
    let path = dir.path("p.avro");
    // Small blocks: about ten records each.
    write_products(&path, 100, Codec::Null, 2_000);
    let bytes = std::fs::read(&path).unwrap();
    let syncs = sync_offsets(&bytes);
    assert!(syncs.len() > 3, "several blocks");
    // Cut the file in the middle of the third data block.
    let third_start = syncs[2] + 16;
    let cut = (third_start + syncs[3]) / 2;
    let short = dir.path("short.avro");
    std::fs::write(&short, &bytes[..cut]).unwrap();

    let mut src = hektor_source_avro::open(&spec(&short, json!({}), full_mapping())).unwrap();
    let mut ok = 0;
    let err = loop {
        match src.next_batch(7) {
            Ok(Some(b)) => ok += b.rows.iter().filter(|r| r.is_ok()).count(),
            Ok(None) => panic!("a truncated file must not end cleanly"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.code, AdapterErrorCode::Parse);
    assert!(err.message.contains("truncated"), "{err}");
    assert_eq!(err.position.row, Some(ok as u64), "the error names the first row it could not read");
    assert_eq!(err.position.byte, Some(third_start as u64), "the block being read");
    assert!(ok > 0 && ok < 100);
    assert!(src.next_batch(7).unwrap().is_none(), "the stream has ended");
}

#[test]
fn corrupt_sync_marker_and_block_length() {
    let dir = TempDir::new("corrupt");
    let path = dir.path("p.avro");
    write_products(&path, 60, Codec::Deflate(DeflateSettings::default()), 2_000);
    let bytes = std::fs::read(&path).unwrap();
    let syncs = sync_offsets(&bytes);

    // Flip a byte of the second block's trailing sync marker.
    let mut bad = bytes.clone();
    bad[syncs[2] + 5] ^= 0xff;
    let p1 = dir.path("sync.avro");
    std::fs::write(&p1, &bad).unwrap();
    let e = read_all(&spec(&p1, json!({}), full_mapping()), 1000).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::Parse);
    assert_eq!(e.position.byte, Some(syncs[1] as u64 + 16), "the second data block");
    assert!(e.position.row.unwrap() > 0);

    // Replace the second block's byte count with an absurd varint (2^40).
    let mut bad = bytes[..syncs[1] + 16].to_vec();
    let mut rest = &bytes[syncs[1] + 16..];
    let (_count, n1) = varint(rest);
    bad.extend_from_slice(&rest[..n1]);
    rest = &rest[n1..];
    let (_len, n2) = varint(rest);
    bad.extend_from_slice(&zigzag_varint(1 << 40));
    bad.extend_from_slice(&rest[n2..]);
    let p2 = dir.path("len.avro");
    std::fs::write(&p2, &bad).unwrap();
    let e = read_all(&spec(&p2, json!({}), full_mapping()), 1000).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::Limit, "{e}");
    assert_eq!(e.position.byte, Some(syncs[1] as u64 + 16));

    // Garbage inside a deflate block.
    let mut bad = bytes.clone();
    for b in &mut bad[syncs[1] + 30..syncs[1] + 60] {
        *b = 0x5a;
    }
    let p3 = dir.path("deflate.avro");
    std::fs::write(&p3, &bad).unwrap();
    let e = read_all(&spec(&p3, json!({}), full_mapping()), 1000).unwrap_err();
    assert_eq!(e.code, AdapterErrorCode::Parse, "{e}");
}

fn varint(b: &[u8]) -> (i64, usize) {
    let (mut v, mut shift, mut i) = (0u64, 0, 0);
    loop {
        let byte = b[i];
        v |= u64::from(byte & 0x7f) << shift;
        i += 1;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (((v >> 1) as i64) ^ -((v & 1) as i64), i)
}

fn zigzag_varint(n: i64) -> Vec<u8> {
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

#[test]
fn non_record_files_are_wrapped_in_value() {
    let dir = TempDir::new("scalar");
    let path = dir.path("s.avro");
    let schema = Schema::parse_str(r#"{"type": "array", "items": "double"}"#).unwrap();
    let mut w = Writer::new(&schema, Vec::new()).unwrap();
    w.append_value(Value::Array(vec![Value::Double(1.0), Value::Double(2.0)])).unwrap();
    std::fs::write(&path, w.into_inner().unwrap()).unwrap();
    let rows = read_all(&spec(&path, json!({}), FieldMapping { vector: Some("value".into()), ..Default::default() }), 10);
    // A top-level array is not a record field: the vector path cannot name it.
    assert_eq!(rows.unwrap_err().code, AdapterErrorCode::InvalidArg);
    let rows = read_all(&spec(&path, json!({}), FieldMapping { metadata: vec!["*".into()], ..Default::default() }), 10).unwrap();
    assert_eq!(rows[0].as_ref().unwrap().metadata.as_ref().unwrap()["value"], json!([1.0, 2.0]));
}

#[test]
fn streams_many_rows_in_bounded_batches() {
    let dir = TempDir::new("many");
    let path = dir.path("many.avro");
    let schema = Schema::parse_str(
        r#"{"type": "record", "name": "R", "fields": [
            {"name": "id", "type": "long"}, {"name": "t", "type": "string"},
            {"name": "v", "type": {"type": "array", "items": "float"}}]}"#,
    )
    .unwrap();
    let n = 120_000usize;
    {
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut w = Writer::with_codec(&schema, file, Codec::Snappy).unwrap();
        for i in 0..n {
            w.append_value(Value::Record(vec![
                ("id".into(), Value::Long(i as i64)),
                ("t".into(), Value::String(format!("row {i}"))),
                ("v".into(), Value::Array((0..8).map(|k| Value::Float((i + k) as f32)).collect())),
            ]))
            .unwrap();
        }
        w.flush().unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    let mapping = FieldMapping { id: Some("id".into()), text: vec!["t".into()], vector: Some("v".into()), metadata: vec![] };
    let mut src = hektor_source_avro::open(&spec(&path, json!({}), mapping)).unwrap();
    let (mut rows, mut last_bytes, mut batches) = (0u64, 0u64, 0);
    while let Some(b) = src.next_batch(1000).unwrap() {
        assert!(b.len() <= 1000);
        batches += 1;
        for r in &b.rows {
            let r = r.as_ref().unwrap();
            assert_eq!(r.id, rows.to_string());
            assert_eq!(r.vector.as_ref().unwrap()[7], (rows + 7) as f32);
            rows += 1;
        }
        let p = src.progress();
        assert!(p.bytes >= last_bytes && p.bytes <= size);
        last_bytes = p.bytes;
    }
    assert_eq!(rows, n as u64);
    assert_eq!(batches, n / 1000);
    assert_eq!(src.progress().bytes, size);
}
