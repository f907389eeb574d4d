//! Background indexing: writes never wait for the HNSW graph.
//!
//! A write is acknowledged once its frame is in the log and its vectors are in the vector
//! store; vectors not yet in the graph are searched exactly, so results are always complete.
//! Inserting them into hnsw_rs's graph is the indexer's job: a thread per writable
//! collection, started when there is work and ending when there is none, that inserts
//! [`CHUNK`] vectors at a time under the [`Index`] lock (writes take the writer lock, so they
//! run beside it) on a small rayon pool whose threads run at a lower priority than searches.
//! The searchable graph is re-exported when enough vectors are pending (see
//! `maintenance::refresh_threshold`) and, once the indexer has caught up, at most every
//! [`EXPORT_EVERY`].
//!
//! A checkpoint saves the graph as far as it got (the next open resumes from there);
//! [`Collection::wait_for_index`] runs the remaining work on the caller's thread;
//! `close` stops the indexer between two chunks.

use super::maintenance::{hnsw_dump_crc, refresh_threshold};
use super::Collection;
use crate::cancel::Cancel;
use crate::error::Result;
use crate::vector::HnswBuilder;
use parking_lot::Mutex;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Vectors inserted per hold of the index lock (about a second of work at M=16, efC=200,
/// 384 dimensions on two cores: the longest a checkpoint waits for the indexer).
pub const CHUNK: usize = 1024;
/// Once caught up, the graph searches walk is re-exported at most this often.
pub const EXPORT_EVERY: Duration = Duration::from_secs(1);

/// The checkpoint's hnsw_rs dump, from which the builder resumes.
#[derive(Clone, Debug)]
pub(crate) struct Dump {
    /// Base name of the dump's files.
    pub(crate) base: String,
    /// Their CRC-32s (absent in older manifests).
    pub(crate) crc: Option<[u32; 2]>,
    /// Slots below this with a vector are in the dump.
    pub(crate) watermark: u32,
}

impl Dump {
    /// The dump a manifest names, if any.
    pub(crate) fn of(m: &super::manifest::Manifest) -> Option<Dump> {
        m.hnsw.clone().map(|base| Dump { base, crc: m.hnsw_crc, watermark: m.hnsw_watermark })
    }
}

/// The HNSW builder and how far it got, behind its own lock.
pub(crate) struct Index {
    /// The builder, once loaded or started.
    pub(crate) builder: Option<HnswBuilder>,
    /// Slots below this with a live vector are in the builder (or in `dump` when no builder
    /// is loaded).
    pub(crate) watermark: u32,
    /// The graph searches walk equals the last checkpoint's graph file.
    pub(crate) graph_saved: bool,
    /// The checkpoint's dump.
    pub(crate) dump: Option<Dump>,
    /// When the graph searches walk was last exported.
    pub(crate) exported: Instant,
    /// Vectors inserted per second by the last chunk (for the ETA).
    pub(crate) rate: f64,
}

impl Index {
    /// The index of a collection opened from a checkpoint.
    pub(crate) fn new(watermark: u32, dump: Option<Dump>) -> Index {
        Index {
            builder: None,
            watermark,
            graph_saved: true,
            dump,
            exported: Instant::now(),
            rate: 0.0,
        }
    }
}

/// The indexer thread's handle and flags.
#[derive(Default)]
pub(crate) struct Indexer {
    /// A thread is running (or about to).
    running: AtomicBool,
    /// Set by `close`: no new work starts.
    stop: AtomicBool,
    /// The last thread started (joined by `close`).
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// State of a collection's vector index, reported by [`Collection::stats`].
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IndexStatus {
    /// Vectors searchable through the graph.
    pub indexed: u32,
    /// Vectors not in the graph yet (searched exactly meanwhile).
    pub pending: usize,
    /// `"building"` while the indexer works, else `"idle"`.
    pub state: &'static str,
    /// Estimated seconds until `pending` reaches 0, while building.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<f64>,
}

/// The rayon pool indexing runs on: as many threads as cores, below normal priority.
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("hektor-index-{i}"))
            .start_handler(|_| lower_priority())
            .build()
            .expect("cannot start the indexing threads")
    })
}

/// Lowers the calling thread's scheduling priority (nice 10 on Linux, where each thread
/// has its own); elsewhere a no-op.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority with who = 0 changes the calling thread only
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

impl Collection {
    /// Up to `limit` (at least 1) slots at or above `from` holding a live vector, the slot
    /// below which they are every such slot, and whether more remain: one chunk of work,
    /// found without walking (or collecting) the whole pending tail.
    fn pending_from(&self, from: u32, limit: usize) -> (Vec<u32>, u32, bool) {
        let limit = limit.max(1);
        let st = self.state.read();
        let n = st.slots.len() as u32;
        let mut v: Vec<u32> = (from.min(n)..n)
            .filter(|&s| st.slots[s as usize].alive() && st.slots[s as usize].has_vector())
            .take(limit + 1)
            .collect();
        if v.len() > limit {
            v.truncate(limit);
            let upto = v[limit - 1] + 1;
            (v, upto, true)
        } else {
            (v, n, false)
        }
    }

    /// Loads the builder if needed: from the checkpoint's hnsw_rs dump, or empty.
    fn ensure_builder(&self, ix: &mut Index) -> Result<()> {
        if ix.builder.is_some() {
            return Ok(());
        }
        let Some(vs) = self.state.read().vectors.clone() else {
            return Ok(());
        };
        let cfg = self.config();
        let loaded = match &ix.dump {
            // a dump without checksums (older manifests) is trusted as before
            Some(d)
                if ix.watermark > 0
                    && d.crc
                        .is_none_or(|c| hnsw_dump_crc(&self.dir, &d.base).ok() == Some(c)) =>
            {
                // a damaged dump is derived data: rebuild from the vectors
                HnswBuilder::load(
                    &self.dir,
                    &d.base,
                    cfg.hnsw,
                    vs.clone(),
                    cfg.metric,
                    d.watermark,
                )
                .ok()
            }
            _ => None,
        };
        let b = match loaded {
            Some(b) => b,
            None => {
                let n = self.state.read().slots.len();
                ix.watermark = 0;
                HnswBuilder::new(cfg.hnsw, vs, cfg.metric, n)
            }
        };
        ix.builder = Some(b);
        Ok(())
    }

    /// Inserts up to `limit` pending vectors into the builder and re-exports the graph
    /// searches walk when enough are pending, or, with `finish`, once everything is in.
    /// Returns true when nothing is left to insert.
    pub(crate) fn index_some(&self, ix: &mut Index, limit: usize, finish: bool) -> Result<bool> {
        let wm = ix.builder.as_ref().map_or(ix.watermark, |b| b.watermark());
        let (pending, upto, more) = self.pending_from(wm, limit);
        if pending.is_empty() && ix.builder.is_none() {
            ix.watermark = upto; // nothing to index: the checkpoint's graph stays valid
            return Ok(true);
        }
        self.ensure_builder(ix)?;
        let Some(b) = ix.builder.as_mut() else {
            ix.watermark = upto;
            return Ok(!more);
        };
        // a rebuild restarts from slot 0
        let (take, upto, more) = if b.watermark() == wm {
            (pending, upto, more)
        } else {
            self.pending_from(b.watermark(), limit)
        };
        let t = Instant::now();
        if let Err(e) = pool().install(|| b.insert(&take, upto)) {
            ix.builder = None;
            ix.watermark = 0;
            return Err(e);
        }
        if !take.is_empty() {
            ix.rate = take.len() as f64 / t.elapsed().as_secs_f64().max(1e-6);
        }
        ix.watermark = upto;
        let graph_len = self.state.read().graph.len();
        if upto > graph_len
            && (upto - graph_len >= refresh_threshold(graph_len) || (finish && !more))
        {
            self.export_graph(ix)?;
        }
        Ok(!more)
    }

    /// Makes the graph searches walk cover everything in the builder (codes first).
    pub(crate) fn export_graph(&self, ix: &mut Index) -> Result<()> {
        let Some(b) = ix.builder.as_ref() else {
            return Ok(());
        };
        if b.watermark() == self.state.read().graph.len() {
            return Ok(());
        }
        self.sync_codes(b.watermark())?;
        let g = Arc::new(b.export());
        self.state.write().graph = g;
        ix.graph_saved = false;
        ix.exported = Instant::now();
        Ok(())
    }

    /// Starts the indexer thread unless it runs already, the handle is read-only or closed,
    /// or there is nothing to do.
    pub(crate) fn kick_indexer(&self) {
        if self.is_read_only() || self.is_closed() || self.indexer.stop.load(Ordering::Acquire) {
            return;
        }
        if self.indexer.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.me.clone();
        match std::thread::Builder::new()
            .name("hektor-indexer".into())
            .spawn(move || indexer_loop(me))
        {
            Ok(h) => *self.indexer.thread.lock() = Some(h),
            // no thread (resource limits): the work waits for the next write or wait_for_index
            Err(_) => self.indexer.running.store(false, Ordering::Release),
        }
    }

    /// True when live vectors are not yet in the builder, or the graph searches walk lags it.
    pub(crate) fn has_index_work(&self) -> bool {
        let Some(ix) = self.index.try_lock() else {
            return true;
        };
        let wm = ix.builder.as_ref().map_or(ix.watermark, |b| b.watermark());
        let behind = ix
            .builder
            .as_ref()
            .is_some_and(|b| b.watermark() > self.state.read().graph.len());
        behind || !self.pending_from(wm, 1).0.is_empty()
    }

    /// Stops the indexer between two chunks and waits for it (not when called from the
    /// indexer thread itself, which then stops after this chunk).
    pub(crate) fn stop_indexer(&self) {
        self.indexer.stop.store(true, Ordering::Release);
        let h = self.indexer.thread.lock().take();
        if let Some(h) = h {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }

    /// Where the vector index stands: vectors in the graph, vectors pending, whether the
    /// indexer is working and, if so, an estimate of the time left.
    pub fn index_status(&self) -> IndexStatus {
        let (indexed, pending) = {
            let st = self.state.read();
            let g = (st.graph.len() as usize).min(st.slots.len());
            (
                g as u32,
                st.slots[g..]
                    .iter()
                    .filter(|s| s.alive() && s.has_vector())
                    .count(),
            )
        };
        let building = self.indexer.running.load(Ordering::Acquire);
        let rate = self.index.try_lock().map_or(0.0, |ix| ix.rate);
        IndexStatus {
            indexed,
            pending,
            state: if building { "building" } else { "idle" },
            eta_seconds: (building && rate > 0.0)
                .then(|| (pending as f64 / rate * 10.0).round() / 10.0),
        }
    }

    /// Brings the graph up to every record written so far, doing the remaining work on the
    /// calling thread (beside the indexer, chunk by chunk); `progress` sees the status
    /// after each chunk. Stops with `ERR_ABORTED` when `cancel` is set; the work done stays.
    pub fn wait_for_index(
        &self,
        cancel: &Cancel,
        mut progress: impl FnMut(&IndexStatus),
    ) -> Result<()> {
        self.check_open()?;
        if self.is_read_only() {
            return Ok(());
        }
        loop {
            cancel.check()?;
            let done = {
                let mut ix = self.index.lock();
                self.index_some(&mut ix, CHUNK, true)?
            };
            progress(&self.index_status());
            if done {
                return Ok(());
            }
        }
    }
}

/// The indexer thread: chunks of work until there is none, then one export of the graph
/// searches walk (no sooner than [`EXPORT_EVERY`] after the last), then it ends.
fn indexer_loop(me: Weak<Collection>) {
    lower_priority();
    loop {
        let Some(col) = me.upgrade() else { return };
        if col.indexer.stop.load(Ordering::Acquire) || col.is_closed() {
            col.indexer.running.store(false, Ordering::Release);
            return;
        }
        let step = {
            let mut ix = col.index.lock();
            match col.index_some(&mut ix, CHUNK, false) {
                Ok(false) => Ok(false),
                Ok(true) => {
                    let behind = ix
                        .builder
                        .as_ref()
                        .is_some_and(|b| b.watermark() > col.state.read().graph.len());
                    let lag = EXPORT_EVERY.saturating_sub(ix.exported.elapsed());
                    if !behind {
                        Ok(true)
                    } else if lag.is_zero() {
                        col.export_graph(&mut ix).map(|_| true)
                    } else {
                        drop(ix);
                        // new work may come meanwhile; the export waits for the interval
                        std::thread::sleep(lag.min(Duration::from_millis(100)));
                        Ok(false)
                    }
                }
                Err(e) => Err(e),
            }
        };
        match step {
            Ok(false) => continue,
            Ok(true) => {
                col.indexer.running.store(false, Ordering::Release);
                // a write that came after the last look saw `running` and started nobody
                if col.has_index_work() && !col.indexer.running.swap(true, Ordering::AcqRel) {
                    continue;
                }
                return;
            }
            // the builder was reset (a failed insert or export): the next write retries
            Err(_) => {
                col.indexer.running.store(false, Ordering::Release);
                return;
            }
        }
    }
}
