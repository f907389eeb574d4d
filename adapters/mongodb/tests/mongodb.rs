//! Tests against a real MongoDB wire-protocol server, `HEKTOR_TEST_MONGO_URL`
//! (`node scripts/services.mjs run -- cargo test -p hektor-source-mongodb` starts
//! `nx-27017` and sets it; `npm test` always does). Without it the server tests are
//! skipped with a message. Each test writes its own collection with the official driver
//! and drops it.

use hektor_adapters_api::{AdapterError, FieldMapping, Source, SourceRecord, SourceSpec};
use hektor_source_mongodb::open;
use mongodb::bson::binary::Vector;
use mongodb::bson::{doc, oid::ObjectId, Binary, Bson, DateTime, Document};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};

const DB: &str = "hektor_test";

fn url() -> Option<String> {
    match std::env::var("HEKTOR_TEST_MONGO_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            skipped("HEKTOR_TEST_MONGO_URL is not set; run `node scripts/services.mjs run -- cargo test -p hektor-source-mongodb`");
            None
        }
    }
}

/// Says a test was skipped on the real stderr (the test harness captures `eprintln!`).
fn skipped(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {msg} ***");
}

fn coll_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{}_{}_{}", tag, std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A collection written with the official driver, dropped at the end of the test.
struct Coll {
    url: String,
    name: String,
}

impl Coll {
    fn new(url: &str, tag: &str, docs: Vec<Document>) -> Coll {
        let c = Coll { url: url.to_string(), name: coll_name(tag) };
        c.run(|coll| async move {
            for chunk in docs.chunks(5000) {
                coll.insert_many(chunk.to_vec()).await.expect("insert_many");
            }
        });
        c
    }

    fn run<F, Fut>(&self, f: F)
    where
        F: FnOnce(mongodb::Collection<Document>) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let client = mongodb::Client::with_uri_str(&self.url).await.unwrap();
            f(client.database(DB).collection(&self.name)).await;
            client.shutdown().await;
        });
    }
}

impl Drop for Coll {
    fn drop(&mut self) {
        self.run(|c| async move {
            let _ = c.drop().await;
        });
    }
}

fn spec(location: &str, options: Value, mapping: FieldMapping) -> SourceSpec {
    SourceSpec { kind: "mongodb".into(), location: location.into(), options, mapping }
}

fn drain(src: &mut dyn Source, max: usize) -> Vec<Result<SourceRecord, AdapterError>> {
    let mut out = Vec::new();
    while let Some(b) = src.next_batch(max).expect("batch") {
        assert!(b.len() <= max);
        out.extend(b.rows);
    }
    out
}

fn open_err(s: &SourceSpec) -> AdapterError {
    match open(s) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn sample_docs(ids: &[ObjectId]) -> Vec<Document> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            doc! {
                "_id": *id,
                "n": i as i32,
                "sku": format!("SKU-{i}"),
                "title": format!("Title {i}"),
                "author": {"name": format!("Ann {i}"), "tags": ["a", "b"]},
                "emb": [i as f64, 0.5, -1.0],
                "created": DateTime::from_millis(1_709_287_200_000 + i as i64 * 1000),
                "big": Bson::Int64(9_007_199_254_740_993),
                "ok": i % 2 == 0,
                "blob": Binary { subtype: mongodb::bson::spec::BinarySubtype::Generic, bytes: vec![0, 1, 2, 255] },
                "nothing": Bson::Null,
            }
        })
        .collect()
}

#[test]
fn happy_path_ids_text_vectors_nested_metadata_and_progress() {
    let Some(url) = url() else { return };
    let ids: Vec<ObjectId> = (0..5).map(|_| ObjectId::new()).collect();
    let c = Coll::new(&url, "docs", sample_docs(&ids));
    let mapping = FieldMapping {
        id: None,
        text: vec!["title".into(), "author.name".into()],
        vector: Some("emb".into()),
        metadata: vec!["*".into()],
    };
    let opts = json!({"db": DB, "collection": c.name, "filter": {"n": {"$gte": 1}}, "sort": {"n": 1}, "batchSize": 2, "countTotal": true});
    let mut src = open(&spec(&url, opts, mapping)).unwrap();
    assert_eq!(src.progress().total_rows, Some(4));
    let b = src.next_batch(3).unwrap().unwrap();
    assert_eq!(b.len(), 3);
    let r = b.rows[0].as_ref().unwrap();
    assert_eq!(r.id, ids[1].to_hex(), "the _id is the natural id");
    assert_eq!(r.text.as_deref(), Some("Title 1\n\nAnn 1"));
    assert_eq!(r.vector, Some(vec![1.0, 0.5, -1.0]));
    let m = r.metadata.as_ref().unwrap();
    assert!(!m.contains_key("_id") && !m.contains_key("emb") && !m.contains_key("title"));
    assert_eq!(m["author"], json!({"name": "Ann 1", "tags": ["a", "b"]}));
    assert_eq!(m["created"], json!("2024-03-01T10:00:01Z"));
    assert_eq!(m["big"], json!(9_007_199_254_740_993i64));
    assert_eq!(m["ok"], json!(false));
    assert_eq!(m["blob"], json!("AAEC/w=="));
    assert_eq!(m["nothing"], Value::Null);
    assert_eq!(m["n"], json!(1));
    let rest = drain(src.as_mut(), 3);
    assert_eq!(rest.len(), 1);
    let p = src.progress();
    assert_eq!((p.rows, p.total_rows), (4, Some(4)));
    assert!(p.bytes > 400, "BSON bytes are counted: {}", p.bytes);

    // an explicit id, a projection, a limit, and extended JSON in the filter
    let mapping = FieldMapping { id: Some("sku".into()), metadata: vec!["author.tags".into(), "_id".into()], ..Default::default() };
    let opts = json!({"db": DB, "collection": c.name, "filter": {"_id": {"$in": [{"$oid": ids[2].to_hex()}, {"$oid": ids[3].to_hex()}]}},
        "projection": {"sku": 1, "author": 1}, "sort": {"n": -1}, "limit": 1});
    let mut src = open(&spec(&url, opts, mapping)).unwrap();
    let rows = drain(src.as_mut(), 10);
    assert_eq!(rows.len(), 1);
    let r = rows[0].as_ref().unwrap();
    assert_eq!(r.id, "SKU-3");
    assert_eq!(r.metadata.as_ref().unwrap()["author.tags"], json!(["a", "b"]));
    assert_eq!(r.metadata.as_ref().unwrap()["_id"], json!(ids[3].to_hex()));
}

#[test]
fn mixed_number_arrays_decode_natively() {
    let Some(url) = url() else { return };
    let docs = vec![
        doc! {"_id": 1, "v": [1i32, Bson::Int64(2), 3.5]},
        doc! {"_id": 2, "v": Bson::Null},
        doc! {"_id": 3},
        doc! {"_id": 4, "nested": {"v": [0.5, 0.25]}},
    ];
    let c = Coll::new(&url, "vec", docs);
    let mapping = FieldMapping { vector: Some("v".into()), ..Default::default() };
    let mut src = open(&spec(&url, json!({"db": DB, "collection": c.name, "sort": {"_id": 1}}), mapping)).unwrap();
    let rows: Vec<SourceRecord> = drain(src.as_mut(), 10).into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(rows[0].id, "1", "integer _id as the id");
    assert_eq!(rows[0].vector, Some(vec![1.0, 2.0, 3.5]));
    assert_eq!((rows[1].vector.as_ref(), rows[2].vector.as_ref()), (None, None));
    let mapping = FieldMapping { vector: Some("nested.v".into()), ..Default::default() };
    let mut src = open(&spec(&url, json!({"db": DB, "collection": c.name, "filter": {"_id": 4}}), mapping)).unwrap();
    assert_eq!(drain(src.as_mut(), 10)[0].as_ref().unwrap().vector, Some(vec![0.5, 0.25]));
}

/// Binary vectors (subtype 9) and Decimal128 as written by the bson crate: nx-27017 does
/// not store either (it answers Decimal128 with a write error and returns subtype 9 as
/// generic binary), so these are checked on the driver's own encoding.
#[test]
fn bson_binary_vectors_and_decimals_from_the_reference_encoder() {
    use mongodb::bson::RawDocumentBuf;
    let d = RawDocumentBuf::from_document(&doc! {
        "f": Binary::from(Vector::Float32(vec![0.25, -1.5, 3.0])),
        "i": Binary::from(Vector::Int8(vec![-3, 0, 7])),
        "b": Binary::from(Vector::PackedBit(mongodb::bson::binary::PackedBitVector::new(vec![0b1110_1110, 0b1110_0000], 4).unwrap())),
        "s": "nope",
    })
    .unwrap();
    let get = |k: &str| hektor_source_mongodb::decode_vector(d.get(k).unwrap().unwrap());
    assert_eq!(get("f").unwrap(), Some(vec![0.25, -1.5, 3.0]));
    assert_eq!(get("i").unwrap(), Some(vec![-3.0, 0.0, 7.0]));
    assert_eq!(get("b").unwrap(), Some(vec![1., 1., 1., 0., 1., 1., 1., 0., 1., 1., 1., 0.]));
    assert!(get("s").unwrap_err().contains("array of numbers"));
    let price: mongodb::bson::Decimal128 = "1234.5678".parse().unwrap();
    let d = RawDocumentBuf::from_document(&doc! {"price": price, "u": Binary { subtype: mongodb::bson::spec::BinarySubtype::Uuid, bytes: vec![0xab; 16] }}).unwrap();
    let j = hektor_source_mongodb::document_to_json(&d).unwrap();
    assert_eq!(j["price"], json!("1234.5678"));
    assert_eq!(j["u"], json!("abababab-abab-abab-abab-abababababab"));
}

#[test]
fn streams_100k_documents_in_bounded_batches() {
    let Some(url) = url() else { return };
    let n = 100_000;
    let docs: Vec<Document> = (0..n).map(|i| doc! {"_id": i, "body": format!("doc {i}"), "emb": [i as f64, 1.0]}).collect();
    let c = Coll::new(&url, "big", docs);
    let mapping = FieldMapping { text: vec!["body".into()], vector: Some("emb".into()), ..Default::default() };
    let mut src = open(&spec(&url, json!({"db": DB, "collection": c.name, "batchSize": 700}), mapping)).unwrap();
    let (mut count, mut batches) = (0, 0);
    while let Some(b) = src.next_batch(1000).unwrap() {
        assert!(b.len() <= 1000);
        batches += 1;
        count += b.rows.iter().filter(|r| r.is_ok()).count();
    }
    assert_eq!((count, batches), (n as usize, 100));
    assert_eq!(src.progress().total_rows, None, "no count unless asked");
}

#[test]
fn wrong_vector_type_is_a_row_error_naming_row_and_field() {
    let Some(url) = url() else { return };
    let docs = vec![doc! {"_id": 1, "v": [1.0, 2.0]}, doc! {"_id": 2, "v": "1,2"}, doc! {"_id": 3, "v": [1.0, "x"]}];
    let c = Coll::new(&url, "badvec", docs);
    let mapping = FieldMapping { vector: Some("v".into()), ..Default::default() };
    let mut src = open(&spec(&url, json!({"db": DB, "collection": c.name, "sort": {"_id": 1}}), mapping)).unwrap();
    let rows = drain(src.as_mut(), 10);
    assert!(rows[0].is_ok());
    for (row, r) in rows.iter().enumerate().skip(1) {
        let e = r.as_ref().unwrap_err();
        assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
        assert_eq!((e.position.row, e.position.field.as_deref()), (Some(row as u64), Some("v")));
        assert!(e.position.source.ends_with(&format!(" {DB}.{}", c.name)), "{}", e.position.source);
    }
}

#[test]
fn missing_collection_and_bad_options() {
    let Some(url) = url() else { return };
    let e = open_err(&spec(&url, json!({"db": DB, "collection": "hektor_no_such_collection"}), FieldMapping::default()));
    assert_eq!((e.code.as_str(), e.position.field.as_deref()), ("ERR_NOT_FOUND", Some("collection")));
    let e = open_err(&spec(&url, json!({"db": DB}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    let e = open_err(&spec(&url, json!({"db": DB, "collection": "x", "filter": {"_id": {"$oid": "not-hex"}}}), FieldMapping::default()));
    assert_eq!((e.code.as_str(), e.position.field.as_deref()), ("ERR_INVALID_ARG", Some("filter")));
    let e = open_err(&spec(&url, json!({"db": DB, "collection": "x", "filter": [1]}), FieldMapping::default()));
    assert_eq!((e.code.as_str(), e.position.field.as_deref()), ("ERR_INVALID_ARG", Some("filter")));
    let e = open_err(&spec(&url, json!({"db": DB, "collection": "x", "batch": 3}), FieldMapping::default()));
    assert!(e.message.contains("batch"));
}

#[test]
fn unreachable_server_is_connect_error_without_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let location = format!("mongodb://bob:hunter2secret@127.0.0.1:{port}/?authSource=admin");
    let t = std::time::Instant::now();
    let e = open_err(&spec(&location, json!({"db": "x", "collection": "y", "timeoutMs": 500}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_CONNECT", "{e}");
    assert!(t.elapsed().as_secs() < 5, "the short server selection timeout applies");
    assert!(e.position.source.starts_with(&format!("mongodb://bob:***@127.0.0.1:{port}/")), "{}", e.position.source);
    assert!(!format!("{e} {e:?}").contains("hunter2secret"));
    let e = open_err(&spec("mongodb://bob:hunter2secret@127.0.0.1:1/?tls=maybe", json!({"db": "x", "collection": "y"}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG", "{e}");
    assert!(!format!("{e} {e:?}").contains("hunter2secret"));
}

/// nx-27017 has no users: the driver's SCRAM conversation with it fails, which takes the
/// same path (the driver's authentication error) as a wrong password on a real server.
#[test]
fn refused_credentials_are_auth_errors_without_password() {
    let Some(url) = url() else { return };
    let location = url.replacen("mongodb://", "mongodb://bob:hunter2secret@", 1);
    let e = open_err(&spec(&location, json!({"db": DB, "collection": "x"}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_AUTH", "{e}");
    assert!(!format!("{e} {e:?}").contains("hunter2secret"));
    assert!(e.position.source.contains("bob:***@"));
}
