//! Tests against a real Redis: `HEKTOR_TEST_REDIS_URL`, else `redis://127.0.0.1:6379/9`
//! (`node scripts/services.mjs run -- cargo test -p hektor-source-redis` starts the server).
//! Each test writes its own keys under a unique prefix with the redis crate and deletes them.
//! The authentication test starts a throwaway `redis-server --requirepass` on a free port.

use hektor_adapters_api::{AdapterError, FieldMapping, Source, SourceRecord, SourceSpec};
use hektor_source_redis::open;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};

fn url() -> String {
    std::env::var("HEKTOR_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/9".into())
}

/// Says a test was skipped on the real stderr (the test harness captures `eprintln!`).
fn skipped(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {msg} ***");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Keys under a unique prefix, written with the redis crate and deleted at the end.
struct Keys {
    prefix: String,
}

impl Keys {
    fn new(tag: &str) -> Keys {
        static N: AtomicU32 = AtomicU32::new(0);
        Keys { prefix: format!("hektor:test:{}:{}:{}:", tag, std::process::id(), N.fetch_add(1, Ordering::Relaxed)) }
    }

    fn pattern(&self) -> String {
        format!("{}*", self.prefix)
    }

    fn key(&self, k: &str) -> String {
        format!("{}{k}", self.prefix)
    }

    /// Runs a pipeline built by `f`.
    fn write(&self, f: impl FnOnce(&mut redis::Pipeline)) {
        let mut pipe = redis::pipe();
        f(&mut pipe);
        rt().block_on(async {
            let client = redis::Client::open(url()).unwrap();
            let mut con = client.get_multiplexed_async_connection().await.expect("connect to the test Redis");
            let _: Value = pipe.query_async::<redis::Value>(&mut con).await.map(|_| Value::Null).expect("write");
        });
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let pattern = self.pattern();
        rt().block_on(async {
            let Ok(client) = redis::Client::open(url()) else { return };
            let Ok(mut con) = client.get_multiplexed_async_connection().await else { return };
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000).query_async(&mut con).await.unwrap();
                if !keys.is_empty() {
                    let _: () = redis::cmd("UNLINK").arg(&keys).query_async(&mut con).await.unwrap();
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        });
    }
}

fn spec(location: &str, options: Value, mapping: FieldMapping) -> SourceSpec {
    SourceSpec { kind: "redis".into(), location: location.into(), options, mapping }
}

fn drain(src: &mut dyn Source, max: usize) -> Vec<Result<SourceRecord, AdapterError>> {
    let mut out = Vec::new();
    while let Some(b) = src.next_batch(max).expect("batch") {
        assert!(b.len() <= max);
        out.extend(b.rows);
    }
    out
}

fn by_id(rows: Vec<Result<SourceRecord, AdapterError>>) -> std::collections::BTreeMap<String, SourceRecord> {
    rows.into_iter().map(|r| r.unwrap()).map(|r| (r.id.clone(), r)).collect()
}

fn open_err(s: &SourceSpec) -> AdapterError {
    match open(s) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn happy_path_hashes_json_strings_and_plain_strings() {
    let k = Keys::new("mix");
    let (d1, d2, j1, s1) = (k.key("doc:1"), k.key("doc:2"), k.key("json:1"), k.key("plain"));
    k.write(|p| {
        p.hset_multiple(&d1, &[("title", "First"), ("body", "Body one"), ("year", "2024"), ("price", "3.50"), ("zip", "007"), ("draft", "false"), ("emb", "[0.5, -1, 2]")]);
        p.hset_multiple(&d2, &[("title", "Second"), ("year", "1999"), ("emb", "[1, 1, 1]")]);
        p.set(&j1, json!({"title": "Third", "author": {"name": "Ann"}, "emb": [3, 2, 1], "tags": ["x"]}).to_string());
        p.set(&s1, "just text");
    });
    let mapping = FieldMapping { id: None, text: vec!["title".into(), "body".into()], vector: Some("emb".into()), metadata: vec!["*".into()] };
    let mut src = open(&spec(&url(), json!({"pattern": k.pattern(), "count": 2}), mapping)).unwrap();
    let rows = by_id(drain(src.as_mut(), 2));
    assert_eq!(rows.len(), 4);
    let r = &rows[&d1];
    assert_eq!(r.text.as_deref(), Some("First\n\nBody one"));
    assert_eq!(r.vector, Some(vec![0.5, -1.0, 2.0]));
    let m = r.metadata.as_ref().unwrap();
    assert_eq!(Value::Object(m.clone()), json!({"year": 2024, "price": 3.5, "zip": "007", "draft": false}), "key and mapped fields left out");
    let r = &rows[&j1];
    assert_eq!(r.vector, Some(vec![3.0, 2.0, 1.0]));
    assert_eq!(r.metadata.as_ref().unwrap()["author"], json!({"name": "Ann"}));
    let r = &rows[&s1];
    assert_eq!(r.metadata.as_ref().unwrap()["value"], json!("just text"));
    assert_eq!(r.text, None);
    let p = src.progress();
    assert_eq!((p.rows, p.total_rows), (4, None));
    assert!(p.bytes > 50);

    // an explicit id, dotted paths, `_key` in the metadata, no inference
    let mapping = FieldMapping { id: Some("title".into()), text: vec!["author.name".into()], metadata: vec!["_key".into(), "year".into()], ..Default::default() };
    let mut src = open(&spec(&url(), json!({"pattern": k.pattern(), "type": "auto", "inferTypes": false}), mapping)).unwrap();
    let rows: Vec<SourceRecord> = drain(src.as_mut(), 10).into_iter().filter_map(Result::ok).collect();
    let third = rows.iter().find(|r| r.id == "Third").unwrap();
    assert_eq!(third.text.as_deref(), Some("Ann"));
    assert_eq!(third.metadata.as_ref().unwrap()["_key"], json!(j1));
    let first = rows.iter().find(|r| r.id == "First").unwrap();
    assert_eq!(first.metadata.as_ref().unwrap()["year"], json!("2024"));
}

#[test]
fn f32le_vectors_as_redisearch_stores_them() {
    let k = Keys::new("f32");
    let bytes: Vec<u8> = [0.25f32, -1.5, 3.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let (a, b) = (k.key("a"), k.key("b"));
    k.write(|p| {
        p.hset(&a, "embedding", bytes.clone()).hset(&a, "content", "hello");
        p.hset(&b, "embedding", &bytes[..5]).hset(&b, "content", "broken");
    });
    let mapping = FieldMapping { text: vec!["content".into()], vector: Some("embedding".into()), ..Default::default() };
    let mut src = open(&spec(&url(), json!({"pattern": k.pattern(), "type": "hash", "vectorEncoding": "f32le"}), mapping)).unwrap();
    let rows = drain(src.as_mut(), 10);
    let ok: Vec<&SourceRecord> = rows.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(ok.len(), 1);
    assert_eq!((ok[0].id.as_str(), ok[0].vector.as_deref()), (a.as_str(), Some(&[0.25, -1.5, 3.0][..])));
    let e = rows.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!((e.code.as_str(), e.position.field.as_deref()), ("ERR_INVALID_ARG", Some("embedding")));
    assert!(e.message.contains(&b), "{}", e.message);
    assert!(e.position.row.is_some());
}

#[test]
fn streams_100k_keys_in_bounded_batches() {
    let k = Keys::new("big");
    let n = 100_000;
    for chunk in 0..10 {
        k.write(|p| {
            for i in chunk * n / 10..(chunk + 1) * n / 10 {
                p.hset_multiple(k.key(&format!("{i}")), &[("body", format!("doc {i}")), ("emb", format!("[{i}, 1]"))]).ignore();
            }
        });
    }
    let mapping = FieldMapping { text: vec!["body".into()], vector: Some("emb".into()), ..Default::default() };
    let mut src = open(&spec(&url(), json!({"pattern": k.pattern(), "type": "hash", "count": 1000}), mapping)).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut batches = 0;
    while let Some(b) = src.next_batch(1000).unwrap() {
        assert!(b.len() <= 1000);
        batches += 1;
        for r in b.rows {
            seen.insert(r.unwrap().id);
        }
    }
    assert_eq!(seen.len(), n);
    assert!(batches >= 100, "{batches} batches");
    assert_eq!(src.progress().rows as usize, n);
}

#[test]
fn wrong_types_and_bad_json_are_row_errors() {
    let k = Keys::new("bad");
    let (h, s, l) = (k.key("h"), k.key("s"), k.key("l"));
    k.write(|p| {
        p.hset(&h, "f", "1");
        p.set(&s, "{not json");
        p.rpush(&l, "x");
    });
    // `hash` mode: a string key is a WRONGTYPE row error
    let mut src = open(&spec(&url(), json!({"pattern": k.pattern(), "type": "hash"}), FieldMapping::default())).unwrap();
    let rows = drain(src.as_mut(), 10);
    let errs: Vec<&AdapterError> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errs.len(), 2, "the string and the list");
    assert!(errs.iter().all(|e| e.code.as_str() == "ERR_INVALID_ARG" && e.message.contains("WRONGTYPE") && e.position.row.is_some()));
    // `json` mode: the string does not parse
    let mut src = open(&spec(&url(), json!({"pattern": k.key("s"), "type": "json"}), FieldMapping::default())).unwrap();
    let rows = drain(src.as_mut(), 10);
    let e = rows[0].as_ref().unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_PARSE", Some(0)));
    assert!(e.message.contains(&s));
    // `auto` mode: the list is an error naming its type; the others read
    let mut src = open(&spec(&url(), json!({"pattern": k.pattern()}), FieldMapping::default())).unwrap();
    let rows = drain(src.as_mut(), 10);
    assert_eq!(rows.iter().filter(|r| r.is_ok()).count(), 2);
    let e = rows.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(e.message.contains("a list key"), "{}", e.message);
    // a vector field that is not a JSON array
    let mapping = FieldMapping { vector: Some("f".into()), ..Default::default() };
    let mut src = open(&spec(&url(), json!({"pattern": k.key("h")}), mapping)).unwrap();
    let e = drain(src.as_mut(), 10).remove(0).unwrap_err();
    assert_eq!((e.code.as_str(), e.position.field.as_deref(), e.position.row), ("ERR_INVALID_ARG", Some("f"), Some(0)));
}

#[test]
fn rejson_needs_the_module() {
    let has_module = rt().block_on(async {
        let client = redis::Client::open(url()).unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("JSON.GET").arg("hektor:none").arg("$").query_async::<redis::Value>(&mut con).await.is_ok()
    });
    if has_module {
        let k = Keys::new("rejson");
        let key = k.key("1");
        k.write(|p| {
            p.cmd("JSON.SET").arg(&key).arg("$").arg(r#"{"title": "T", "emb": [1, 2]}"#);
        });
        let mapping = FieldMapping { text: vec!["title".into()], vector: Some("emb".into()), ..Default::default() };
        let mut src = open(&spec(&url(), json!({"pattern": k.pattern(), "type": "rejson"}), mapping)).unwrap();
        let r = drain(src.as_mut(), 10).remove(0).unwrap();
        assert_eq!((r.id.as_str(), r.text.as_deref(), r.vector), (key.as_str(), Some("T"), Some(vec![1.0, 2.0])));
    } else {
        let e = open_err(&spec(&url(), json!({"type": "rejson"}), FieldMapping::default()));
        assert_eq!((e.code.as_str(), e.position.field.as_deref()), ("ERR_INVALID_ARG", Some("type")));
        assert!(e.message.contains("RedisJSON"), "{}", e.message);
    }
}

#[test]
fn unreachable_server_and_bad_options() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let location = format!("redis://:hunter2secret@127.0.0.1:{port}/0");
    let e = open_err(&spec(&location, json!({}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_CONNECT", "{e}");
    assert_eq!(e.position.source, format!("redis://:***@127.0.0.1:{port}/0 *"));
    assert!(!format!("{e} {e:?}").contains("hunter2secret"));
    let e = open_err(&spec(&url(), json!({"type": "list"}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    let e = open_err(&spec(&url(), json!({"vectorEncoding": "f16"}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    let e = open_err(&spec("http://127.0.0.1:6379", json!({}), FieldMapping::default()));
    assert_eq!((e.code.as_str(), e.position.field.as_deref()), ("ERR_INVALID_ARG", Some("location")));
}

/// A throwaway `redis-server --requirepass` on a free port, killed on drop.
struct PasswordServer {
    child: std::process::Child,
    port: u16,
}

impl PasswordServer {
    fn start(password: &str) -> Option<PasswordServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        Self::spawn(port, &["--port", &port.to_string(), "--requirepass", password])
    }

    /// A TLS-only server with Debian's snakeoil certificate (CN=localhost), when this
    /// machine has it readable and redis-server was built with TLS.
    fn start_tls() -> Option<PasswordServer> {
        let (cert, key) = ("/etc/ssl/certs/ssl-cert-snakeoil.pem", "/etc/ssl/private/ssl-cert-snakeoil.key");
        std::fs::File::open(key).ok()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        Self::spawn(port, &["--port", "0", "--tls-port", &port.to_string(), "--tls-cert-file", cert, "--tls-key-file", key, "--tls-auth-clients", "no"])
    }

    fn spawn(port: u16, args: &[&str]) -> Option<PasswordServer> {
        let child = std::process::Command::new("redis-server")
            .args(args)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stderr(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let server = PasswordServer { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

impl Drop for PasswordServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn wrong_or_missing_password_is_auth_error_without_password() {
    let Some(server) = PasswordServer::start("right-password-123") else {
        skipped("wrong_or_missing_password_is_auth_error_without_password: cannot start redis-server");
        return;
    };
    let wrong = format!("redis://:hunter2secret@127.0.0.1:{}/0", server.port);
    let e = open_err(&spec(&wrong, json!({}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_AUTH", "{e}");
    assert!(!format!("{e} {e:?}").contains("hunter2secret"));
    let e = open_err(&spec(&format!("redis://127.0.0.1:{}/0", server.port), json!({}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_AUTH", "NOAUTH: {e}");
    let right = format!("redis://:right-password-123@127.0.0.1:{}/0", server.port);
    let mut src = open(&spec(&right, json!({}), FieldMapping::default())).unwrap();
    assert!(!src.name().contains("right-password-123"));
    assert!(src.next_batch(10).unwrap().is_none(), "empty server");
}

#[test]
fn rediss_with_a_ca_file() {
    let Some(server) = PasswordServer::start_tls() else {
        skipped("rediss_with_a_ca_file: no readable snakeoil key or no TLS in redis-server");
        return;
    };
    let ca = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let location = format!("rediss://localhost:{}/0", server.port);
    let mut src = open(&spec(&location, json!({"caFile": ca, "pattern": "hektor:none:*"}), FieldMapping::default())).expect("TLS connection verified with the CA file");
    assert!(src.next_batch(10).unwrap().is_none());
    // the certificate names localhost, not 127.0.0.1
    let e = open_err(&spec(&format!("rediss://127.0.0.1:{}/0", server.port), json!({"caFile": ca, "timeoutMs": 2000}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_CONNECT", "{e}");
    // plain redis:// against the TLS port: no answer, a connect error within the timeout
    let e = open_err(&spec(&format!("redis://127.0.0.1:{}/0", server.port), json!({"timeoutMs": 500}), FieldMapping::default()));
    assert_eq!(e.code.as_str(), "ERR_CONNECT", "{e}");
}
