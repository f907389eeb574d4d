//! A collection: records on disk with a vector index, a BM25 index and metadata.
//!
//! Layout of a collection directory:
//! ```text
//! collection.json        name and configuration
//! manifest.json          the last checkpoint (see [`manifest`])
//! records-<g>.log        the record log, source of truth (see [`crate::store::log`])
//! vectors-<g>.f32        memory-mapped vectors in index form (normalised for cosine)
//! slots-<g>.bin          slot table + metadata as of the checkpoint
//! bm25-<g>.bin           BM25 index as of the checkpoint
//! codes-<g>.sq8          8-bit codes of the vectors (`quantization: 'sq8'`), memory-mapped
//! graph-<g>.bin          frozen HNSW graph (memory-mapped for search)
//! hnsw-<g>.hnsw.*        hnsw_rs's dump, to resume construction after a reopen
//! ```
//! Every write is appended to the log and fsynced before it is acknowledged, then
//! applied in memory. A checkpoint (on [`Collection::flush`], on close and when the
//! log grows) writes the derived files and a new manifest; opening loads them and
//! replays the log after the checkpoint. Each record version gets a new *slot*; an
//! upsert or delete marks the old slot dead (a tombstone filtered at query time) and
//! [`Collection::compact`] rewrites everything without the dead slots.
//!
//! ## Chunked collections
//! With [`CollectionConfig::chunking`] set, upserting a record with text stores the
//! record itself (the *parent*: id, full text, metadata, no vector; its text is not
//! indexed) followed, in the same log frame, by one *chunk record* per chunk of its
//! text, with id `"{parent}#{i}"` ([`chunk_id`]), the chunk's text, the parent's
//! metadata plus the reserved key [`CHUNK_KEY`] (`{"parent": id, "span": [start, end]}`,
//! the span in UTF-16 code units of the parent's text) and a vector from the embedder.
//! Chunk slots carry [`manifest::flags::CHUNK`]. Searches find chunks and report their
//! parent ([`Hit::chunk_id`], [`Hit::span`]); `get`, `count`, `delete` and
//! `delete_where` address parents only, and replacing or deleting a parent removes
//! its chunks. User ids ending in `#` and digits, user vectors and the metadata key
//! [`CHUNK_KEY`] are refused in chunked collections.

pub mod config;
pub mod limits;
pub mod manifest;
mod indexer;
mod maintenance;
mod search;

pub use config::{CollectionConfig, Limits, Quantization};
pub use indexer::IndexStatus;
pub use maintenance::{RepairOptions, RepairReport};
pub use search::{Hit, Mode, SearchQuery, Select};

use crate::cancel::Cancel;
use crate::error::{Error, ErrorCode, Result};
use crate::filter::Filter;
use crate::rag::chunk::{self, ChunkOptions};
use crate::rag::models::Embedder;
use crate::store::fsutil;
use crate::store::record::{self, Parts, Reader, Record};
use crate::store::log::{Frame, Salvage, Tail};
use crate::store::{FrameKind, RecordLog};
use crate::text::{Analyzer, Bm25Index};
use crate::vector::{distance, Codes, FrozenGraph, VectorStore};
use manifest::{flags, Manifest, SlotInfo};
use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// File holding a collection's name and configuration.
pub const COLLECTION_FILE: &str = "collection.json";
/// Largest id, in bytes.
pub const MAX_ID_BYTES: usize = 1024;
/// Texts per call to the embedder. A local model sorts each call's texts by length into
/// batches of its own (less padding the more texts it sees) and checks cancellation
/// between them.
const EMBED_BATCH: usize = 256;
/// Log bytes after which a write triggers a checkpoint.
const AUTO_CHECKPOINT_BYTES: u64 = 64 << 20;
/// Metadata key linking a chunk record to its parent in a chunked collection:
/// `{"parent": "<id>", "span": [start, end]}`. Reserved there, never returned.
pub const CHUNK_KEY: &str = "_chunk";
/// Separator between a parent id and the chunk number in chunk ids.
pub const CHUNK_SEPARATOR: char = '#';

/// The id of chunk `i` of record `parent`: `"{parent}#{i}"`.
pub fn chunk_id(parent: &str, i: usize) -> String {
    format!("{parent}{CHUNK_SEPARATOR}{i}")
}

/// True when `id` has the form of a chunk id: it ends with `#` and digits.
fn has_chunk_id_form(id: &str) -> bool {
    id.rsplit_once(CHUNK_SEPARATOR).is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// True when a record's metadata carries the chunk link ([`CHUNK_KEY`]).
fn has_chunk_link(r: &Record) -> bool {
    r.metadata.as_ref().is_some_and(|m| m.get(CHUNK_KEY).is_some())
}

/// The error of a read whose record log is gone: `close()` released it (a call that raced
/// the close).
fn closed_log() -> Error {
    Error::new(ErrorCode::Closed, "collection is closed")
}

/// Checks a vector's length against dimension `dim` (`whose` says where `dim` comes from,
/// for the message) and that its values are finite.
fn check_vector_values(v: &[f32], dim: usize, whose: &str) -> Result<()> {
    if v.len() != dim {
        return Err(Error::new(ErrorCode::DimensionMismatch, format!("vector has {} dimensions, {whose} {dim}", v.len())));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::invalid(format!("vector value at index {i} is not a finite number")));
    }
    Ok(())
}

/// The error of a vector [`distance::normalize`] cannot scale (under the cosine metric).
fn no_direction() -> Error {
    Error::invalid("a zero vector has no direction; it cannot be used with the cosine metric")
}

/// At most 80 characters of an id, for messages.
fn short(id: &str) -> String {
    id.chars().take(80).collect()
}

/// Keeps the last record of each id (later records replace earlier ones in an upsert),
/// in the order of those last occurrences, with each one's row in `records`.
fn last_of_each_id(records: Vec<Record>) -> (Vec<Record>, Vec<usize>) {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        last.insert(r.id.as_str(), i);
    }
    if last.len() == records.len() {
        let rows = (0..records.len()).collect();
        return (records, rows);
    }
    let keep: Vec<bool> = records.iter().enumerate().map(|(i, r)| last[r.id.as_str()] == i).collect();
    records.into_iter().zip(keep).enumerate().filter(|(_, (_, k))| *k).map(|(i, (r, _))| (r, i)).unzip()
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CollectionFile {
    format_version: u32,
    name: String,
    config: CollectionConfig,
}

impl CollectionFile {
    /// Reads `dir/collection.json`: `ERR_NOT_FOUND` when absent, `ERR_CORRUPT` when unreadable.
    fn read(dir: &Path) -> Result<CollectionFile> {
        let cfile = dir.join(COLLECTION_FILE);
        if !cfile.exists() {
            return Err(Error::new(ErrorCode::NotFound, format!("no collection at {}", dir.display())));
        }
        serde_json::from_slice(&fsutil::read(&cfile)?).map_err(|e| Error::corrupt(&cfile, format!("unreadable: {e}")))
    }
}

/// Everything searches read, behind one read-write lock.
pub(crate) struct State {
    pub(crate) slots: Vec<SlotInfo>,
    pub(crate) meta: Vec<Option<Value>>,
    pub(crate) ids: HashMap<Box<str>, u32>,
    pub(crate) live: usize,
    /// Live chunk records (counted in `live`).
    pub(crate) chunks: usize,
    pub(crate) bm25: Bm25Index,
    pub(crate) graph: Arc<FrozenGraph>,
    pub(crate) vectors: Option<Arc<VectorStore>>,
    /// Quantized codes the graph is traversed with (`quantization: 'sq8'`, once trained);
    /// they cover at least the graph's slots.
    pub(crate) codes: Option<Arc<Codes>>,
    /// Read handle on the record log (`None` for a read-only collection never written).
    pub(crate) log: Option<Arc<RecordLog>>,
}

impl State {
    /// Reads a stored record, checking its checksum: damaged bytes are `ERR_CORRUPT`
    /// naming the record, the log and the byte offset, never a wrong record.
    pub(crate) fn read_record(&self, slot: u32, parts: Parts) -> Result<Record> {
        let s = &self.slots[slot as usize];
        let log = self.log.as_ref().ok_or_else(closed_log)?;
        let bytes = self.record_bytes(slot)?;
        record::decode(&mut Reader::new(&bytes), parts)
            .map_err(|e| Error::corrupt(log.path(), format!("record {:?} at byte {}: {}", short(&s.id), s.offset, e.message())))
    }

    /// The encoded bytes of a stored record, checked against the slot's checksum.
    pub(crate) fn record_bytes(&self, slot: u32) -> Result<Vec<u8>> {
        let s = &self.slots[slot as usize];
        let log = self.log.as_ref().ok_or_else(closed_log)?;
        let bytes = log.read_at(s.offset, s.len)?;
        if s.is_checked() && crc32fast::hash(&bytes) != s.crc {
            return Err(Error::corrupt(
                log.path(),
                format!("record {:?} at byte {} is damaged (checksum mismatch); run repair or restore it", short(&s.id), s.offset),
            ));
        }
        Ok(bytes)
    }

    /// Checks the vector row of `slot` against its checksum (`ERR_CORRUPT` naming the
    /// record and the vector file when it differs). A no-op for slots without one.
    pub(crate) fn check_vector(&self, slot: u32) -> Result<()> {
        let s = &self.slots[slot as usize];
        if !(s.is_checked() && s.has_vector()) {
            return Ok(());
        }
        let Some(vs) = self.vectors.as_ref() else { return Ok(()) };
        if (slot as usize) < vs.capacity() && manifest::vector_crc(vs.get(slot)) == s.vcrc {
            return Ok(());
        }
        Err(Error::corrupt(vs.path(), format!("the vector row of record {:?} (slot {slot}) is damaged (checksum mismatch); run repair", short(&s.id))))
    }

    /// True when `slot` is alive and, if given, satisfies `filter`.
    #[inline]
    pub(crate) fn visible(&self, slot: u32, filter: Option<&Filter>) -> bool {
        let s = &self.slots[slot as usize];
        s.alive() && filter.is_none_or(|f| f.matches(self.meta[slot as usize].as_ref()))
    }

    /// True when `slot` is a visible user record: not a chunk, alive, and satisfying
    /// `filter` if given.
    #[inline]
    pub(crate) fn is_record(&self, slot: u32, filter: Option<&Filter>) -> bool {
        !self.slots[slot as usize].is_chunk() && self.visible(slot, filter)
    }

    /// The parent id and UTF-16 span of a chunk slot; `None` for other slots.
    pub(crate) fn chunk_link(&self, slot: u32) -> Option<(&str, [u64; 2])> {
        if !self.slots[slot as usize].is_chunk() {
            return None;
        }
        let link = self.meta[slot as usize].as_ref()?.get(CHUNK_KEY)?;
        let span = link.get("span")?.as_array()?;
        Some((link.get("parent")?.as_str()?, [span.first()?.as_u64()?, span.get(1)?.as_u64()?]))
    }
}

/// How [`Collection::assemble`] reads the log after the checkpoint.
enum Replay<'a> {
    /// Frame by frame, stopping at the end as [`Tail`] says.
    Scan(Tail),
    /// Past damaged frames, recording them (repair).
    Salvage(&'a mut Salvage),
}

/// Where a read-only handle is in the writer's log (see [`Collection::refresh`]).
pub(crate) struct Follow {
    /// The log being followed (`None` until the writer has created it).
    log: Option<RecordLog>,
    /// Its file name, as the manifest names it.
    log_name: String,
    /// Bytes of the log applied so far.
    offset: u64,
    /// When the log was last looked at.
    checked: std::time::Instant,
}

/// How often a read-only handle looks for the writer's new writes (at most once per this
/// interval, on its next call).
pub const FOLLOW_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The writer's private state (absent for read-only handles).
pub(crate) struct Writer {
    pub(crate) log: RecordLog,
    pub(crate) manifest: Manifest,
    pub(crate) next_seq: u64,
    /// Something changed since the last checkpoint.
    pub(crate) dirty: bool,
}

/// Counts and sizes reported by [`Collection::stats`].
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Collection name.
    pub name: String,
    /// Live records (parents, not chunks, in a chunked collection).
    pub count: usize,
    /// Live chunk records (chunked collections only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks: Option<usize>,
    /// Dead slots awaiting compaction.
    pub deleted: usize,
    /// Vector dimension, once known.
    pub dimension: Option<usize>,
    /// Distance metric.
    pub metric: &'static str,
    /// Nodes searchable through the HNSW graph.
    pub indexed_vectors: u32,
    /// Vectors not yet in the graph (searched exactly until the indexer reaches them).
    pub pending_vectors: usize,
    /// The vector index: indexed and pending vectors, the indexer's state and its ETA.
    pub index: IndexStatus,
    /// Vectors with an 8-bit code (`quantization: 'sq8'`, once trained; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantized_vectors: Option<u32>,
    /// Documents in the BM25 index.
    pub text_docs: u64,
    /// Distinct terms in the BM25 index.
    pub terms: usize,
    /// Bytes on disk.
    pub disk_bytes: u64,
    /// Checkpoint generation.
    pub generation: u64,
    /// SIMD kernels in use.
    pub simd: &'static str,
    /// Opened read-only.
    pub read_only: bool,
    /// The configuration.
    pub config: CollectionConfig,
}

/// What [`Collection::verify`] found.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// Live records (chunk records included) checked.
    pub records: usize,
    /// Vector rows checked.
    pub vectors: usize,
    /// Valid log frames read.
    pub frames: usize,
    /// Records whose stored bytes or vector row fail their checksum.
    pub damaged: Vec<DamagedRecord>,
    /// Log frames that fail their checks (their records may be served from the checkpoint).
    pub damaged_frames: Vec<crate::store::log::DamagedFrame>,
}

impl VerifyReport {
    /// True when nothing is damaged.
    pub fn is_ok(&self) -> bool {
        self.damaged.is_empty() && self.damaged_frames.is_empty()
    }
}

/// One damaged record found by [`Collection::verify`].
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DamagedRecord {
    /// The record id.
    pub id: String,
    /// Its slot.
    pub slot: u32,
    /// What is damaged: `"record"` (its bytes in the log) or `"vector"` (its row).
    pub part: &'static str,
    /// The error a read of it gives.
    pub message: String,
}

/// An open collection. All methods are blocking and thread-safe; searches run
/// concurrently with each other and with writes.
pub struct Collection {
    name: String,
    dir: PathBuf,
    read_only: bool,
    config: RwLock<CollectionConfig>,
    /// The configuration's chunking (fixed at creation).
    chunking: Option<ChunkOptions>,
    analyzer: Arc<Analyzer>,
    pub(crate) state: RwLock<State>,
    pub(crate) writer: Mutex<Option<Writer>>,
    /// A read-only handle's position in the writer's log.
    follow: Mutex<Option<Follow>>,
    /// The HNSW builder and its progress (see [`indexer`]).
    pub(crate) index: Mutex<indexer::Index>,
    /// The background indexer thread.
    indexer: indexer::Indexer,
    /// This collection, for the indexer thread (which must not keep it alive).
    me: std::sync::Weak<Collection>,
    /// Turns text into vectors for records and queries that have none.
    embedder: RwLock<Option<Arc<dyn Embedder>>>,
    /// Generation of the checkpoint the state is based on (for `stats`).
    pub(crate) generation: AtomicU64,
    closed: AtomicBool,
}

/// Checks a collection name: 1-64 characters of `[A-Za-z0-9_.-]`, not starting or
/// ending with a dot, and not a Windows device name (`con`, `nul`, `com1`, ... with or
/// without an extension, any case). Rejects path separators, `..`, NUL and anything
/// else that could leave the database directory or name something else on some OS.
pub fn validate_name(name: &str) -> Result<()> {
    let stem = name.split('.').next().unwrap_or("").to_ascii_lowercase();
    let device = matches!(stem.as_str(), "con" | "prn" | "aux" | "nul")
        || (stem.len() == 4 && (stem.starts_with("com") || stem.starts_with("lpt")) && matches!(stem.as_bytes()[3], b'1'..=b'9'));
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !device
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid collection name {:?}: use 1-64 letters, digits, '_', '-' or '.', not starting or ending with '.', not a device name like 'con'",
            name.chars().take(80).collect::<String>()
        )))
    }
}

/// Where a record's encoding sits in the log, and its checksum.
struct Stored {
    offset: u64,
    len: u32,
    crc: u32,
}

/// A record validated and prepared for writing: index-form vector and text tokens.
struct Prepared {
    vector: Option<Vec<f32>>,
    tokens: Option<Vec<String>>,
}

impl Collection {
    /// Creates a new collection directory `dir` (which must not exist yet).
    pub fn create(dir: &Path, name: &str, config: CollectionConfig) -> Result<Arc<Collection>> {
        validate_name(name)?;
        config.validate()?;
        if dir.join(COLLECTION_FILE).exists() {
            return Err(Error::new(ErrorCode::Exists, format!("collection '{name}' already exists")));
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(e, format!("creating {}", dir.display())))?;
        let file = CollectionFile { format_version: manifest::FORMAT_VERSION, name: name.to_string(), config };
        fsutil::replace_atomic(&dir.join(COLLECTION_FILE), &serde_json::to_vec_pretty(&file).unwrap())?;
        if let Some(parent) = dir.parent() {
            fsutil::sync_dir(parent)?;
        }
        Self::open(dir, false)
    }

    /// Opens an existing collection directory.
    ///
    /// A read-only open racing with the writer's checkpoint can find a file of the
    /// generation it read gone; it then retries with the new manifest.
    pub fn open(dir: &Path, read_only: bool) -> Result<Arc<Collection>> {
        let mut attempt = 0;
        loop {
            match Self::open_once(dir, read_only) {
                Err(e) if read_only && e.code() == ErrorCode::Io && attempt < 5 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
                }
                r => return r,
            }
        }
    }

    fn open_once(dir: &Path, read_only: bool) -> Result<Arc<Collection>> {
        Self::open_with(dir, read_only, if read_only { Tail::Follow } else { Tail::Cut })
    }

    /// Opens read-only, changing nothing, with a damaged last log frame reported as
    /// `ERR_CORRUPT` (a reader's open would stop before it, taking it for a write in
    /// progress): what the collection serves, for repair to compare with.
    pub(crate) fn open_checked(dir: &Path) -> Result<Arc<Collection>> {
        Self::open_with(dir, true, Tail::Strict)
    }

    fn open_with(dir: &Path, read_only: bool, tail: Tail) -> Result<Arc<Collection>> {
        let cf = CollectionFile::read(dir)?;
        let man = Manifest::load(dir)?;
        let fresh = man.is_none();
        let man = man.unwrap_or_else(Manifest::initial);
        if !read_only {
            // files of unfinished checkpoints or compactions (a crash) are garbage
            maintenance::remove_stale_files(dir, &man);
        }
        Self::assemble(dir, cf, man, fresh, read_only, Replay::Scan(tail))
    }

    /// Builds an open collection from the checkpoint `man` names and the log after it.
    /// With [`Replay::Salvage`] (repair), the log is read with [`RecordLog::salvage`]:
    /// damaged frames are skipped and reported there, and nothing on disk is changed.
    fn assemble(dir: &Path, cf: CollectionFile, man: Manifest, fresh: bool, read_only: bool, replay: Replay<'_>) -> Result<Arc<Collection>> {
        let config = cf.config;
        let analyzer = Arc::new(Analyzer::new(&config.analyzer)?);

        let (slots, meta) = match &man.slots {
            Some(f) => manifest::load_slots(&dir.join(f))?,
            None => (Vec::new(), Vec::new()),
        };
        let bm25 = match &man.bm25 {
            Some(f) => Bm25Index::load(&dir.join(f))?,
            None => Bm25Index::new(config.bm25),
        };
        let graph = match &man.graph {
            Some(f) => FrozenGraph::open(&dir.join(f))?,
            None => FrozenGraph::empty(),
        };
        let vectors = match config.dimension {
            Some(d) => Self::open_vectors(dir, man.vectors.as_deref(), man.gen, d, read_only)?,
            None => None,
        };
        if slots.len() as u64 != man.n_slots {
            return Err(Error::corrupt(&dir.join(manifest::MANIFEST), "slot count differs from the slot table"));
        }
        if graph.len() as usize > slots.len() {
            return Err(Error::corrupt(&dir.join(man.graph.as_deref().unwrap_or("graph")), "graph covers more slots than the slot table"));
        }
        // Codes are derived from the vectors: a missing, short or mismatched code file is
        // dropped (searches walk the graph in f32) and retrained by the next graph refresh.
        let codes = match (&man.codes, &man.sq8, config.quantization, config.dimension) {
            (Some(f), Some(q), Quantization::Sq8, Some(d)) if q.is_valid(d) && man.codes_encoded >= graph.len() && dir.join(f).exists() => {
                Codes::open(&dir.join(f), q.clone(), man.codes_encoded, !read_only).ok().map(Arc::new)
            }
            _ => None,
        };
        let cap = vectors.as_ref().map_or(0, |v| v.capacity());
        if let Some(last) = slots.iter().rposition(|s| s.has_vector()) {
            if last >= cap {
                let f = vectors.as_ref().map_or_else(|| dir.join("vectors"), |v| v.path().to_path_buf());
                return Err(Error::corrupt(&f, "vector file is shorter than the slot table says"));
            }
        }
        let mut ids = HashMap::with_capacity(slots.len());
        let (mut live, mut chunks) = (0, 0);
        for (i, s) in slots.iter().enumerate() {
            if s.alive() {
                ids.insert(s.id.clone(), i as u32);
                live += 1;
                chunks += s.is_chunk() as usize;
            }
        }
        let log_path = dir.join(&man.log);
        let mut wlog = if read_only {
            if !log_path.exists() && fresh {
                None
            } else {
                Some(RecordLog::open(&log_path, false)?)
            }
        } else {
            Some(RecordLog::open(&log_path, true)?)
        };
        let reader_log = match &wlog {
            Some(_) => Some(Arc::new(RecordLog::open(&log_path, false)?)),
            None => None,
        };
        let index = indexer::Index::new(man.hnsw_watermark, indexer::Dump::of(&man));
        let col = Arc::new_cyclic(|me| Collection {
            index: Mutex::new(index),
            indexer: indexer::Indexer::default(),
            me: me.clone(),
            name: cf.name,
            dir: dir.to_path_buf(),
            read_only,
            config: RwLock::new(config.clone()),
            chunking: config.chunking,
            analyzer,
            state: RwLock::new(State {
                slots,
                meta,
                ids,
                live,
                chunks,
                bm25,
                graph: Arc::new(graph),
                vectors,
                codes,
                log: reader_log,
            }),
            writer: Mutex::new(None),
            follow: Mutex::new(None),
            embedder: RwLock::new(None),
            generation: AtomicU64::new(man.gen),
            closed: AtomicBool::new(false),
        });
        // replay the log after the checkpoint
        let mut next_seq = man.next_seq;
        if let Some(log) = wlog.as_mut() {
            let apply = |frame: Frame| {
                next_seq = next_seq.max(frame.seq + 1);
                col.apply_frame(frame.kind, frame.payload_offset, &frame.payload)
            };
            match replay {
                Replay::Salvage(out) => *out = log.salvage(man.log_offset, apply)?,
                Replay::Scan(tail) => {
                    log.scan(man.log_offset, tail, apply)?;
                }
            }
        }
        if read_only {
            let offset = wlog.as_ref().map_or(0, |l| l.end());
            *col.follow.lock() = Some(Follow { log: wlog, log_name: man.log.clone(), offset, checked: std::time::Instant::now() });
        } else {
            let log = wlog.unwrap();
            let replayed = log.end() > man.log_offset;
            *col.writer.lock() = Some(Writer { log, dirty: replayed || fresh, next_seq, manifest: man });
            // vectors written since the checkpoint's graph (or a build that a close
            // interrupted): the indexer resumes them
            if col.has_index_work() {
                col.kick_indexer();
            }
        }
        Ok(col)
    }

    /// Opens the vector file `name` (default `vectors-<gen>.f32`, `gen` being the
    /// checkpoint's generation); `None` when read-only and absent.
    fn open_vectors(dir: &Path, name: Option<&str>, gen: u64, dim: usize, read_only: bool) -> Result<Option<Arc<VectorStore>>> {
        let p = match name {
            Some(n) => dir.join(n),
            None => dir.join(format!("vectors-{gen}.f32")),
        };
        if read_only && !p.exists() {
            return Ok(None);
        }
        Ok(Some(Arc::new(VectorStore::open(&p, dim, !read_only)?)))
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The collection's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A copy of the configuration.
    pub fn config(&self) -> CollectionConfig {
        self.config.read().clone()
    }

    /// The analyzer used for text.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// True when opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// [`check_open`](Self::check_open) for calls that read: a read-only handle first
    /// catches up with the writer when it last looked more than [`FOLLOW_INTERVAL`] ago.
    /// Must not be called with the state lock held.
    pub(crate) fn check_readable(&self) -> Result<()> {
        self.check_open()?;
        if self.read_only {
            // a concurrent call is already catching up: no need to wait for it
            if let Some(mut fg) = self.follow.try_lock() {
                if fg.as_ref().is_some_and(|f| f.checked.elapsed() >= FOLLOW_INTERVAL) {
                    // a failure leaves the last state served; `refresh()` reports it
                    let _ = self.refresh_locked(&mut fg);
                }
            }
        }
        Ok(())
    }

    /// Brings a read-only handle up to date with the writer: applies the log frames
    /// written since it last looked (whole frames only, so never part of a batch), or,
    /// after a compaction or repair (a new log) or when the writer's checkpoint has a much
    /// newer graph, reloads from the latest checkpoint. Reads do this by themselves at
    /// most every [`FOLLOW_INTERVAL`]; call it to see a write at once. Returns whether
    /// anything changed; a no-op (`false`) on a writable handle.
    pub fn refresh(&self) -> Result<bool> {
        self.check_open()?;
        if !self.read_only {
            return Ok(false);
        }
        let mut fg = self.follow.lock();
        self.refresh_locked(&mut fg)
    }

    fn refresh_locked(&self, fg: &mut Option<Follow>) -> Result<bool> {
        let Some(f) = fg.as_mut() else { return Ok(false) };
        f.checked = std::time::Instant::now();
        let man = Manifest::load(&self.dir)?.unwrap_or_else(Manifest::initial);
        let stale_graph = man.gen != self.generation.load(Ordering::Relaxed) && {
            let st = self.state.read();
            let graph = st.graph.len();
            st.slots.len() as u32 - graph.min(st.slots.len() as u32) >= maintenance::refresh_threshold(graph)
        };
        if man.log != f.log_name || stale_graph {
            return self.reload(fg);
        }
        if f.log.is_none() {
            let p = self.dir.join(&f.log_name);
            if !p.exists() {
                return Ok(false);
            }
            f.log = Some(RecordLog::open(&p, false)?);
            self.state.write().log = Some(Arc::new(RecordLog::open(&p, false)?));
        }
        let log = f.log.as_mut().unwrap();
        let mut changed = false;
        let tail = log.scan(f.offset, Tail::Follow, |frame| {
            changed = true;
            self.apply_frame(frame.kind, frame.payload_offset, &frame.payload)
        });
        match tail {
            Ok(_) => {
                f.offset = log.end();
                Ok(changed)
            }
            // a frame that applied in part leaves no half state behind: start over
            Err(_) if changed => self.reload(fg),
            Err(e) => Err(e),
        }
    }

    /// Replaces a read-only handle's state with a fresh open of the latest checkpoint.
    fn reload(&self, fg: &mut Option<Follow>) -> Result<bool> {
        let fresh = Collection::open_once(&self.dir, true)?;
        std::mem::swap(&mut *self.state.write(), &mut *fresh.state.write());
        std::mem::swap(&mut *self.config.write(), &mut *fresh.config.write());
        std::mem::swap(fg, &mut *fresh.follow.lock());
        self.generation.store(fresh.generation.load(Ordering::Relaxed), Ordering::Relaxed);
        // the old state goes with `fresh`, which writes nothing
        fresh.abandon();
        Ok(true)
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorCode::Closed, format!("collection '{}' is closed", self.name)));
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if self.read_only {
            return Err(Error::new(ErrorCode::ReadOnly, format!("collection '{}' was opened read-only", self.name)));
        }
        Ok(())
    }

    /// Validates a vector (finite values, dimension) and turns it into index form.
    pub(crate) fn prepare_vector(&self, v: &[f32], dim: usize) -> Result<Vec<f32>> {
        check_vector_values(v, dim, "the collection has")?;
        let mut out = v.to_vec();
        if self.config.read().metric == distance::Metric::Cosine && !distance::normalize(&mut out) {
            return Err(no_direction());
        }
        Ok(out)
    }

    /// Checks the records given to [`upsert`](Self::upsert) (ids, metadata, and the rules
    /// of chunked collections) and normalises `null` metadata.
    fn check_records(&self, records: &mut [Record]) -> Result<()> {
        for (row, r) in records.iter_mut().enumerate() {
            let at = |e: Error, field: &str| e.with_row(row as u64).with_field(field).with_source(self.name.clone());
            if r.id.is_empty() {
                return Err(at(Error::invalid("record id must be a non-empty string"), "id"));
            }
            if r.id.len() > MAX_ID_BYTES {
                return Err(at(Error::invalid(format!("record id is longer than {MAX_ID_BYTES} bytes")), "id"));
            }
            match &r.metadata {
                Some(Value::Null) => r.metadata = None,
                Some(Value::Object(_)) | None => {}
                Some(_) => return Err(at(Error::invalid("metadata must be a JSON object"), "metadata")),
            }
            if self.chunking.is_some() {
                if has_chunk_id_form(&r.id) {
                    let id: String = r.id.chars().take(80).collect();
                    return Err(at(
                        Error::invalid(format!("record id {id:?} ends with '{CHUNK_SEPARATOR}' and digits, the form of chunk ids in a chunked collection")),
                        "id",
                    ));
                }
                if r.vector.is_some() {
                    return Err(at(Error::invalid("records of a chunked collection get their vectors from the embedder; leave out `vector`"), "vector"));
                }
                if has_chunk_link(r) {
                    return Err(at(Error::invalid(format!("metadata key '{CHUNK_KEY}' is reserved in a chunked collection")), "metadata"));
                }
            }
        }
        Ok(())
    }

    /// Checks every vector of a call before anything is written: all have the collection's
    /// dimension (or, before it has one, the first vector's), finite values, and a
    /// direction under the cosine metric. Embedded vectors are checked again later.
    fn check_vectors(&self, records: &[Record]) -> Result<()> {
        let (mut dim, cosine) = {
            let c = self.config.read();
            (c.dimension, c.metric == distance::Metric::Cosine)
        };
        let whose = if dim.is_some() { "the collection has" } else { "the first vector of the call has" };
        for (row, r) in records.iter().enumerate() {
            let Some(v) = &r.vector else { continue };
            let at = |e: Error| e.with_row(row as u64).with_field("vector").with_source(self.name.clone());
            let d = *dim.get_or_insert(v.len());
            if v.is_empty() {
                return Err(at(Error::invalid("a vector must have at least one dimension")));
            }
            check_vector_values(v, d, whose).map_err(at)?;
            if cosine {
                // the test `normalize` applies when the vector is prepared
                let n = distance::norm(v);
                if n == 0.0 || !n.is_finite() {
                    return Err(at(no_direction()));
                }
            }
        }
        Ok(())
    }

    /// In a chunked collection, follows each record with text by its chunk records
    /// (sized in tokens of the embedder's tokenizer when it has one, else in characters).
    /// `rows[i]` is the caller's row of `records[i]`. Returns the records to store and, for
    /// each, the row of the record it comes from.
    fn expand_chunks(&self, records: Vec<Record>, rows_in: Vec<usize>) -> Result<(Vec<Record>, Vec<usize>)> {
        let Some(opts) = self.chunking else {
            return Ok((records, rows_in));
        };
        let embedder = self.embedder();
        let measure = |s: &str| embedder.as_ref().and_then(|e| e.count_tokens(s)).unwrap_or_else(|| s.chars().count());
        let (mut out, mut rows) = (Vec::with_capacity(records.len() * 4), Vec::with_capacity(records.len() * 4));
        for (r, row) in records.into_iter().zip(rows_in) {
            let mut pieces = Vec::new();
            if let Some(text) = r.text.as_deref() {
                let chunks = chunk::chunk(text, &opts, &measure).map_err(|e| e.with_row(row as u64).with_field("text").with_source(self.name.clone()))?;
                // UTF-16 offsets, counted incrementally (chunk starts never move backwards)
                let (mut byte, mut unit) = (0usize, 0u64);
                for (i, c) in chunks.iter().enumerate() {
                    if c.start < byte {
                        (byte, unit) = (0, 0);
                    }
                    unit += text[byte..c.start].encode_utf16().count() as u64;
                    byte = c.start;
                    let end = unit + text[c.start..c.end].encode_utf16().count() as u64;
                    let mut meta = match &r.metadata {
                        Some(Value::Object(m)) => m.clone(),
                        _ => serde_json::Map::new(),
                    };
                    meta.insert(CHUNK_KEY.into(), serde_json::json!({ "parent": r.id, "span": [unit, end] }));
                    pieces.push(Record {
                        id: chunk_id(&r.id, i),
                        text: Some(text[c.start..c.end].to_string()),
                        vector: None,
                        metadata: Some(Value::Object(meta)),
                    });
                }
            }
            rows.extend(std::iter::repeat_n(row, pieces.len() + 1));
            out.push(r);
            out.extend(pieces);
        }
        Ok((out, rows))
    }

    /// True when `r` is a chunk record of a chunked collection.
    fn is_chunk_record(&self, r: &Record) -> bool {
        self.chunking.is_some() && has_chunk_link(r)
    }

    /// True when a stored record's text is indexed (BM25) and embedded: every record's in
    /// an unchunked collection, only the chunks' in a chunked one (parents stay whole).
    fn indexes_text(&self, r: &Record) -> bool {
        self.chunking.is_none() || has_chunk_link(r)
    }

    /// The BM25 tokens of a record to store (see [`indexes_text`](Self::indexes_text)).
    fn text_tokens(&self, r: &Record) -> Option<Vec<String>> {
        let text = r.text.as_deref()?;
        self.indexes_text(r).then(|| self.analyzer.analyze(text))
    }

    /// Validates vectors and analyses texts of a batch to store; nothing is written if
    /// any record is bad. `rows[i]` is the caller's row of `records[i]`, for errors.
    fn prepare(&self, records: &[Record], rows: &[usize]) -> Result<(Vec<Prepared>, Option<usize>)> {
        let mut dim = self.config.read().dimension;
        // text analysis (segmentation, stemming) is most of an ingest's CPU: spread it over the cores
        let mut tokens: Vec<Option<Vec<String>>> = records.par_iter().map(|r| self.text_tokens(r)).collect();
        let mut out = Vec::with_capacity(records.len());
        for ((r, &row), tokens) in records.iter().zip(rows).zip(tokens.iter_mut()) {
            let at = |e: Error, field: &str| e.with_row(row as u64).with_field(field).with_source(self.name.clone());
            let vector = match &r.vector {
                Some(v) => {
                    let d = *dim.get_or_insert(v.len());
                    if d == 0 {
                        return Err(at(Error::invalid("a vector must have at least one dimension"), "vector"));
                    }
                    limits::check_dimension(&self.config.read().limits, d).map_err(|e| at(e, "vector"))?;
                    Some(self.prepare_vector(v, d).map_err(|e| at(e, "vector"))?)
                }
                None => None,
            };
            out.push(Prepared { vector, tokens: tokens.take() });
        }
        Ok((out, dim))
    }

    /// Attaches (or detaches) the embedder used for records and queries without vectors.
    pub fn set_embedder(&self, embedder: Option<Arc<dyn Embedder>>) {
        *self.embedder.write() = embedder;
    }

    /// The attached embedder.
    pub fn embedder(&self) -> Option<Arc<dyn Embedder>> {
        self.embedder.read().clone()
    }

    /// Embeds `texts` with the attached embedder, in batches, checking the output.
    pub(crate) fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_cancellable(texts, &Cancel::new())
    }

    /// [`embed`](Self::embed), checking `cancel` before each call to the embedder and
    /// reporting [`Progress::Embedded`](crate::cancel::Progress::Embedded) to its observer after each.
    pub(crate) fn embed_cancellable(&self, texts: &[&str], cancel: &Cancel) -> Result<Vec<Vec<f32>>> {
        let Some(e) = self.embedder() else { return Err(Error::invalid("no embedder is attached to this collection")) };
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(EMBED_BATCH) {
            let vs = e.embed_cancellable(chunk, cancel).map_err(|err| err.context(format!("embedding with {}", e.describe())))?;
            if vs.len() != chunk.len() {
                return Err(Error::internal(format!("embedder {} returned {} vectors for {} texts", e.describe(), vs.len(), chunk.len())));
            }
            out.extend(vs);
            cancel.report(crate::cancel::Progress::Embedded { done: out.len(), total: texts.len() });
        }
        Ok(out)
    }

    /// Gives records that have text but no vector an embedding (when an embedder is
    /// attached); in a chunked collection, only the chunk records.
    fn embed_missing(&self, records: &mut [Record], cancel: &Cancel) -> Result<()> {
        if self.embedder.read().is_none() {
            return Ok(());
        }
        let wanted = |r: &Record| {
            r.vector.is_none() && r.text.as_deref().is_some_and(|t| !t.trim().is_empty()) && self.indexes_text(r)
        };
        let idx: Vec<usize> = (0..records.len()).filter(|&i| wanted(&records[i])).collect();
        if idx.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = idx.iter().map(|&i| records[i].text.as_deref().unwrap()).collect();
        let vectors = self.embed_cancellable(&texts, cancel)?;
        for (i, v) in idx.into_iter().zip(vectors) {
            records[i].vector = Some(v);
        }
        Ok(())
    }

    /// Inserts or replaces records (by id) in one atomic batch: validated as a whole,
    /// written to the log in one frame and fsynced before this returns. Records with text
    /// but no vector are embedded first when an embedder is attached. In a chunked
    /// collection each record with text is stored with its chunks (see the
    /// [module docs](self)), replacing the chunks of an earlier version. An id given more
    /// than once is stored once, as its last occurrence. Returns the number of distinct
    /// records written (not counting chunks).
    pub fn upsert(&self, records: Vec<Record>) -> Result<usize> {
        self.upsert_in_batches(records, usize::MAX, &Cancel::new())
    }

    /// Inserts or replaces records (by id), validating the whole call before anything is
    /// written, then writing it in atomic, durable batches of at most `batch` records (one
    /// log frame each). Every check that does not need the embedder (ids, metadata, limits,
    /// vector dimensions and values) runs over all records first, so a bad record anywhere
    /// changes nothing; error rows count from the start of the call. A failure after that
    /// (the embedder, the disk, `cancel` checked between batches) leaves the batches before
    /// the failing one written. An id given more than once is written once, as its last
    /// occurrence (last wins). Returns the number of distinct records written.
    pub fn upsert_in_batches(&self, mut records: Vec<Record>, batch: usize, cancel: &Cancel) -> Result<usize> {
        self.check_writable()?;
        if records.is_empty() {
            return Ok(0);
        }
        self.check_records(&mut records)?;
        // before chunking and embedding: an oversized record never reaches the embedder
        let caps = self.config.read().limits;
        let batch = batch.max(1);
        limits::check_batch_len(&caps, records.len().min(batch), &self.name)?;
        limits::check_records(&caps, &records, &self.name)?;
        self.check_vectors(&records)?;
        let (records, rows) = last_of_each_id(records);
        let distinct = records.len();
        let mut rest = records.into_iter().zip(rows).peekable();
        let mut first = true;
        while rest.peek().is_some() {
            // between batches (inside one, only while it embeds)
            if !std::mem::take(&mut first) {
                cancel.check()?;
            }
            let (recs, rows): (Vec<Record>, Vec<usize>) = rest.by_ref().take(batch).unzip();
            self.write_batch(recs, rows, cancel)?;
        }
        Ok(distinct)
    }

    /// Chunks, embeds, prepares and writes one batch of validated records in one log
    /// frame; `rows[i]` is the caller's row of `records[i]`. `cancel` is checked while the
    /// embedder runs (nothing of the batch is written then).
    fn write_batch(&self, records: Vec<Record>, rows: Vec<usize>, cancel: &Cancel) -> Result<()> {
        let (mut records, rows) = self.expand_chunks(records, rows)?;
        self.embed_missing(&mut records, cancel)?;
        let (prepared, dim) = self.prepare(&records, &rows)?;
        let mut wg = self.writer.lock();
        let w = wg.as_mut().ok_or_else(|| Error::new(ErrorCode::Closed, "collection is closed"))?;
        self.check_open()?;
        if dim.is_some() && self.config.read().dimension.is_none() {
            self.set_dimension(dim.unwrap())?;
        }
        // disk space for the new vector rows before the log write: a full disk fails the
        // batch here, with nothing written, instead of faulting in the memory map later
        if prepared.iter().any(|p| p.vector.is_some()) {
            let (first, vs) = {
                let st = self.state.read();
                (st.slots.len(), st.vectors.clone())
            };
            if let Some(vs) = vs {
                vs.allocate(first, first + records.len())?;
            }
        }
        // encode one frame
        let mut payload = Vec::with_capacity(64 + records.len() * 64);
        payload.extend_from_slice(&(records.len() as u32).to_le_bytes());
        let mut spans = Vec::with_capacity(records.len());
        for r in &records {
            let start = payload.len();
            record::encode(r, &mut payload);
            spans.push((start as u64, (payload.len() - start) as u32));
        }
        let seq = w.next_seq;
        let base = w.log.append(FrameKind::Upsert, seq, &payload, true)?;
        w.next_seq += 1;
        w.dirty = true;
        let items = records
            .into_iter()
            .zip(prepared)
            .zip(spans)
            .map(|((r, p), (off, len))| {
                let crc = crc32fast::hash(&payload[off as usize..off as usize + len as usize]);
                (r, p, Stored { offset: base + off, len, crc })
            })
            .collect();
        self.apply_upsert(items)?;
        self.after_write(w);
        Ok(())
    }

    /// Deletes records by id (with their chunks in a chunked collection; chunk ids are
    /// not record ids and are ignored); returns how many existed.
    pub fn delete(&self, ids: &[String]) -> Result<usize> {
        self.check_writable()?;
        let mut wg = self.writer.lock();
        let w = wg.as_mut().ok_or_else(|| Error::new(ErrorCode::Closed, "collection is closed"))?;
        self.delete_locked(w, ids)
    }

    /// Deletes every record matching `filter` (with their chunks); returns how many.
    pub fn delete_where(&self, filter: &Filter) -> Result<usize> {
        self.check_writable()?;
        let mut wg = self.writer.lock();
        let w = wg.as_mut().ok_or_else(|| Error::new(ErrorCode::Closed, "collection is closed"))?;
        let ids: Vec<String> = {
            let st = self.state.read();
            (0..st.slots.len() as u32).filter(|&s| st.is_record(s, Some(filter))).map(|s| st.slots[s as usize].id.to_string()).collect()
        };
        self.delete_locked(w, &ids)
    }

    fn delete_locked(&self, w: &mut Writer, ids: &[String]) -> Result<usize> {
        let present: Vec<&String> = {
            let st = self.state.read();
            let mut seen = std::collections::HashSet::new();
            ids.iter()
                .filter(|id| st.ids.get(id.as_str()).is_some_and(|&s| !st.slots[s as usize].is_chunk()) && seen.insert(id.as_str()))
                .collect()
        };
        if present.is_empty() {
            return Ok(0);
        }
        let mut payload = Vec::with_capacity(8 + present.len() * 16);
        payload.extend_from_slice(&(present.len() as u32).to_le_bytes());
        for id in &present {
            payload.extend_from_slice(&(id.len() as u32).to_le_bytes());
            payload.extend_from_slice(id.as_bytes());
        }
        let seq = w.next_seq;
        w.log.append(FrameKind::Delete, seq, &payload, true)?;
        w.next_seq += 1;
        w.dirty = true;
        {
            let mut st = self.state.write();
            for id in &present {
                self.kill_id(&mut st, id)?;
            }
        }
        self.after_write(w);
        Ok(present.len())
    }

    /// Learns the dimension from the first vector: persists it and opens the vector file.
    fn set_dimension(&self, dim: usize) -> Result<()> {
        let mut cfg = self.config.write();
        if cfg.dimension.is_some() {
            return Ok(());
        }
        cfg.dimension = Some(dim);
        if !self.read_only {
            let file = CollectionFile { format_version: manifest::FORMAT_VERSION, name: self.name.clone(), config: cfg.clone() };
            fsutil::replace_atomic(&self.dir.join(COLLECTION_FILE), &serde_json::to_vec_pretty(&file).unwrap())?;
        }
        let mut st = self.state.write();
        if st.vectors.is_none() {
            st.vectors = Self::open_vectors(&self.dir, None, self.generation.load(Ordering::Relaxed), dim, self.read_only)?;
        }
        Ok(())
    }

    /// Applies one log frame (replay).
    pub(crate) fn apply_frame(&self, kind: FrameKind, payload_offset: u64, payload: &[u8]) -> Result<()> {
        let log_path = self.state.read().log.as_ref().map(|l| l.path().to_path_buf()).unwrap_or_default();
        let corrupt = |e: Error| Error::corrupt(&log_path, format!("{} (frame at byte {payload_offset})", e.message()));
        let mut rd = Reader::new(payload);
        let n = rd.u32().map_err(corrupt)? as usize;
        match kind {
            FrameKind::Upsert => {
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    let start = rd.pos();
                    let r = record::decode(&mut rd, Parts::ALL).map_err(corrupt)?;
                    let len = (rd.pos() - start) as u32;
                    let vector = match &r.vector {
                        Some(v) => {
                            // a crash between the log write and the config write: learn the dimension again
                            let dim = self.config.read().dimension;
                            let dim = match dim {
                                Some(d) => d,
                                None => {
                                    self.set_dimension(v.len())?;
                                    v.len()
                                }
                            };
                            Some(self.prepare_vector(v, dim).map_err(corrupt)?)
                        }
                        None => None,
                    };
                    let tokens = self.text_tokens(&r);
                    let crc = crc32fast::hash(&payload[start..start + len as usize]);
                    items.push((r, Prepared { vector, tokens }, Stored { offset: payload_offset + start as u64, len, crc }));
                }
                self.apply_upsert(items)
            }
            FrameKind::Delete => {
                let mut st = self.state.write();
                for _ in 0..n {
                    let id = rd.str().map_err(corrupt)?;
                    self.kill_id(&mut st, id)?;
                }
                Ok(())
            }
        }
    }

    /// Applies prepared records in memory: new slots, vectors, BM25, id map. A record
    /// replaces the live one of its id, and a parent's chunks (its new chunks follow it).
    fn apply_upsert(&self, items: Vec<(Record, Prepared, Stored)>) -> Result<()> {
        let mut st = self.state.write();
        for (r, p, Stored { offset, len, crc }) in items {
            self.kill_id(&mut st, &r.id)?;
            let slot = st.slots.len() as u32;
            let mut fl = flags::ALIVE | flags::CHECKED;
            let mut vcrc = 0;
            if self.is_chunk_record(&r) {
                fl |= flags::CHUNK;
                st.chunks += 1;
            }
            if let Some(v) = &p.vector {
                let vs = st.vectors.as_ref().ok_or_else(|| Error::internal("vector store missing"))?;
                vs.set(slot, v)?;
                vcrc = manifest::vector_crc(v);
                fl |= flags::VECTOR;
            }
            if let Some(t) = &p.tokens {
                st.bm25.add(slot, t);
                fl |= flags::TEXT;
            }
            let id: Box<str> = r.id.into_boxed_str();
            st.ids.insert(id.clone(), slot);
            st.slots.push(SlotInfo { id, offset, len, flags: fl, crc, vcrc });
            st.meta.push(r.metadata);
            st.live += 1;
        }
        Ok(())
    }

    /// Kills the live record `id`, with its chunks when it is the parent record of a
    /// chunked collection (chunks `#0, #1, ...` are always stored and removed together).
    pub(crate) fn kill_id(&self, st: &mut State, id: &str) -> Result<()> {
        let Some(&slot) = st.ids.get(id) else { return Ok(()) };
        let parent = self.chunking.is_some() && !st.slots[slot as usize].is_chunk();
        self.kill(st, slot)?;
        if parent {
            for i in 0.. {
                let Some(&c) = st.ids.get(chunk_id(id, i).as_str()) else { break };
                self.kill(st, c)?;
            }
        }
        Ok(())
    }

    /// Marks `slot` dead and removes its text from BM25.
    fn kill(&self, st: &mut State, slot: u32) -> Result<()> {
        let s = &st.slots[slot as usize];
        if !s.alive() {
            return Ok(());
        }
        if s.has_text() {
            match st.read_record(slot, Parts { text: true, ..Default::default() }) {
                Ok(r) => {
                    if let Some(t) = r.text {
                        let tokens = self.analyzer.analyze(&t);
                        st.bm25.remove(slot, &tokens);
                    }
                }
                // a damaged record can still be deleted or replaced: its postings stay behind
                // (dead slots never match) until the next compaction
                Err(e) if e.code() == ErrorCode::Corrupt => {}
                Err(e) => return Err(e),
            }
        }
        let s = &mut st.slots[slot as usize];
        s.flags &= !flags::ALIVE;
        let chunk = s.is_chunk();
        let id = s.id.clone();
        if st.ids.get(&id) == Some(&slot) {
            st.ids.remove(&id);
        }
        st.meta[slot as usize] = None;
        st.live -= 1;
        st.chunks -= chunk as usize;
        Ok(())
    }

    /// After a write: index new vectors, refresh the graph when enough are pending,
    /// checkpoint when the log has grown.
    ///
    /// The write itself is already durable and applied, so a failure here (a full disk
    /// while writing derived files) does not fail it: the work is derived from the log and
    /// is retried by the next write, and [`flush`](Self::flush) / [`close`](Self::close)
    /// report the error if it persists.
    fn after_write(&self, w: &mut Writer) {
        self.kick_indexer();
        if w.log.end().saturating_sub(w.manifest.log_offset) > AUTO_CHECKPOINT_BYTES {
            let _ = self.checkpoint_locked(w);
        }
    }

    /// Records by id, in the order asked (`None` for unknown ids and chunk ids). The
    /// parent of chunks comes with its full text and metadata and no vector.
    pub fn get(&self, ids: &[String], parts: Parts) -> Result<Vec<Option<Record>>> {
        self.check_readable()?;
        let st = self.state.read();
        ids.iter()
            .map(|id| match st.ids.get(id.as_str()) {
                Some(&slot) if !st.slots[slot as usize].is_chunk() => {
                    let mut r = st.read_record(slot, Parts { metadata: false, ..parts })?;
                    if parts.metadata {
                        r.metadata = st.meta[slot as usize].clone();
                    }
                    Ok(Some(r))
                }
                _ => Ok(None),
            })
            .collect()
    }

    /// Number of live records, or of those matching `filter` (chunks are not records).
    pub fn count(&self, filter: Option<&Filter>) -> Result<usize> {
        self.check_readable()?;
        let st = self.state.read();
        Ok(match filter {
            Some(f) if !f.is_empty() => (0..st.slots.len() as u32).filter(|&s| st.is_record(s, Some(f))).count(),
            _ => st.live - st.chunks,
        })
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Result<Stats> {
        self.check_readable()?;
        let config = self.config();
        let index = self.index_status();
        let st = self.state.read();
        let generation = self.generation.load(Ordering::Relaxed);
        Ok(Stats {
            name: self.name.clone(),
            count: st.live - st.chunks,
            chunks: self.chunking.map(|_| st.chunks),
            deleted: st.slots.len() - st.live,
            dimension: config.dimension,
            metric: config.metric.as_str(),
            indexed_vectors: index.indexed,
            pending_vectors: index.pending,
            index,
            quantized_vectors: st.codes.as_ref().map(|c| c.encoded().min(st.slots.len() as u32)),
            text_docs: st.bm25.num_docs(),
            terms: st.bm25.num_terms(),
            disk_bytes: fsutil::dir_disk_usage(&self.dir),
            generation,
            simd: distance::simd_level(),
            read_only: self.read_only,
            config,
        })
    }

    /// Reads back everything the collection stores and checks it against its checksums:
    /// every live record's bytes in the log, every vector row, and every log frame. Reports
    /// each damaged record (a record or vector checksum mismatch) and each damaged frame;
    /// changes nothing. Records of a slot table written before checksums existed (format
    /// 1) are checked only through their log frames until the next compaction.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.check_readable()?;
        let st = self.state.read();
        let mut report = VerifyReport::default();
        for slot in 0..st.slots.len() as u32 {
            let s = &st.slots[slot as usize];
            if !s.alive() {
                continue;
            }
            report.records += 1;
            let mut note = |part: &'static str, e: Error| -> Result<()> {
                if e.code() != ErrorCode::Corrupt {
                    return Err(e);
                }
                report.damaged.push(DamagedRecord { id: s.id.to_string(), slot, part, message: e.message().to_string() });
                Ok(())
            };
            if let Err(e) = st.record_bytes(slot) {
                note("record", e)?;
            }
            if s.has_vector() {
                report.vectors += 1;
                if let Err(e) = st.check_vector(slot) {
                    note("vector", e)?;
                }
            }
        }
        // the whole log is read without holding the state lock (writes go on meanwhile)
        let log = st.log.as_ref().map(|l| l.path().to_path_buf());
        drop(st);
        if let Some(log) = log {
            let mut reader = RecordLog::open(&log, false)?;
            let salvage = reader.salvage(0, |_| Ok(()))?;
            report.frames = salvage.frames;
            report.damaged_frames = salvage.damaged;
        }
        Ok(report)
    }

    /// Writes a checkpoint so the next open is fast (writes are already durable).
    pub fn flush(&self) -> Result<()> {
        self.check_open()?;
        if self.read_only {
            return Ok(());
        }
        let mut wg = self.writer.lock();
        match wg.as_mut() {
            Some(w) => self.checkpoint_locked(w),
            None => Ok(()),
        }
    }

    /// Checkpoints and closes; later calls fail with `ERR_CLOSED`. Every file handle and
    /// memory map the collection holds (the record log, for writing and reading, the vector
    /// and code files, the graph) is released now, not when the last `Arc` on the collection
    /// is dropped: a JavaScript handle may keep that alive until garbage collection.
    ///
    /// A collection nothing was ever written to (no checkpoint yet, an empty log) is closed
    /// without writing one: it opens without a manifest, and closing many fresh collections
    /// stays fast.
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // the graph is saved as far as the indexer got; the next open resumes it
        self.stop_indexer();
        let mut wg = self.writer.lock();
        let r = match wg.as_mut() {
            Some(w) if w.manifest.gen == 0 && w.log.end() == 0 => Ok(()),
            Some(w) => self.checkpoint_locked(w),
            None => Ok(()),
        };
        *wg = None;
        drop(wg);
        // the builder maps the vector file too
        self.index.lock().builder = None;
        // readers that got past `check_open` finish first (they hold the read lock); later
        // ones see `closed`
        let mut st = self.state.write();
        st.log = None;
        st.vectors = None;
        st.codes = None;
        st.graph = Arc::new(FrozenGraph::empty());
        r
    }

    /// The log file a read-only handle follows.
    pub(crate) fn follow_log_name(&self) -> Option<String> {
        self.follow.lock().as_ref().map(|f| f.log_name.clone())
    }

    /// Closes without a checkpoint and without writing anything (a repair that gives up
    /// on the state it built).
    pub(crate) fn abandon(&self) {
        self.closed.store(true, Ordering::Release);
        self.stop_indexer();
        *self.writer.lock() = None;
    }

    /// Drops the handle like a killed process would: no checkpoint, nothing written.
    #[doc(hidden)]
    pub fn abandon_for_test(&self) {
        self.abandon();
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl Drop for Collection {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Acquire) {
            let _ = self.close();
        }
    }
}
