//! Indexing, checkpoints and compaction (the writer's side of a collection).

use super::manifest::{self, flags, Manifest, SlotInfo};
use super::indexer::{Dump, Index};
use super::{Collection, Quantization, State, Writer};
use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::store::fsutil;
use crate::store::record::{Parts, Reader};
use crate::store::{self, FrameKind, RecordLog};
use crate::text::Bm25Index;
use crate::vector::{Codes, FrozenGraph, HnswBuilder, Sq8, VectorStore};
use crate::store::log::DamagedFrame;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Records per log frame when compaction rewrites the log.
const COMPACT_FRAME: usize = 1000;

/// The in-memory graph is re-exported from the builder once this many vectors are
/// pending (searched exactly meanwhile): at least 2048, else 1/16 of the graph.
pub(crate) fn refresh_threshold(graph_len: u32) -> u32 {
    2048.max(graph_len / 16)
}

/// Vectors a collection needs before its quantizer is trained (until then the graph is
/// traversed with full-precision distances).
const MIN_TRAIN: usize = 1000;
/// Vectors sampled (evenly) to train the quantizer.
const TRAIN_SAMPLE: usize = 100_000;

/// Trains an 8-bit quantizer on (a sample of) the vectors of `with_vec` and writes the
/// code row of each into a new code file beside the vector file; `None` when there are
/// fewer than [`MIN_TRAIN`] vectors.
fn train_codes(vs: &VectorStore, with_vec: &[u32], upto: u32) -> Result<Option<Codes>> {
    if with_vec.len() < MIN_TRAIN {
        return Ok(None);
    }
    let step = with_vec.len().div_ceil(TRAIN_SAMPLE);
    let sq8 = Sq8::train(vs.dim(), with_vec.iter().step_by(step).map(|&s| vs.get(s)));
    let vname = vs.path().file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let cname = vname.replace("vectors-", "codes-").replace(".f32", ".sq8");
    let path = vs.path().with_file_name(cname);
    // no manifest names this file yet (the quantizer is trained once per vector file)
    let _ = std::fs::remove_file(&path);
    let codes = Codes::open(&path, sq8, 0, true)?;
    codes.encode(vs, with_vec, upto)?;
    Ok(Some(codes))
}

impl Collection {
    /// Brings the quantized codes up to slot `upto` before a graph covering `0..upto` is
    /// published: trains the quantizer the first time enough vectors exist, then encodes
    /// the slots written since. A no-op unless the collection is configured for `sq8`.
    pub(crate) fn sync_codes(&self, upto: u32) -> Result<()> {
        if self.config.read().quantization != Quantization::Sq8 {
            return Ok(());
        }
        let (vs, codes, todo) = {
            let st = self.state.read();
            let Some(vs) = st.vectors.clone() else { return Ok(()) };
            let from = st.codes.as_ref().map_or(0, |c| c.encoded());
            let end = upto.min(st.slots.len() as u32);
            let todo: Vec<u32> = (from..end).filter(|&s| st.slots[s as usize].has_vector()).collect();
            (vs, st.codes.clone(), todo)
        };
        match codes {
            Some(c) => c.encode(&vs, &todo, upto),
            None => {
                if let Some(c) = train_codes(&vs, &todo, upto)? {
                    self.state.write().codes = Some(Arc::new(c));
                }
                Ok(())
            }
        }
    }

    /// Writes a checkpoint (caller holds the writer lock). On a failure (a full disk) the
    /// files written for the new generation are removed and the last checkpoint stays.
    ///
    /// The graph is saved as far as the indexer got (vectors it has not reached stay
    /// pending, and the next open resumes them): a checkpoint never waits for indexing,
    /// only for the chunk in progress.
    pub(crate) fn checkpoint_locked(&self, w: &mut Writer) -> Result<()> {
        if !w.dirty {
            return Ok(());
        }
        let mut ix = self.index.lock();
        let gen = w.manifest.gen + 1;
        let mut m = w.manifest.clone();
        m.gen = gen;
        let written = (|| -> Result<bool> {
            let mut wrote_graph = false;
            self.export_graph(&mut ix)?;
            if let Some(b) = &ix.builder {
                if !ix.graph_saved {
                    write_graph(&self.dir, &mut m, &self.state.read().graph, b)?;
                    wrote_graph = true;
                }
            }
            m.hnsw_watermark = ix.watermark;
            {
                let st = self.state.read();
                write_tables(&self.dir, &mut m, &st.slots, &st.meta, &st.bm25, st.vectors.as_deref(), st.codes.as_deref())?;
            }
            m.log_offset = w.log.end();
            m.next_seq = w.next_seq;
            publish(&self.dir, &m)?;
            Ok(wrote_graph)
        })();
        match written {
            Ok(wrote_graph) => {
                if wrote_graph {
                    ix.graph_saved = true;
                    ix.dump = Dump::of(&m);
                }
            }
            Err(e) => {
                // unless the manifest made it to disk after all (a failed directory sync)
                if Manifest::load(&self.dir).ok().flatten().is_none_or(|on_disk| on_disk.gen != gen) {
                    remove_generation(&self.dir, gen, &w.manifest);
                }
                return Err(e);
            }
        }
        self.generation.store(m.gen, std::sync::atomic::Ordering::Relaxed);
        w.manifest = m;
        w.dirty = false;
        remove_stale_files(&self.dir, &w.manifest);
        Ok(())
    }

    /// Rewrites the collection without dead slots: a new log, vector file, BM25 index
    /// and a graph rebuilt from scratch. Searches keep running on the old state until
    /// the new one is swapped in; writes wait.
    pub fn compact(&self, cancel: &Cancel) -> Result<()> {
        self.check_open()?;
        if self.is_read_only() {
            return Err(Error::new(crate::ErrorCode::ReadOnly, "cannot compact a read-only collection"));
        }
        let mut wg = self.writer.lock();
        let Some(w) = wg.as_mut() else { return Err(Error::new(crate::ErrorCode::Closed, "collection is closed")) };
        // the indexer waits: the new generation gets a graph of its own
        let mut ix = self.index.lock();
        let cfg = self.config();
        let gen = w.manifest.gen + 1;
        let next_seq = w.next_seq;
        let dir = self.dir.clone();
        // everything up to the manifest is written under new names: on a failure (a full
        // disk, an abort, damage found in a record) those files go and nothing else changes
        let built = (|| -> Result<_> {
            let log_name = format!("records-{gen}.log");
            let mut log = RecordLog::open(&dir.join(&log_name), true)?;
            // start from an empty file even if a crashed compaction left one behind
            if log.end() > 0 {
                drop(log);
                std::fs::remove_file(dir.join(&log_name)).map_err(|e| Error::io(e, "removing stale log"))?;
                log = RecordLog::open(&dir.join(&log_name), true)?;
            }
            let vname = format!("vectors-{gen}.f32");
            let _ = std::fs::remove_file(dir.join(&vname));
            let vectors = match cfg.dimension {
                Some(d) => Some(Arc::new(VectorStore::open(&dir.join(&vname), d, true)?)),
                None => None,
            };
            let mut bm25 = Bm25Index::new(cfg.bm25);
            let mut slots: Vec<SlotInfo> = Vec::new();
            let mut meta = Vec::new();
            let mut ids = HashMap::new();
            let mut seq = next_seq;
            {
                let st = self.state.read();
                let live: Vec<u32> = (0..st.slots.len() as u32).filter(|&s| st.slots[s as usize].alive()).collect();
                for chunk in live.chunks(COMPACT_FRAME) {
                    cancel.check()?;
                    let mut payload = Vec::new();
                    payload.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
                    let mut spans = Vec::with_capacity(chunk.len());
                    for &s in chunk {
                        // damage is not copied into the new generation: compaction stops with ERR_CORRUPT
                        let bytes = st.record_bytes(s)?;
                        spans.push((payload.len() as u64, bytes.len() as u32));
                        payload.extend_from_slice(&bytes);
                    }
                    let base = log.append(FrameKind::Upsert, seq, &payload, false)?;
                    seq += 1;
                    for (&s, (off, len)) in chunk.iter().zip(spans) {
                        let info = &st.slots[s as usize];
                        let slot = slots.len() as u32;
                        if info.has_vector() {
                            if let (Some(nv), Some(ov)) = (&vectors, &st.vectors) {
                                st.check_vector(s)?;
                                nv.set(slot, ov.get(s))?;
                            }
                        }
                        if info.has_text() {
                            let rec = &payload[off as usize..off as usize + len as usize];
                            let r = store::record::decode(&mut Reader::new(rec), Parts { text: true, ..Default::default() })?;
                            if let Some(t) = r.text {
                                bm25.add(slot, &self.analyzer().analyze(&t));
                            }
                        }
                        ids.insert(info.id.clone(), slot);
                        let mut slot_info = SlotInfo { offset: base + off, len, flags: info.flags | flags::ALIVE, ..info.clone() };
                        if !info.is_checked() {
                            // slots from a format-1 table get their checksums now
                            slot_info.crc = crc32fast::hash(&payload[off as usize..off as usize + len as usize]);
                            slot_info.vcrc = match (&vectors, info.has_vector()) {
                                (Some(nv), true) => manifest::vector_crc(nv.get(slot)),
                                _ => 0,
                            };
                            slot_info.flags |= flags::CHECKED;
                        }
                        slots.push(slot_info);
                        meta.push(st.meta[s as usize].clone());
                    }
                }
            }
            log.sync()?;
            let n = slots.len() as u32;
            let (mut builder, mut codes) = (None, None);
            if let Some(vs) = &vectors {
                let mut b = HnswBuilder::new(cfg.hnsw, vs.clone(), cfg.metric, n as usize);
                let with_vec: Vec<u32> = (0..n).filter(|&s| slots[s as usize].has_vector()).collect();
                for chunk in with_vec.chunks(10_000) {
                    cancel.check()?;
                    b.insert(chunk, chunk.last().map_or(0, |&s| s + 1))?;
                }
                b.insert(&[], n)?;
                builder = Some(b);
                if cfg.quantization == Quantization::Sq8 {
                    codes = train_codes(vs, &with_vec, n)?.map(Arc::new);
                }
            }
            let graph = Arc::new(builder.as_ref().map(|b| b.export()).unwrap_or_else(crate::vector::FrozenGraph::empty));
            // write the new checkpoint
            let mut m = Manifest { format_version: manifest::FORMAT_VERSION, gen, log: log_name.clone(), ..Default::default() };
            if let Some(b) = &builder {
                write_graph(&dir, &mut m, &graph, b)?;
            }
            m.hnsw_watermark = n;
            write_tables(&dir, &mut m, &slots, &meta, &bm25, vectors.as_deref(), codes.as_deref())?;
            m.log_offset = log.end();
            m.next_seq = seq;
            cancel.check()?;
            Ok((m, log, log_name, slots, meta, ids, bm25, graph, vectors, codes, builder, n, seq))
        })();
        let (m, log, log_name, slots, meta, ids, bm25, graph, vectors, codes, builder, n, seq) = match built {
            Ok(b) => b,
            Err(e) => {
                remove_generation(&dir, gen, &w.manifest);
                return Err(e);
            }
        };
        publish(&dir, &m)?;
        // swap
        let reader = Arc::new(RecordLog::open(&dir.join(&log_name), false)?);
        {
            let mut st = self.state.write();
            let chunks = slots.iter().filter(|s| s.is_chunk()).count();
            *st = State { live: slots.len(), chunks, slots, meta, ids, bm25, graph, vectors, codes, log: Some(reader) };
        }
        w.log = log;
        self.generation.store(m.gen, std::sync::atomic::Ordering::Relaxed);
        *ix = Index::new(n, Dump::of(&m));
        ix.builder = builder;
        w.manifest = m;
        w.next_seq = seq;
        w.dirty = false;
        remove_stale_files(&dir, &w.manifest);
        Ok(())
    }
}

/// Prefixes of the files a collection derives from its record log, plus the log's own.
const FILE_PREFIXES: [&str; 7] = ["records-", "vectors-", "codes-", "slots-", "bm25-", "graph-", "hnsw-"];

/// The generation in a collection file name such as `slots-12.bin` or `hnsw-3.hnsw.data`.
fn file_gen(name: &str) -> Option<u64> {
    let rest = FILE_PREFIXES.iter().find_map(|p| name.strip_prefix(p))?;
    let digits = rest.split('.').next()?;
    digits.parse().ok()
}

/// Options of [`Collection::repair_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct RepairOptions {
    /// Rebuild from what the record log still holds even when that loses records: damaged
    /// frames are dropped, a log cut short below its checkpoint is taken as it is, records
    /// the current state serves but the log no longer holds are gone. Off by default:
    /// repair then changes nothing and says what it would lose (`ERR_CORRUPT`).
    pub accept_loss: bool,
}

/// What [`Collection::repair_with`] did.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairReport {
    /// Live records after the repair.
    pub records: usize,
    /// Live records the collection served before, when it could be opened at all.
    pub records_before: Option<usize>,
    /// Log frames that were damaged and dropped (only with `accept_loss`).
    pub dropped_frames: Vec<DamagedFrame>,
    /// Records of damaged log frames recovered through the checkpoint's checksums (their
    /// own bytes were intact).
    pub recovered: usize,
    /// Records served before and not after (only with `accept_loss`), at most 100 ids.
    pub lost_ids: Vec<String>,
    /// How many records were lost in all (see `lost_ids`).
    pub lost: usize,
    /// Bytes of a torn tail (an interrupted write, never acknowledged) cut off the log.
    pub torn_bytes: u64,
}

/// Live record ids (chunks excluded) of an open collection.
fn live_ids(c: &Collection) -> HashSet<Box<str>> {
    let st = c.state.read();
    (0..st.slots.len() as u32).filter(|&s| st.is_record(s, None)).map(|s| st.slots[s as usize].id.clone()).collect()
}

impl Collection {
    /// Adds to this state (a repair's replay that skipped `damaged` frames) the records
    /// the old state serves from inside those frames whose bytes still match their
    /// checksums, at their place in the log, and kills what the old state had deleted
    /// there. Returns how many records were recovered.
    fn recover_from(&self, old: &Collection, damaged: &[DamagedFrame]) -> Result<usize> {
        let inside = |off: u64, len: u32| damaged.iter().any(|d| off >= d.offset && off + len as u64 <= d.offset + d.bytes);
        let mut recovered = 0;
        {
            let ost = old.state.read();
            for slot in 0..ost.slots.len() as u32 {
                let s = &ost.slots[slot as usize];
                if !s.alive() || !s.is_checked() || !inside(s.offset, s.len) {
                    continue;
                }
                // a record whose own bytes are damaged is lost (reported by the caller)
                let Ok(bytes) = ost.record_bytes(slot) else { continue };
                // a frame of one record, applied as if it sat at the record's own offset
                let mut payload = Vec::with_capacity(4 + bytes.len());
                payload.extend_from_slice(&1u32.to_le_bytes());
                payload.extend_from_slice(&bytes);
                self.apply_frame(FrameKind::Upsert, s.offset - 4, &payload)?;
                recovered += (!s.is_chunk()) as usize;
            }
        }
        let old_ids = live_ids(old);
        let deleted: Vec<Box<str>> = live_ids(self).into_iter().filter(|id| !old_ids.contains(id)).collect();
        let mut st = self.state.write();
        for id in deleted {
            self.kill_id(&mut st, &id)?;
        }
        Ok(recovered)
    }

    /// Rebuilds the collection in `dir` from its record log with the default
    /// [`RepairOptions`]; see [`repair_with`](Self::repair_with).
    pub fn repair(dir: &Path) -> Result<Arc<Collection>> {
        Self::repair_with(dir, RepairOptions::default()).map(|(c, _)| c)
    }

    /// Rebuilds the collection in `dir` from its record log, the source of truth: the
    /// slot table, metadata, vector file, BM25 index and HNSW graph are derived again by
    /// replaying every frame into files of a new generation, beside the current ones, and
    /// the new state replaces the old one (one atomic manifest write) only when it holds
    /// at least what the old state served.
    ///
    /// The log named by the manifest is used when the manifest is readable; otherwise the
    /// oldest `records-<g>.log` in the directory (a compaction's newer log only replaces it
    /// once its manifest is published, and then both hold the same live records).
    ///
    /// When the rebuild would lose something (a damaged frame in the log, a log shorter
    /// than its checkpoint, a record the current state serves that the log no longer
    /// holds), nothing is changed and the error is `ERR_CORRUPT` naming the frame, unless
    /// [`RepairOptions::accept_loss`] is set: then the rebuilt state is kept, the log is
    /// rewritten without the damaged frames (a compaction), and the report lists what was
    /// lost. An unreadable `collection.json` is `ERR_CORRUPT` too. Safe to interrupt: until
    /// the new manifest is written, the old state is untouched; after, it is the new one.
    pub fn repair_with(dir: &Path, opts: RepairOptions) -> Result<(Arc<Collection>, RepairReport)> {
        let cf = super::CollectionFile::read(dir)?;
        let old = Manifest::load(dir).ok().flatten();
        // what the collection serves now, if it opens (read-only: nothing is changed); kept
        // open to recover intact records of damaged frames through its checksums
        let old_col = Collection::open_checked(dir).ok();
        let before = old_col.as_deref().map(live_ids);
        let mut logs: Vec<(u64, String)> = Vec::new();
        let mut max_gen = old.as_ref().map_or(0, |m| m.gen);
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io(e, format!("listing {}", dir.display())))?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(g) = file_gen(&name) else { continue };
            max_gen = max_gen.max(g);
            if name.starts_with("records-") && name.ends_with(".log") {
                logs.push((g, name));
            }
        }
        logs.sort();
        let log = match &old {
            Some(m) if dir.join(&m.log).exists() => m.log.clone(),
            _ => logs.first().map_or_else(|| Manifest::initial().log, |(_, n)| n.clone()),
        };
        // a generation above every file's, so the new files never overwrite the old ones
        let base = max_gen + 1;
        // giving up: the new generation's files go, the old state stays as it was
        let current = old.clone().unwrap_or_else(Manifest::initial);
        let give_up = |col: Option<&Collection>, e: Error| {
            if let Some(c) = col {
                c.abandon();
            }
            remove_generation(dir, base, &current);
            e
        };
        let log_len = std::fs::metadata(dir.join(&log)).map_or(0, |m| m.len());
        let m = Manifest { format_version: manifest::FORMAT_VERSION, gen: base, log: log.clone(), ..Default::default() };
        let mut salvage = crate::store::log::Salvage::default();
        let col = Collection::assemble(dir, cf, m, false, false, super::Replay::Salvage(&mut salvage)).map_err(|e| give_up(None, e))?;
        // a verified checkpoint vouches for the records of damaged frames whose own bytes
        // still match their checksums, and for the deletes those frames held
        let mut recovered = 0;
        if let Some(oc) = old_col.as_ref().filter(|oc| !salvage.damaged.is_empty() && oc.follow_log_name().as_deref() == Some(log.as_str())) {
            recovered = col.recover_from(oc, &salvage.damaged).map_err(|e| give_up(Some(&*col), e))?;
        }
        drop(old_col);
        let after = live_ids(&col);
        let mut report = RepairReport {
            recovered,
            records: after.len(),
            records_before: before.as_ref().map(|b| b.len()),
            torn_bytes: salvage.torn_bytes,
            ..Default::default()
        };
        let mut lost: Vec<String> = before.iter().flatten().filter(|id| !after.contains(*id)).map(|id| id.to_string()).collect();
        lost.sort();
        report.lost = lost.len();
        let short = old.as_ref().filter(|o| o.log == log && log_len < o.log_offset).map(|o| (log_len, o.log_offset));
        let frames = salvage.damaged.first().map(|f| {
            let seq = f.seq.map_or(String::new(), |s| format!(", sequence {s}"));
            format!("the record log has {} damaged frame(s), the first at byte {}{seq} ({})", salvage.damaged.len(), f.offset, f.reason)
        });
        let mut losses = Vec::new();
        // damaged frames lose nothing when the old state showed what they held
        if let Some(f) = frames.as_ref().filter(|_| before.is_none()) {
            losses.push(f.clone());
        }
        if let Some((len, offset)) = short {
            losses.push(format!("the record log ({len} bytes) is shorter than its checkpoint ({offset} bytes): later writes are gone"));
        }
        if !lost.is_empty() {
            let why = frames.as_ref().map_or(String::new(), |f| format!(" ({f}; {recovered} record(s) of those frames are intact)"));
            losses.push(format!("{} record(s) the collection serves now would be lost (first: {:?}){why}", lost.len(), lost[0]));
        }
        if !losses.is_empty() && !opts.accept_loss {
            return Err(give_up(
                Some(&*col),
                Error::corrupt(
                    &dir.join(&log),
                    format!("repair would lose data: {}. Nothing was changed; repair with acceptLoss (hektor repair --accept-loss) to rebuild from what the log still holds", losses.join("; ")),
                ),
            ));
        }
        report.lost_ids = lost.into_iter().take(100).collect();
        report.dropped_frames = salvage.damaged;
        // a repaired collection comes back with its whole graph
        col.wait_for_index(&Cancel::new(), |_| {})?;
        {
            let mut wg = col.writer.lock();
            if let Some(w) = wg.as_mut() {
                // the torn tail was never acknowledged; new frames go where it started
                w.log.truncate_to_end()?;
                w.dirty = true;
                col.checkpoint_locked(w)?;
            }
        }
        if !report.dropped_frames.is_empty() {
            // a log without the damaged frames, so they are not met again
            col.compact(&Cancel::new())?;
        }
        Ok((col, report))
    }
}

/// Writes the frozen graph and hnsw_rs's dump for generation `m.gen`; names them in `m`.
fn write_graph(dir: &Path, m: &mut Manifest, graph: &FrozenGraph, builder: &HnswBuilder) -> Result<()> {
    let gname = format!("graph-{}.bin", m.gen);
    graph.save(&dir.join(&gname))?;
    m.graph = Some(gname);
    m.hnsw = None;
    m.hnsw_crc = None;
    if !builder.is_empty() {
        let hname = format!("hnsw-{}", m.gen);
        builder.dump(dir, &hname)?;
        m.hnsw_crc = Some(hnsw_dump_crc(dir, &hname)?);
        m.hnsw = Some(hname);
    }
    Ok(())
}

/// CRC-32 of the two files of hnsw_rs's dump `base` (hnsw_rs's format has no checksum
/// of its own, and it may abort the process on garbage, so a dump is checked first).
pub(crate) fn hnsw_dump_crc(dir: &Path, base: &str) -> Result<[u32; 2]> {
    let crc = |ext: &str| -> Result<u32> {
        let p = dir.join(format!("{base}.{ext}"));
        let mut f = std::fs::File::open(&p).map_err(|e| Error::io(e, format!("opening {}", p.display())))?;
        let mut h = crc32fast::Hasher::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = std::io::Read::read(&mut f, &mut buf).map_err(|e| Error::io(e, format!("reading {}", p.display())))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(h.finalize())
    };
    Ok([crc("hnsw.graph")?, crc("hnsw.data")?])
}

/// Flushes the vector and code files and writes the slot table and BM25 index for
/// generation `m.gen`; names them in `m`.
fn write_tables(
    dir: &Path,
    m: &mut Manifest,
    slots: &[SlotInfo],
    meta: &[Option<serde_json::Value>],
    bm25: &Bm25Index,
    vectors: Option<&VectorStore>,
    codes: Option<&Codes>,
) -> Result<()> {
    if let Some(vs) = vectors {
        vs.flush()?;
        m.vectors = vs.path().file_name().map(|f| f.to_string_lossy().into_owned());
    }
    (m.codes, m.sq8, m.codes_encoded) = (None, None, 0);
    if let Some(c) = codes {
        c.flush()?;
        m.codes = c.path().file_name().map(|f| f.to_string_lossy().into_owned());
        m.sq8 = Some(c.sq8.clone());
        m.codes_encoded = c.encoded();
    }
    let sname = format!("slots-{}.bin", m.gen);
    manifest::save_slots(&dir.join(&sname), slots, meta)?;
    m.slots = Some(sname);
    m.n_slots = slots.len() as u64;
    let bname = format!("bm25-{}.bin", m.gen);
    bm25.save(&dir.join(&bname))?;
    m.bm25 = Some(bname);
    Ok(())
}

/// Makes a checkpoint visible: syncs the directory (new files) and replaces the manifest.
fn publish(dir: &Path, m: &Manifest) -> Result<()> {
    fsutil::sync_dir(dir)?;
    m.store(dir)
}

/// Deletes the files of generation `gen` that `m` does not reference (the leftovers of a
/// checkpoint or compaction that failed before its manifest was published).
fn remove_generation(dir: &Path, gen: u64, m: &Manifest) {
    remove_unreferenced(dir, m, |name| file_gen(name) == Some(gen));
    // a temp file of the manifest itself
    let _ = std::fs::remove_file(dir.join(manifest::MANIFEST).with_extension("tmp"));
}

/// Deletes files of earlier generations (and temp files) that `m` does not reference.
pub(crate) fn remove_stale_files(dir: &Path, m: &Manifest) {
    remove_unreferenced(dir, m, |name| FILE_PREFIXES.iter().any(|p| name.starts_with(p)) || name.ends_with(".tmp"));
}

/// Deletes the files of `dir` that `pick` selects and `m` does not reference.
fn remove_unreferenced(dir: &Path, m: &Manifest, pick: impl Fn(&str) -> bool) {
    let keep: HashSet<String> = m.files().into_iter().collect();
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if pick(&name) && !keep.contains(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
