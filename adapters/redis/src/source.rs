//! The streaming redis source: `SCAN` for keys, then one pipelined round trip (two in
//! `auto` mode: `TYPE`, then the reads) per batch.

use crate::convert::{field_value, hash_vector, json_row};
use crate::error::map_error;
use hektor_adapters_api::{runtime::block, url_passwords};
use crate::options::{RedisOptions, ValueType, VectorEncoding};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, FieldMapping, Position, Progress, Source, SourceRecord, SourceSpec};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult, Value as RValue};
use serde_json::{Map, Value};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};

/// What converting a key's value needs.
struct Converter {
    name: String,
    mapping: FieldMapping,
    infer: bool,
    encoding: VectorEncoding,
    /// `auto` mode: a string that is not JSON becomes `{ "value": s }`.
    plain_strings: bool,
}

/// How one key is read in a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Read {
    Hash,
    String,
    ReJson,
    /// The key vanished between `SCAN` and the read.
    Gone,
    /// A type hektor does not read (list, set, ...), by name: a row error.
    Other(String),
}

/// Streams keys matching a pattern. Owns a current-thread tokio runtime on which the
/// connection lives; every call blocks on it. Dropping the source (or reaching the end)
/// closes the connection.
pub struct RedisSource {
    conv: Converter,
    rt: Option<Runtime>,
    con: Option<MultiplexedConnection>,
    pattern: String,
    count: u64,
    value_type: ValueType,
    cursor: u64,
    scan_done: bool,
    keys: VecDeque<Vec<u8>>,
    secrets: Vec<String>,
    rows: u64,
    bytes: u64,
    done: bool,
}

impl RedisSource {
    /// Connects (authenticating and selecting the database of the URL) and checks the
    /// server answers (errors: `ERR_CONNECT`, `ERR_AUTH`, `ERR_INVALID_ARG`).
    pub fn open(spec: &SourceSpec) -> Result<RedisSource, AdapterError> {
        let opts: RedisOptions = spec.options()?;
        let pattern = opts.pattern.clone().unwrap_or_else(|| "*".into());
        let name = format!("{} {}", spec.display_location(), pattern);
        let at = Position { source: name.clone(), ..Default::default() };
        let invalid = |field: &str, msg: String| AdapterError::new(AdapterErrorCode::InvalidArg, msg, at.field(field));
        if opts.count == Some(0) {
            return Err(invalid("count", "count must be at least 1".into()));
        }
        let secrets = url_passwords(&spec.location);
        let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        // redis-rs asks rustls for the process-wide provider; set ring's unless the
        // application chose one (an error here means one is already installed).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = match &opts.ca_file {
            None => redis::Client::open(spec.location.as_str()),
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| invalid("caFile", format!("cannot read CA file '{path}': {e}")))?;
                redis::Client::build_with_tls(spec.location.as_str(), redis::TlsCertificates { client_tls: None, root_cert: Some(pem) })
            }
        }
        .map_err(|e| {
            let mut err = map_error(&e, at.field("location"), &secret_refs);
            err.code = AdapterErrorCode::InvalidArg;
            err.message = format!("invalid redis URL: {}", err.message);
            err
        })?;
        let timeout = Duration::from_millis(opts.timeout_ms.unwrap_or(10_000).max(1));
        let config = AsyncConnectionConfig::new().set_connection_timeout(Some(timeout)).set_response_timeout(Some(timeout));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| AdapterError::new(AdapterErrorCode::Io, format!("cannot start the I/O runtime: {e}"), at.clone()))?;
        let value_type = opts.value_type;
        let opened = block(&rt, &name, async {
            let mut con = client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| map_error(&e, at.clone(), &secret_refs))?;
            // AUTH/SELECT errors surface here rather than on the first SCAN.
            let _: String = redis::cmd("PING").query_async(&mut con).await.map_err(|e| map_error(&e, at.clone(), &secret_refs))?;
            if value_type == ValueType::Rejson {
                let probe: RedisResult<RValue> = redis::cmd("JSON.GET").arg("hektor:probe:no-such-key").arg("$").query_async(&mut con).await;
                if let Err(e) = probe {
                    let detail = e.to_string().to_ascii_lowercase();
                    if detail.contains("unknown command") {
                        return Err(invalid("type", "type 'rejson' needs the RedisJSON module (JSON.GET), which this server does not have: store JSON in plain strings and use type 'json'".into()));
                    }
                    return Err(map_error(&e, at.clone(), &secret_refs));
                }
            }
            Ok(con)
        });
        let con = match opened {
            Ok(Ok(con)) => con,
            Ok(Err(e)) => {
                rt.shutdown_timeout(Duration::from_millis(100));
                return Err(e);
            }
            Err(e) => {
                rt.shutdown_background();
                return Err(e);
            }
        };
        let mut mapping = spec.mapping.clone();
        if mapping.id.is_none() {
            mapping.id = Some("_key".into());
        }
        Ok(RedisSource {
            conv: Converter { name, mapping, infer: opts.infer_types.unwrap_or(true), encoding: opts.vector_encoding, plain_strings: value_type == ValueType::Auto },
            rt: Some(rt),
            con: Some(con),
            pattern,
            count: opts.count.unwrap_or(500),
            value_type,
            cursor: 0,
            scan_done: false,
            keys: VecDeque::new(),
            secrets,
            rows: 0,
            bytes: 0,
            done: false,
        })
    }

    /// Closes the connection (idempotent).
    fn close(&mut self) {
        let Some(rt) = self.rt.take() else { return };
        let con = self.con.take();
        let _guard = rt.enter();
        drop(con);
        drop(_guard);
        if Handle::try_current().is_ok() {
            rt.shutdown_background();
        } else {
            rt.shutdown_timeout(Duration::from_millis(100));
        }
    }
}

/// The fields of an `HGETALL` reply (RESP2 flat array or RESP3 map).
fn hash_pairs(v: RValue) -> Vec<(Vec<u8>, Vec<u8>)> {
    let bytes = |v: RValue| match v {
        RValue::BulkString(b) => b,
        RValue::SimpleString(s) => s.into_bytes(),
        RValue::Int(i) => i.to_string().into_bytes(),
        RValue::Double(d) => d.to_string().into_bytes(),
        _ => Vec::new(),
    };
    match v {
        RValue::Map(pairs) => pairs.into_iter().map(|(k, v)| (bytes(k), bytes(v))).collect(),
        RValue::Array(items) => {
            let mut it = items.into_iter();
            let mut out = Vec::new();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((bytes(k), bytes(v)));
            }
            out
        }
        _ => Vec::new(),
    }
}

impl Converter {
    /// Converts one key's reply; `Ok(None)` when the key vanished.
    fn record(&self, key: &[u8], read: &Read, reply: RedisResult<RValue>, index: u64, secrets: &[&str], bytes: &mut u64) -> Option<Result<SourceRecord, AdapterError>> {
        let key_text = String::from_utf8_lossy(key).into_owned();
        let pos = Position::row(&self.name, index);
        let row_err = |code, msg: String, field: Option<&str>| {
            let mut p = pos.clone();
            p.field = field.map(str::to_string);
            Some(Err(AdapterError::new(code, format!("key '{key_text}': {msg}"), p)))
        };
        let reply = match reply {
            Ok(RValue::Nil) => return None,
            Ok(v) => v,
            Err(e) => {
                let e = map_error(&e, pos.clone(), secrets);
                return row_err(e.code, e.message, None);
            }
        };
        let vector_field = self.mapping.vector.as_deref();
        let mut vector = None;
        let mut row = match read {
            Read::Gone => return None,
            Read::Other(t) => {
                return row_err(AdapterErrorCode::InvalidArg, format!("a {t} key: hektor reads hashes, strings holding JSON and RedisJSON documents (narrow the pattern)"), None)
            }
            Read::Hash => {
                let pairs = hash_pairs(reply);
                if pairs.is_empty() {
                    return None;
                }
                let mut m = Map::with_capacity(pairs.len() + 1);
                for (f, v) in pairs {
                    *bytes += (f.len() + v.len()) as u64;
                    let f = String::from_utf8_lossy(&f).into_owned();
                    if Some(f.as_str()) == vector_field {
                        match hash_vector(&v, self.encoding) {
                            Ok(vec) => vector = Some(vec),
                            Err(msg) => return row_err(AdapterErrorCode::InvalidArg, msg, Some(&f)),
                        }
                        continue;
                    }
                    m.insert(f, field_value(&v, self.infer));
                }
                m
            }
            Read::String | Read::ReJson => {
                let RValue::BulkString(text) = reply else { return row_err(AdapterErrorCode::Parse, "unexpected reply".into(), None) };
                *bytes += text.len() as u64;
                match serde_json::from_slice::<Value>(&text) {
                    Ok(v) if *read == Read::ReJson => match v {
                        // `JSON.GET key $` answers an array holding the root
                        Value::Array(mut roots) if !roots.is_empty() => json_row(roots.swap_remove(0)),
                        other => json_row(other),
                    },
                    Ok(v) => json_row(v),
                    Err(_) if self.plain_strings => {
                        let mut m = Map::new();
                        m.insert("value".into(), field_value(&text, self.infer));
                        m
                    }
                    Err(e) => return row_err(AdapterErrorCode::Parse, format!("value is not JSON: {e}"), None),
                }
            }
        };
        row.insert("_key".into(), Value::String(key_text));
        Some(self.mapping.apply_with(&Value::Object(row), vector, &pos))
    }
}

impl RedisSource {
    /// Refills the key queue with `SCAN` until it holds `want` keys or the scan ends.
    async fn scan(con: &mut MultiplexedConnection, pattern: &str, count: u64, cursor: &mut u64, done: &mut bool, keys: &mut VecDeque<Vec<u8>>, want: usize) -> RedisResult<()> {
        while keys.len() < want && !*done {
            let (next, found): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN").arg(*cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(count).query_async(con).await?;
            keys.extend(found);
            *cursor = next;
            *done = next == 0;
        }
        Ok(())
    }
}

/// How `type` reads a key whose `TYPE` is `t`.
fn read_for(value_type: ValueType, t: &str) -> Read {
    match (value_type, t) {
        (_, "none") => Read::Gone,
        (ValueType::Hash, _) => Read::Hash,
        (ValueType::Json, _) => Read::String,
        (ValueType::Rejson, _) => Read::ReJson,
        (ValueType::Auto, "hash") => Read::Hash,
        (ValueType::Auto, "string") => Read::String,
        (ValueType::Auto, "ReJSON-RL") => Read::ReJson,
        (ValueType::Auto, other) => Read::Other(other.to_string()),
    }
}

impl Source for RedisSource {
    fn name(&self) -> String {
        self.conv.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        if self.done {
            return Ok(None);
        }
        let max = max.max(1);
        let (Some(rt), Some(con)) = (&self.rt, &mut self.con) else { return Ok(None) };
        let conv = &self.conv;
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        let (pattern, count, value_type) = (self.pattern.as_str(), self.count, self.value_type);
        let (cursor, scan_done, keys) = (&mut self.cursor, &mut self.scan_done, &mut self.keys);
        let (mut rows, mut bytes) = (self.rows, 0u64);
        let result = block(rt, &conv.name, async {
            let mut batch = Batch::default();
            // Keys can vanish or be of unread types: keep reading until the batch has
            // rows or the scan is over.
            while batch.rows.is_empty() {
                RedisSource::scan(con, pattern, count, cursor, scan_done, keys, max).await.map_err(|e| map_error(&e, Position::row(&conv.name, rows), &secrets))?;
                if keys.is_empty() {
                    break;
                }
                let take: Vec<Vec<u8>> = keys.drain(..max.min(keys.len())).collect();
                let reads: Vec<Read> = if value_type == ValueType::Auto {
                    let mut pipe = redis::pipe();
                    for k in &take {
                        pipe.cmd("TYPE").arg(k);
                    }
                    let types: Vec<String> = pipe.query_async(con).await.map_err(|e| map_error(&e, Position::row(&conv.name, rows), &secrets))?;
                    types.iter().map(|t| read_for(value_type, t)).collect()
                } else {
                    take.iter().map(|_| read_for(value_type, "")).collect()
                };
                let mut pipe = redis::pipe();
                pipe.ignore_errors();
                for (k, r) in take.iter().zip(&reads) {
                    match r {
                        Read::Hash => pipe.cmd("HGETALL").arg(k),
                        Read::String => pipe.cmd("GET").arg(k),
                        Read::ReJson => pipe.cmd("JSON.GET").arg(k).arg("$"),
                        Read::Gone | Read::Other(_) => pipe.cmd("EXISTS").arg(k),
                    };
                }
                let replies: Vec<RedisResult<RValue>> = pipe.query_async(con).await.map_err(|e| map_error(&e, Position::row(&conv.name, rows), &secrets))?;
                for ((k, r), reply) in take.iter().zip(&reads).zip(replies) {
                    if let Some(rec) = conv.record(k, r, reply, rows, &secrets, &mut bytes) {
                        batch.rows.push(rec);
                        rows += 1;
                    }
                }
            }
            Ok::<_, AdapterError>(batch)
        })?;
        self.rows = rows;
        self.bytes += bytes;
        let batch = match result {
            Ok(b) => b,
            Err(e) => {
                self.done = true;
                self.close();
                return Err(e);
            }
        };
        if batch.is_empty() {
            self.done = true;
            self.close();
            return Ok(None);
        }
        if self.scan_done && self.keys.is_empty() {
            self.done = true;
            self.close();
        }
        Ok(Some(batch))
    }

    fn progress(&self) -> Progress {
        Progress { rows: self.rows, bytes: self.bytes, total_rows: None, total_bytes: None }
    }
}

impl Drop for RedisSource {
    fn drop(&mut self) {
        self.close();
    }
}
