//! The streaming postgres source: a read-only transaction, a server-side portal, and
//! `Execute` with a row limit per fetch.

use crate::decode::{self, DecodeOptions, Decoder, Raw};
use crate::error::{chain, map_error, Stage};
use crate::options::PostgresOptions;
use crate::params::JsonParam;
use crate::tls::{self, TlsMode};
use hektor_adapters_api::runtime::block;
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, FieldMapping, Position, Progress, Source, SourceSpec};
use serde_json::{Map, Value};
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, IsolationLevel, Row, Statement};

/// A fetch request to the task that owns the transaction.
struct Fetch {
    rows: i32,
    reply: oneshot::Sender<Result<Vec<Row>, tokio_postgres::Error>>,
}

/// One result column.
struct Column {
    name: String,
    decoder: Decoder,
}

/// Streams the rows of a SQL query. Owns a current-thread tokio runtime on which the
/// connection and the transaction live; every call blocks on it. Dropping the source (or
/// reaching the end) rolls the transaction back and closes the connection.
pub struct PostgresSource {
    name: String,
    rt: Option<Runtime>,
    requests: Option<mpsc::Sender<Fetch>>,
    tasks: Vec<JoinHandle<()>>,
    columns: Vec<Column>,
    /// The column decoded natively into the record's vector.
    vector_column: Option<usize>,
    mapping: FieldMapping,
    decode: DecodeOptions,
    fetch_size: Option<usize>,
    password: String,
    /// A stream-ending error met after some rows of a batch: returned by the next call.
    pending: Option<AdapterError>,
    rows: u64,
    bytes: u64,
    total: Option<u64>,
    done: bool,
}

impl PostgresSource {
    /// Connects, prepares the query and opens the portal (errors: `ERR_CONNECT`,
    /// `ERR_AUTH`, `ERR_PARSE`, `ERR_NOT_FOUND`, `ERR_INVALID_ARG`).
    pub fn open(spec: &SourceSpec) -> Result<PostgresSource, AdapterError> {
        let name = format!("{} query", spec.display_location());
        let at = || Position { source: name.clone(), ..Default::default() };
        let invalid = |field: &str, msg: String| AdapterError::new(AdapterErrorCode::InvalidArg, msg, at().field(field));
        let opts: PostgresOptions = spec.options()?;
        if opts.query.trim().is_empty() {
            return Err(invalid("query", "the postgres source needs a non-empty `query`".into()));
        }
        if opts.batch_size == Some(0) {
            return Err(invalid("batchSize", "batchSize must be at least 1".into()));
        }
        let (conn_str, url_mode, url_root) = tls::split_tls_params(&spec.location);
        let mut config: tokio_postgres::Config = conn_str
            .parse()
            .map_err(|e: tokio_postgres::Error| invalid("location", chain(&e)))?;
        let password = config.get_password().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
        let secrets = [password.as_str()];
        let mode_name = opts.tls.clone().or(url_mode).unwrap_or_else(|| "prefer".into());
        let mode = TlsMode::parse(&mode_name)
            .ok_or_else(|| invalid("tls", format!("unknown tls mode '{mode_name}' (disable, prefer, require, verify-ca, verify-full)")))?;
        let ca_file = opts.ca_file.clone().or(url_root);
        let connector = tls::connector(mode, ca_file.as_deref(), &name)?;
        let timeout = Duration::from_millis(opts.timeout_ms.unwrap_or(10_000).max(1));
        config.ssl_mode(mode.ssl_mode());
        config.connect_timeout(timeout);

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| AdapterError::new(AdapterErrorCode::Io, format!("cannot start the I/O runtime: {e}"), at()))?;
        let query = opts.query.trim().trim_end_matches(';').to_string();
        let count_sql = opts.count_total.then(|| format!("SELECT count(*) FROM ({query}) AS hektor_count"));
        let params: Vec<JsonParam> = opts.params.iter().cloned().map(JsonParam).collect();
        let (requests, rx) = mpsc::channel::<Fetch>(1);

        let opened = block(&rt, &name, async {
            let connect = tokio::time::timeout(timeout, config.connect(connector)).await;
            let (client, connection) = match connect {
                Ok(r) => r.map_err(|e| map_error(&e, Stage::Connect, at(), &secrets))?,
                Err(_) => return Err(AdapterError::new(AdapterErrorCode::Connect, format!("no answer from the server within {} ms", timeout.as_millis()), at())),
            };
            let mut tasks = vec![tokio::spawn(async move {
                let _ = connection.await;
            })];
            let stmt = client.prepare(&query).await.map_err(|e| map_error(&e, Stage::Prepare, at().field("query"), &secrets))?;
            if stmt.params().len() != params.len() {
                return Err(invalid("params", format!("the query has {} parameter(s) ($1..$n) but {} value(s) were given", stmt.params().len(), params.len())));
            }
            let mut columns = Vec::with_capacity(stmt.columns().len());
            for c in stmt.columns() {
                let decoder = Decoder::for_type(c.type_()).ok_or_else(|| {
                    invalid(
                        c.name(),
                        format!("column '{}' has type '{}', which hektor cannot read: cast it in the query, e.g. {}::text", c.name(), c.type_().name(), c.name()),
                    )
                })?;
                columns.push(Column { name: c.name().to_string(), decoder });
            }
            let (ready_tx, ready_rx) = oneshot::channel();
            tasks.push(tokio::spawn(run_portal(client, stmt, params, count_sql, ready_tx, rx)));
            let total = match ready_rx.await {
                Ok(Ok(total)) => total,
                Ok(Err((e, stage))) => return Err(map_error(&e, stage, at().field(if stage == Stage::Bind { "params" } else { "query" }), &secrets)),
                Err(_) => return Err(AdapterError::new(AdapterErrorCode::Connect, "the connection closed while opening the query", at())),
            };
            Ok((tasks, columns, total))
        });
        let (tasks, columns, total) = match opened {
            Ok(Ok(x)) => x,
            Err(e) => {
                rt.shutdown_background();
                return Err(e);
            }
            Ok(Err(e)) => {
                rt.shutdown_timeout(Duration::from_millis(100));
                return Err(e);
            }
        };
        let vector_column = spec.mapping.vector.as_ref().and_then(|v| columns.iter().position(|c| &c.name == v && c.decoder.is_vector()));
        Ok(PostgresSource {
            name,
            rt: Some(rt),
            requests: Some(requests),
            tasks,
            columns,
            vector_column,
            mapping: spec.mapping.clone(),
            decode: DecodeOptions { numeric_as_string: opts.numeric_as_string },
            fetch_size: opts.batch_size,
            password,
            pending: None,
            rows: 0,
            bytes: 0,
            total,
            done: false,
        })
    }

    /// Converts one row, accounting its bytes.
    fn convert(&mut self, row: &Row, index: u64) -> Result<hektor_adapters_api::SourceRecord, AdapterError> {
        let pos = Position::row(&self.name, index);
        let mut obj = Map::with_capacity(self.columns.len());
        let mut vector = None;
        for (i, col) in self.columns.iter().enumerate() {
            let raw: Option<Raw> = row.try_get(i).map_err(|e| AdapterError::new(AdapterErrorCode::Parse, e.to_string(), pos.field(&col.name)))?;
            let Some(Raw(bytes)) = raw else {
                if Some(i) != self.vector_column {
                    obj.insert(col.name.clone(), Value::Null);
                }
                continue;
            };
            self.bytes += bytes.len() as u64;
            if Some(i) == self.vector_column {
                let v = decode::to_vector(&col.decoder, bytes)
                    .map_err(|e| AdapterError::new(AdapterErrorCode::InvalidArg, format!("vector column '{}': {e}", col.name), pos.field(&col.name)))?;
                vector = Some(v);
            } else {
                let v = decode::to_json(&col.decoder, bytes, self.decode).map_err(|e| {
                    AdapterError::new(AdapterErrorCode::Parse, format!("cannot decode column '{}' ({:?}): {e}", col.name, col.decoder), pos.field(&col.name))
                })?;
                obj.insert(col.name.clone(), v);
            }
        }
        self.mapping.apply_with(&Value::Object(obj), vector, &pos)
    }

    /// Fetches up to `n` rows from the portal.
    fn fetch(&mut self, n: usize) -> Result<Vec<Row>, AdapterError> {
        let pos = Position::row(&self.name, self.rows);
        let (Some(rt), Some(requests)) = (&self.rt, &self.requests) else { return Ok(Vec::new()) };
        let (reply, answer) = oneshot::channel();
        let rows = i32::try_from(n).unwrap_or(i32::MAX);
        let result = block(rt, &self.name, async move {
            if requests.send(Fetch { rows, reply }).await.is_err() {
                return None;
            }
            answer.await.ok()
        })?;
        match result {
            Some(Ok(rows)) => Ok(rows),
            Some(Err(e)) => Err(map_error(&e, Stage::Fetch, pos, &[self.password.as_str()])),
            None => Err(AdapterError::new(AdapterErrorCode::Connect, "the connection to the server was lost", pos)),
        }
    }

    /// Ends the transaction and closes the connection (idempotent).
    fn close(&mut self) {
        self.requests.take();
        let tasks = std::mem::take(&mut self.tasks);
        let Some(rt) = self.rt.take() else { return };
        if Handle::try_current().is_ok() {
            // inside another runtime we may not block: drop everything at once
            rt.shutdown_background();
            return;
        }
        rt.block_on(async {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                for t in tasks {
                    let _ = t.await;
                }
            })
            .await;
        });
        rt.shutdown_timeout(Duration::from_millis(100));
    }
}

/// Owns the client for the life of the stream: opens a read-only repeatable-read
/// transaction, optionally counts the rows, binds the portal, then answers fetches.
async fn run_portal(
    mut client: Client,
    stmt: Statement,
    params: Vec<JsonParam>,
    count_sql: Option<String>,
    ready: oneshot::Sender<Result<Option<u64>, (tokio_postgres::Error, Stage)>>,
    mut requests: mpsc::Receiver<Fetch>,
) {
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let tx = match client.build_transaction().read_only(true).isolation_level(IsolationLevel::RepeatableRead).start().await {
        Ok(tx) => tx,
        Err(e) => {
            let _ = ready.send(Err((e, Stage::Fetch)));
            return;
        }
    };
    let total = match &count_sql {
        None => None,
        Some(sql) => match tx.query_one(sql.as_str(), &refs).await {
            Ok(row) => row.try_get::<_, i64>(0).ok().map(|n| n.max(0) as u64),
            Err(e) => {
                let _ = ready.send(Err((e, Stage::Bind)));
                return;
            }
        },
    };
    let portal = match tx.bind(&stmt, &refs).await {
        Ok(p) => p,
        Err(e) => {
            let _ = ready.send(Err((e, Stage::Bind)));
            return;
        }
    };
    if ready.send(Ok(total)).is_err() {
        return;
    }
    while let Some(f) = requests.recv().await {
        let result = tx.query_portal(&portal, f.rows).await;
        let failed = result.is_err();
        let _ = f.reply.send(result);
        if failed {
            break;
        }
    }
    let _ = tx.rollback().await;
    drop(client);
}

impl Source for PostgresSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        let max = max.max(1);
        let mut batch = Batch::default();
        while batch.rows.len() < max {
            let want = (max - batch.rows.len()).min(self.fetch_size.unwrap_or(max));
            let rows = match self.fetch(want) {
                Ok(r) => r,
                Err(e) => {
                    self.done = true;
                    self.close();
                    if batch.rows.is_empty() {
                        return Err(e);
                    }
                    // deliver the rows read before the error first
                    self.pending = Some(e);
                    break;
                }
            };
            let exhausted = rows.len() < want;
            for row in &rows {
                let index = self.rows;
                let rec = self.convert(row, index);
                self.rows += 1;
                batch.rows.push(rec);
            }
            if exhausted {
                self.done = true;
                self.close();
                break;
            }
        }
        Ok(if batch.rows.is_empty() { None } else { Some(batch) })
    }

    fn progress(&self) -> Progress {
        Progress { rows: self.rows, bytes: self.bytes, total_rows: self.total, total_bytes: None }
    }
}

impl Drop for PostgresSource {
    fn drop(&mut self) {
        self.close();
    }
}
