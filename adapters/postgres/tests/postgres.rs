//! Tests against a real PostgreSQL: `HEKTOR_TEST_PG_URL`, else
//! `postgres://postgres@127.0.0.1:5432/hektor_test` (`node scripts/services.mjs run -- cargo
//! test -p hektor-source-postgres` starts the server and creates the database). Each test
//! creates and drops its own table, written with tokio-postgres.

use hektor_adapters_api::{AdapterError, FieldMapping, Source, SourceSpec};
use hektor_source_postgres::{open, Decoder};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};

fn url() -> String {
    std::env::var("HEKTOR_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/hektor_test".into())
}

/// Says a test was skipped on the real stderr (the test harness captures `eprintln!`).
fn skipped(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {msg} ***");
}

/// A unique table name for this process and test.
fn table(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("hektor_{}_{}_{}", tag, std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Runs SQL statements (with tokio-postgres, the reference client) on the test database.
fn sql(statements: &str) {
    with_client(|c| async move { c.batch_execute(statements).await.expect("setup SQL") });
}

fn with_client<F, Fut, T>(f: F) -> T
where
    F: FnOnce(tokio_postgres::Client) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.expect("connect to the test PostgreSQL");
        let h = tokio::spawn(conn);
        let out = f(client).await;
        let _ = h.await;
        out
    })
}

/// Drops the table when the test ends, even when it fails.
struct Table(String);
impl Drop for Table {
    fn drop(&mut self) {
        sql(&format!("DROP TABLE IF EXISTS {}", self.0));
    }
}

fn spec(location: &str, options: Value, mapping: FieldMapping) -> SourceSpec {
    SourceSpec { kind: "postgres".into(), location: location.into(), options, mapping }
}

fn open_err(s: &SourceSpec) -> AdapterError {
    match open(s) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn drain(src: &mut dyn Source, max: usize) -> Vec<Result<hektor_adapters_api::SourceRecord, AdapterError>> {
    let mut out = Vec::new();
    while let Some(b) = src.next_batch(max).expect("batch") {
        assert!(b.len() <= max);
        out.extend(b.rows);
    }
    out
}

#[test]
fn happy_path_all_fields_vectors_metadata_and_progress() {
    let t = Table(table("docs"));
    with_client(|c| {
        let t = t.0.clone();
        async move {
            c.batch_execute(&format!(
                "CREATE TABLE {t} (id int8 PRIMARY KEY, title text, body varchar(200), emb real[], meta jsonb, price numeric(10,2),
                 created timestamptz, day date, ok bool, uid uuid, raw bytea, tags text[], n int4)"
            ))
            .await
            .unwrap();
            let stmt = format!("INSERT INTO {t} VALUES ($1, $2, $3, $4, $5, $6::text::numeric, $7::text::timestamptz, $8::text::date, $9, $10::text::uuid, $11, $12, $13)");
            for i in 0..5i64 {
                let emb: Vec<f32> = vec![i as f32, 0.5, -1.25];
                let meta = json!({"author": {"name": format!("a{i}")}, "rank": i});
                let tags = vec![format!("t{i}"), "all".to_string()];
                let n: Option<i32> = if i == 2 { None } else { Some(i as i32 * 10) };
                c.execute(
                    stmt.as_str(),
                    &[&i, &format!("Title {i}"), &format!("Body {i}"), &emb, &meta, &format!("{i}.25"), &"2024-03-01T10:00:00+02:00", &"2024-03-01", &(i % 2 == 0), &"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", &vec![0u8, 1, 2, 255], &tags, &n],
                )
                .await
                .unwrap();
            }
        }
    });
    let mapping = FieldMapping {
        id: Some("id".into()),
        text: vec!["title".into(), "body".into()],
        vector: Some("emb".into()),
        metadata: vec!["*".into()],
    };
    let q = format!("SELECT * FROM {} WHERE id >= $1 ORDER BY id", t.0);
    let mut src = open(&spec(&url(), json!({"query": q, "params": [1], "batchSize": 2, "countTotal": true}), mapping)).unwrap();
    assert_eq!(src.progress().total_rows, Some(4));
    let first = src.next_batch(3).unwrap().unwrap();
    assert_eq!(first.len(), 3, "three rows from two fetches of batchSize 2");
    let rec = first.rows[0].as_ref().unwrap();
    assert_eq!(rec.id, "1");
    assert_eq!(rec.text.as_deref(), Some("Title 1\n\nBody 1"));
    assert_eq!(rec.vector, Some(vec![1.0, 0.5, -1.25]));
    let m = rec.metadata.as_ref().unwrap();
    assert!(!m.contains_key("emb") && !m.contains_key("title") && !m.contains_key("id"));
    assert_eq!(m["meta"], json!({"author": {"name": "a1"}, "rank": 1}));
    assert_eq!(m["price"], json!(1.25));
    assert_eq!(m["created"], json!("2024-03-01T08:00:00Z"));
    assert_eq!(m["day"], json!("2024-03-01"));
    assert_eq!(m["ok"], json!(false));
    assert_eq!(m["uid"], json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    assert_eq!(m["raw"], json!("AAEC/w=="));
    assert_eq!(m["tags"], json!(["t1", "all"]));
    assert_eq!(m["n"], json!(10));
    let null_row = first.rows[1].as_ref().unwrap();
    assert_eq!(null_row.metadata.as_ref().unwrap()["n"], Value::Null);
    assert_eq!(src.progress().rows, 3);
    let rest = drain(src.as_mut(), 3);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].as_ref().unwrap().id, "4");
    let p = src.progress();
    assert_eq!((p.rows, p.total_rows), (4, Some(4)));
    assert!(p.bytes > 100, "bytes read are counted: {}", p.bytes);

    // dotted paths into jsonb, and generated ids
    let mapping = FieldMapping { text: vec!["meta.author.name".into()], metadata: vec!["meta.rank".into()], ..Default::default() };
    let mut src = open(&spec(&url(), json!({"query": format!("SELECT meta FROM {} ORDER BY id", t.0)}), mapping)).unwrap();
    let rows = drain(src.as_mut(), 10);
    let r = rows[3].as_ref().unwrap();
    assert_eq!(r.text.as_deref(), Some("a3"));
    assert_eq!(r.metadata.as_ref().unwrap()["meta.rank"], json!(3));
    assert!(r.id.ends_with(" query:3"), "generated id: {}", r.id);
}

#[test]
fn types_map_to_natural_json() {
    let q = "SELECT 1::int2 AS i2, 2147483647::int4 AS i4, 9007199254740993::int8 AS i8, 1.5::float4 AS f4, 'NaN'::float8 AS nan,
        12345678901234567890.123::numeric AS big, '-0.0042'::numeric AS small, 'x'::\"char\" AS ch, 'abc'::char(5) AS bp,
        '2024-02-29 13:45:00.25'::timestamp AS ts, 'infinity'::timestamp AS inf, '13:45:00.5'::time AS t, '13:45:00+02'::timetz AS tz,
        '1 year 2 mons 3 days 04:05:06.5'::interval AS iv, '192.168.0.1'::inet AS ip, '10.0.0.0/8'::cidr AS net,
        '08:00:2b:01:02:03'::macaddr AS mac, B'1011' AS bits, ARRAY[[1,2],[3,4]]::int4[] AS grid, ARRAY['a', NULL]::text[] AS sparse,
        '[1,2]'::json AS js, '12.50'::money AS cash, NULL::text AS nothing";
    let mut src = open(&spec(&url(), json!({"query": q}), FieldMapping { metadata: vec!["*".into()], ..Default::default() })).unwrap();
    let rows = drain(src.as_mut(), 10);
    let m = rows[0].as_ref().unwrap().metadata.clone().unwrap();
    let expect = json!({
        "i2": 1, "i4": 2147483647, "i8": 9007199254740993i64, "f4": 1.5, "nan": "NaN",
        "big": 12345678901234567890.123f64, "small": -0.0042, "ch": "x", "bp": "abc  ",
        "ts": "2024-02-29T13:45:00.250", "inf": "infinity", "t": "13:45:00.5", "tz": "13:45:00+02:00",
        "iv": "P1Y2M3DT4H5M6.5S", "ip": "192.168.0.1", "net": "10.0.0.0/8", "mac": "08:00:2b:01:02:03",
        "bits": "1011", "grid": [[1, 2], [3, 4]], "sparse": ["a", null], "js": [1, 2], "cash": 12.5, "nothing": null
    });
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&m[k], v, "column {k}");
    }
    // exact numerics on request
    let mut src = open(&spec(&url(), json!({"query": "SELECT 12345678901234567890.123::numeric AS big, 0.000100::numeric AS tiny, 'NaN'::numeric AS nan", "numericAsString": true}), FieldMapping { metadata: vec!["*".into()], ..Default::default() })).unwrap();
    let m = drain(src.as_mut(), 1)[0].as_ref().unwrap().metadata.clone().unwrap();
    assert_eq!(m["big"], json!("12345678901234567890.123"));
    assert_eq!(m["tiny"], json!("0.000100"));
    assert_eq!(m["nan"], json!("NaN"));
}

#[test]
fn params_of_many_types_are_bound_by_the_server() {
    let q = "SELECT $1::int8 + 1 AS a, $2::date AS d, $3::jsonb AS j, $4::text[] AS arr, $5::numeric * 2 AS n, $6::bool AS b, $7::text AS nul, $8::float8[] AS v";
    let params = json!([41, "2024-01-02", {"k": [1, "two"]}, ["x", "y \"z\""], "1.25", true, null, [0.5, 1]]);
    let mapping = FieldMapping { vector: Some("v".into()), metadata: vec!["*".into()], ..Default::default() };
    let mut src = open(&spec(&url(), json!({"query": q, "params": params}), mapping)).unwrap();
    let rows = drain(src.as_mut(), 5);
    let r = rows[0].as_ref().unwrap();
    assert_eq!(r.vector, Some(vec![0.5, 1.0]), "float8[] decodes natively to f32");
    let m = r.metadata.as_ref().unwrap();
    assert_eq!(m["a"], json!(42));
    assert_eq!(m["d"], json!("2024-01-02"));
    assert_eq!(m["j"], json!({"k": [1, "two"]}));
    assert_eq!(m["arr"], json!(["x", "y \"z\""]));
    assert_eq!(m["n"], json!(2.5));
    assert_eq!(m["b"], json!(true));
    assert_eq!(m["nul"], Value::Null);
}

#[test]
fn streams_100k_rows_in_bounded_batches() {
    let q = "SELECT g AS id, 'row ' || g AS body, ARRAY[g::real, 1, 2, 3] AS emb FROM generate_series(1, 100000) AS g";
    let mapping = FieldMapping { id: Some("id".into()), text: vec!["body".into()], vector: Some("emb".into()), ..Default::default() };
    let mut src = open(&spec(&url(), json!({"query": q, "batchSize": 700}), mapping)).unwrap();
    let (mut n, mut batches) = (0usize, 0usize);
    while let Some(b) = src.next_batch(1000).unwrap() {
        assert!(b.len() <= 1000);
        batches += 1;
        for r in &b.rows {
            let r = r.as_ref().unwrap();
            n += 1;
            assert_eq!(r.vector.as_ref().unwrap()[0], n as f32);
        }
    }
    assert_eq!((n, batches), (100_000, 100));
    assert_eq!(src.progress().rows, 100_000);
    assert_eq!(src.progress().total_rows, None, "no COUNT unless asked");
    assert!(src.next_batch(1000).unwrap().is_none());
}

#[test]
fn dropping_the_source_closes_its_connection() {
    let app = format!("hektor_drop_{}", std::process::id());
    let count = || -> i64 {
        let app = app.clone();
        with_client(|c| async move {
            c.query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", &[&app]).await.unwrap().get(0)
        })
    };
    let location = format!("{}?application_name={app}", url());
    let mut src = open(&spec(&location, json!({"query": "SELECT g FROM generate_series(1, 1000) g"}), FieldMapping::default())).unwrap();
    assert_eq!(src.next_batch(10).unwrap().unwrap().len(), 10);
    assert_eq!(count(), 1, "one open connection mid-stream");
    drop(src);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(count(), 0, "closed after drop");
    // also closed at the end of the stream, before the source is dropped
    let mut src = open(&spec(&location, json!({"query": "SELECT 1 AS x"}), FieldMapping::default())).unwrap();
    drain(src.as_mut(), 10);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(count(), 0, "closed at end of stream");
}

#[test]
fn sql_errors_are_parse_errors_with_sqlstate_and_no_password() {
    let location = url().replacen("postgres@", "postgres:hunter2secret@", 1);
    let e = open_err(&spec(&location, json!({"query": "SELEC id FROM nowhere"}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_PARSE");
    assert!(e.message.contains("42601"), "{}", e.message);
    assert!(e.position.source.ends_with(" query"), "{}", e.position.source);
    assert_eq!(e.position.field.as_deref(), Some("query"));
    assert!(!e.to_string().contains("hunter2secret"));
    let e = open_err(&spec(&location, json!({"query": "SELECT * FROM hektor_no_such_table"}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_NOT_FOUND");
    assert!(e.message.contains("42P01"));
    // a runtime error mid-stream ends the stream with the row reached
    let mut src = open(&spec(&location, json!({"query": "SELECT 10 / (3 - g) AS x FROM generate_series(1, 5) g", "batchSize": 1}), FieldMapping::default())).unwrap();
    assert!(!src.name().contains("hunter2secret"));
    assert_eq!(src.next_batch(10).unwrap().unwrap().len(), 2, "the rows before the error are delivered");
    let e = src.next_batch(10).unwrap_err();
    assert_eq!(e.code.as_str(), "ERR_PARSE");
    assert!(e.message.contains("22012"), "division by zero: {}", e.message);
    assert_eq!(e.position.row, Some(2));
}

#[test]
fn unreachable_server_is_connect_error_without_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let location = format!("postgres://bob:hunter2secret@127.0.0.1:{port}/db?sslmode=disable");
    let e = open_err(&spec(&location, json!({"query": "SELECT 1"}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_CONNECT", "{e}");
    assert_eq!(e.position.source, format!("postgres://bob:***@127.0.0.1:{port}/db?sslmode=disable query"));
    assert!(!format!("{e} {e:?}").contains("hunter2secret"));
}

#[test]
fn refused_role_is_auth_error() {
    let location = url().replacen("postgres@", "hektor_no_such_role:pw123456@", 1);
    let e = open_err(&spec(&location, json!({"query": "SELECT 1"}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_AUTH", "{e}");
    assert!(e.message.contains("28"), "{}", e.message);
    assert!(!format!("{e:?}").contains("pw123456"));
}

#[test]
fn wrong_vector_types_are_row_errors_naming_row_and_field() {
    let q = "SELECT g AS id, CASE WHEN g = 2 THEN ARRAY[1, NULL]::real[] ELSE ARRAY[1, 2]::real[] END AS emb, 'x' AS label FROM generate_series(1, 3) g";
    let mapping = FieldMapping { id: Some("id".into()), vector: Some("emb".into()), ..Default::default() };
    let mut src = open(&spec(&url(), json!({"query": q}), mapping)).unwrap();
    let rows = drain(src.as_mut(), 10);
    assert!(rows[0].is_ok() && rows[2].is_ok());
    let e = rows[1].as_ref().unwrap_err();
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert_eq!((e.position.row, e.position.field.as_deref()), (Some(1), Some("emb")));
    // a text column mapped as the vector
    let mapping = FieldMapping { vector: Some("label".into()), ..Default::default() };
    let mut src = open(&spec(&url(), json!({"query": q}), mapping)).unwrap();
    let rows = drain(src.as_mut(), 10);
    let e = rows[0].as_ref().unwrap_err();
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert_eq!((e.position.row, e.position.field.as_deref()), (Some(0), Some("label")));
}

#[test]
fn bad_options_and_params_are_invalid_arg() {
    let e = open_err(&spec(&url(), json!({"query": "SELECT 1", "batchsize": 3}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert!(e.message.contains("batchsize"));
    let e = open_err(&spec(&url(), json!({"query": "SELECT $1::int + $2::int"}), FieldMapping::default()));
    assert_eq!((e.code.as_str(), e.position.field.as_deref()), ("ERR_INVALID_ARG", Some("params")));
    let e = open_err(&spec(&url(), json!({"query": "SELECT $1::int AS x", "params": ["abc"]}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG", "{e}");
    assert!(e.message.contains("22P02"), "{}", e.message);
    let e = open_err(&spec(&url(), json!({"query": "SELECT point(1, 2) AS p"}), FieldMapping::default()));
    assert_eq!((e.code.as_str(), e.position.field.as_deref()), ("ERR_INVALID_ARG", Some("p")));
    assert!(e.message.contains("p::text"));
    let e = open_err(&spec(&url(), json!({"query": "SELECT 1", "tls": "sometimes"}), FieldMapping::default()));
    assert_eq!((e.code.as_str(), e.position.field.as_deref()), ("ERR_INVALID_ARG", Some("tls")));
}

fn server_has_tls() -> bool {
    with_client(|c| async move { c.query_one("SHOW ssl", &[]).await.map(|r| r.get::<_, String>(0) == "on").unwrap_or(false) })
}

#[test]
fn tls_modes_against_the_local_server() {
    if !server_has_tls() {
        skipped("tls_modes_against_the_local_server: this PostgreSQL has ssl = off");
        return;
    }
    let q = json!({"query": "SELECT ssl::text AS ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", "tls": "require"});
    let mut src = open(&spec(&url(), q, FieldMapping { metadata: vec!["ssl".into()], ..Default::default() })).unwrap();
    let rows = drain(src.as_mut(), 1);
    assert_eq!(rows[0].as_ref().unwrap().metadata.as_ref().unwrap()["ssl"], json!("true"), "the connection is encrypted");
    // Debian's snakeoil certificate (CN=localhost) as the CA: verify-full on 127.0.0.1 fails on the name
    let ca = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    if std::path::Path::new(ca).exists() && url().contains("127.0.0.1") {
        let e = open_err(&spec(&url(), json!({"query": "SELECT 1", "tls": "verify-full", "caFile": ca}), FieldMapping::default()));
        assert_eq!(e.code.as_str(), "ERR_CONNECT", "{e}");
        assert!(e.message.contains("certificate"), "{}", e.message);
        // verify-ca checks the chain only, and verify-full passes under the certificate's name
        assert!(open(&spec(&url(), json!({"query": "SELECT 1", "tls": "verify-ca", "caFile": ca}), FieldMapping::default())).is_ok());
        let by_name = url().replacen("127.0.0.1", "localhost", 1);
        if let Err(e) = open(&spec(&by_name, json!({"query": "SELECT 1", "tls": "verify-full", "caFile": ca}), FieldMapping::default())) {
            panic!("verify-full as localhost: {e}");
        }
        // the default roots do not trust it at all
        let e = open_err(&spec(&format!("{}?sslmode=verify-ca", url()), json!({"query": "SELECT 1"}), FieldMapping::default()));
        assert_eq!(e.code.as_str(), "ERR_CONNECT", "{e}");
    }
    let e = open_err(&spec(&url(), json!({"query": "SELECT 1", "caFile": "/nonexistent/ca.pem"}), FieldMapping::default()));
    assert_eq!((e.code.as_str(), e.position.field.as_deref()), ("ERR_INVALID_ARG", Some("caFile")));
}

fn pgvector_available() -> bool {
    with_client(|c| async move { c.batch_execute("CREATE EXTENSION IF NOT EXISTS vector").await.is_ok() })
}

#[test]
fn pgvector_columns_decode_natively() {
    if !pgvector_available() {
        skipped("pgvector_columns_decode_natively: the pgvector extension is not installed in this PostgreSQL (the decoder is covered by pgvector_wire_format_from_the_reference_writer)");
        return;
    }
    let t = Table(table("pgv"));
    sql(&format!(
        "CREATE TABLE {0} (id int PRIMARY KEY, v vector(3), h halfvec(3), s sparsevec(5));
         INSERT INTO {0} VALUES (1, '[1,2.5,-3]', '[0.5,1,2]', '{{1:1.5,4:-2}}/5'), (2, NULL, NULL, NULL)",
        t.0
    ));
    for (col, expect) in [("v", vec![1.0, 2.5, -3.0]), ("h", vec![0.5, 1.0, 2.0]), ("s", vec![1.5, 0.0, 0.0, -2.0, 0.0])] {
        let mapping = FieldMapping { id: Some("id".into()), vector: Some(col.into()), metadata: vec!["*".into()], ..Default::default() };
        let mut src = open(&spec(&url(), json!({"query": format!("SELECT * FROM {} ORDER BY id", t.0)}), mapping)).unwrap();
        let rows = drain(src.as_mut(), 10);
        let r = rows[0].as_ref().unwrap();
        assert_eq!(r.vector.as_deref(), Some(&expect[..]), "column {col}");
        if col != "v" {
            assert_eq!(r.metadata.as_ref().unwrap()["v"], json!([1.0, 2.5, -3.0]), "a vector column in the metadata");
        }
        assert_eq!(rows[1].as_ref().unwrap().vector, None);
    }
    // a vector parameter in pgvector's text form
    let mapping = FieldMapping { vector: Some("v".into()), ..Default::default() };
    let mut src = open(&spec(&url(), json!({"query": "SELECT $1::vector AS v", "params": [[1, 2, 3]]}), mapping)).unwrap();
    assert_eq!(drain(src.as_mut(), 1)[0].as_ref().unwrap().vector, Some(vec![1.0, 2.0, 3.0]));
}

#[test]
fn pgvector_wire_format_from_the_reference_writer() {
    use bytes::BytesMut;
    use tokio_postgres::types::{ToSql, Type};
    let ty = |name: &str| Type::new(name.into(), 0, tokio_postgres::types::Kind::Simple, "public".into());
    let mut buf = BytesMut::new();
    pgvector::Vector::from(vec![1.0, -2.5, 3.25]).to_sql(&ty("vector"), &mut buf).unwrap();
    assert_eq!(hektor_source_postgres_decode(&Decoder::Vector, &buf), vec![1.0, -2.5, 3.25]);
    let mut buf = BytesMut::new();
    pgvector::HalfVector::from_f32_slice(&[0.5, -1.0, 65504.0]).to_sql(&ty("halfvec"), &mut buf).unwrap();
    assert_eq!(hektor_source_postgres_decode(&Decoder::HalfVec, &buf), vec![0.5, -1.0, 65504.0]);
    let mut buf = BytesMut::new();
    pgvector::SparseVector::from_dense(&[0.0, 1.5, 0.0, -2.0]).to_sql(&ty("sparsevec"), &mut buf).unwrap();
    assert_eq!(hektor_source_postgres_decode(&Decoder::SparseVec, &buf), vec![0.0, 1.5, 0.0, -2.0]);
    // truncated values are errors, not panics
    assert!(hektor_source_postgres::decode_vector(&Decoder::Vector, &buf[..3]).is_err());
    assert!(hektor_source_postgres::decode_vector(&Decoder::SparseVec, &buf[..14]).is_err());
}

fn hektor_source_postgres_decode(d: &Decoder, raw: &[u8]) -> Vec<f32> {
    hektor_source_postgres::decode_vector(d, raw).unwrap()
}
