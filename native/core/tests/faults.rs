//! Faults that must never lose acknowledged data or end the process: a full disk (on a
//! small tmpfs), calls that fail part-way, duplicate ids, and damaged bytes that reads
//! must refuse instead of serving.

mod common;

use common::{clustered, tmp};
use hektor_core::collection::manifest::Manifest;
use hektor_core::store::record::Parts;
use hektor_core::{Cancel, Collection, CollectionConfig, Database, ErrorCode, OpenOptionsDb, Record, SearchQuery};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

const DIM: usize = 64;

/// Says a test was skipped on the real stderr (the test harness captures `eprintln!`).
fn skipped(msg: &str) {
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {msg} ***");
}

/// A tmpfs of a few MiB mounted for one test (needs root), unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(test: &str, mib: u32) -> Option<Tmpfs> {
        let dir = tmp(test);
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            skipped(&format!("{test}: cannot mount a tmpfs here (needs root and mount(8)); the full-disk path is untested"));
            return None;
        }
        Some(Tmpfs(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file that takes the file system's free space, all of it or all but `leave` bytes.
struct Filler(PathBuf);

impl Filler {
    fn new(dir: &Path) -> Filler {
        Filler(dir.join("filler"))
    }

    /// Fills the disk, then gives back `leave` bytes.
    fn fill(&self, leave: u64) {
        let mut f = OpenOptions::new().create(true).append(true).open(&self.0).unwrap();
        let block = vec![0x55u8; 64 << 10];
        while f.write_all(&block).is_ok() {}
        let _ = f.flush();
        let len = std::fs::metadata(&self.0).unwrap().len();
        // a failed write_all may have written part of a block: trim to what is really there
        f.set_len(len.saturating_sub(leave)).unwrap();
        f.sync_all().unwrap();
    }

    fn free(&self) {
        File::create(&self.0).unwrap();
    }
}

fn rec(i: usize, v: Vec<f32>) -> Record {
    Record {
        id: format!("r{i}"),
        text: Some(format!("record number {i} in group{} with some words to index", i % 7)),
        vector: Some(v),
        metadata: Some(serde_json::json!({ "i": i })),
    }
}

fn batch(from: usize, n: usize) -> Vec<Record> {
    clustered(n, DIM, 4, from as u64 + 1).into_iter().enumerate().map(|(j, v)| rec(from + j, v)).collect()
}

/// Upserts batches of 40 until the disk is full; returns how many records were acknowledged.
fn upsert_until_full(c: &Collection, from: usize) -> usize {
    let mut acked = from;
    for _ in 0..10_000 {
        match c.upsert(batch(acked, 40)) {
            Ok(n) => acked += n,
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::Io, "a full disk is ERR_IO: {e}");
                return acked;
            }
        }
    }
    panic!("the disk never filled up");
}

fn gens(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn a_full_disk_is_err_io_and_the_collection_works_once_space_returns() {
    let Some(fs) = Tmpfs::mount("full-disk", 12) else { return };
    let filler = Filler::new(fs.path());
    let dbdir = fs.path().join("db");
    let db = Database::open(&dbdir, OpenOptionsDb::default()).unwrap();
    let c = db.create_collection("docs", CollectionConfig { dimension: Some(DIM), ..Default::default() }).unwrap();
    c.upsert(batch(0, 200)).unwrap();
    c.flush().unwrap();
    filler.fill(300 << 10);

    // writes fail with ERR_IO (a SIGBUS would end this test process), nothing half-applied
    let acked = upsert_until_full(&c, 200);
    assert!(acked > 200, "some writes fit before the disk filled");
    for _ in 0..3 {
        assert_eq!(c.upsert(batch(acked, 40)).unwrap_err().code(), ErrorCode::Io);
    }
    assert_eq!(c.count(None).unwrap(), acked);
    let last = format!("r{}", acked - 1);
    assert!(c.get(std::slice::from_ref(&last), Parts::ALL).unwrap()[0].is_some());
    assert!(c.get(&[format!("r{acked}")], Parts::ALL).unwrap()[0].is_none(), "a failed batch is not visible");
    let q = SearchQuery { vector: Some(clustered(1, DIM, 4, 3).pop().unwrap()), k: 5, ..Default::default() };
    assert_eq!(c.search(&q).unwrap().len(), 5);

    // a checkpoint on a full disk fails, keeps the last one, and leaves no files behind
    let before = Manifest::load(&dbdir.join("docs")).unwrap().unwrap();
    let files = gens(&dbdir.join("docs"));
    assert_eq!(c.flush().unwrap_err().code(), ErrorCode::Io);
    assert_eq!(Manifest::load(&dbdir.join("docs")).unwrap().unwrap(), before);
    assert_eq!(gens(&dbdir.join("docs")), files, "the failed checkpoint's files are removed");

    // so does a compaction, which needs room for a second copy
    assert_eq!(c.compact(&Cancel::new()).unwrap_err().code(), ErrorCode::Io);
    assert_eq!(gens(&dbdir.join("docs")), files, "the failed compaction's files are removed");
    assert_eq!(c.count(None).unwrap(), acked);

    // space comes back: everything works again, and nothing acknowledged was lost
    filler.free();
    c.upsert(batch(acked, 40)).unwrap();
    c.flush().unwrap();
    c.delete(&["r0".into()]).unwrap();
    c.compact(&Cancel::new()).unwrap();
    assert_eq!(c.count(None).unwrap(), acked + 40 - 1);
    db.close().unwrap();
    let db = Database::open(&dbdir, OpenOptionsDb::default()).unwrap();
    let c = db.collection("docs").unwrap();
    assert_eq!(c.count(None).unwrap(), acked + 40 - 1);
    let exact = SearchQuery { exact: true, ..q.clone() };
    assert_eq!(c.search(&q).unwrap().iter().map(|h| &h.id).collect::<Vec<_>>(), c.search(&exact).unwrap().iter().map(|h| &h.id).collect::<Vec<_>>());
    db.close().unwrap();
}

#[test]
fn a_full_disk_while_the_vector_file_grows_is_err_io() {
    // a wide dimension: the vector file outgrows its first mapped chunk while the disk is full
    let Some(fs) = Tmpfs::mount("full-disk-vectors", 16) else { return };
    let filler = Filler::new(fs.path());
    let dbdir = fs.path().join("db");
    let db = Database::open(&dbdir, OpenOptionsDb::default()).unwrap();
    let dim = 1024;
    let c = db.create_collection("wide", CollectionConfig { dimension: Some(dim), ..Default::default() }).unwrap();
    filler.fill(6 << 20);
    let mut acked = 0;
    let err = loop {
        let recs: Vec<Record> = clustered(100, dim, 4, acked as u64)
            .into_iter()
            .enumerate()
            .map(|(j, v)| Record { id: format!("w{}", acked + j), vector: Some(v), ..Default::default() })
            .collect();
        match c.upsert(recs) {
            Ok(n) => acked += n,
            Err(e) => break e,
        }
        assert!(acked < 100_000, "the disk never filled up");
    };
    assert_eq!(err.code(), ErrorCode::Io, "{err}");
    assert_eq!(c.count(None).unwrap(), acked);
    filler.free();
    c.flush().unwrap();
    db.close().unwrap();
    let db = Database::open(&dbdir, OpenOptionsDb::default()).unwrap();
    assert_eq!(db.collection("wide").unwrap().count(None).unwrap(), acked);
}

#[test]
fn a_call_is_validated_whole_before_any_batch_is_written() {
    let dir = tmp("whole-call");
    let c = Collection::create(&dir.join("c"), "c", CollectionConfig::default()).unwrap();
    // a vector of another dimension at row 2,400, in the third batch of 1,000
    let mut recs = batch(0, 2500);
    recs[2400].vector = Some(vec![1.0; DIM + 1]);
    let e = c.upsert_in_batches(recs, 1000, &Cancel::new()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::DimensionMismatch, "{e}");
    assert_eq!(e.location().row, Some(2400), "rows count from the start of the call");
    assert_eq!(c.count(None).unwrap(), 0, "nothing was written");
    // metadata too deep at row 2,400
    let mut recs = batch(0, 2500);
    let mut deep = serde_json::json!(1);
    for _ in 0..40 {
        deep = serde_json::json!({ "a": deep });
    }
    recs[2400].metadata = Some(deep);
    let e = c.upsert_in_batches(recs, 1000, &Cancel::new()).unwrap_err();
    assert_eq!((e.code(), e.location().row), (ErrorCode::Limit, Some(2400)), "{e}");
    assert_eq!(c.count(None).unwrap(), 0);
    // NaN at row 2,499, and an empty id
    let mut recs = batch(0, 2500);
    recs[2499].vector.as_mut().unwrap()[3] = f32::NAN;
    assert_eq!(c.upsert_in_batches(recs, 1000, &Cancel::new()).unwrap_err().location().row, Some(2499));
    let mut recs = batch(0, 2500);
    recs[1999].id.clear();
    assert_eq!(c.upsert_in_batches(recs, 1000, &Cancel::new()).unwrap_err().location().row, Some(1999));
    assert_eq!(c.count(None).unwrap(), 0);
    // a good call is written in batches
    assert_eq!(c.upsert_in_batches(batch(0, 2500), 1000, &Cancel::new()).unwrap(), 2500);
    assert_eq!(c.count(None).unwrap(), 2500);
    // an abort between batches keeps the batches written
    let cancel = Cancel::new();
    cancel.cancel();
    assert_eq!(c.upsert_in_batches(batch(5000, 10), 5, &cancel).unwrap_err().code(), ErrorCode::Aborted);
    assert_eq!(c.count(None).unwrap(), 2505, "the first batch, then the abort");
}

#[test]
fn duplicate_ids_in_one_call_last_wins_and_count_once() {
    let dir = tmp("dup-ids");
    let c = Collection::create(&dir.join("c"), "c", CollectionConfig::default()).unwrap();
    let mut recs = batch(0, 5);
    let mut again = recs[1].clone();
    again.text = Some("the second version".into());
    recs.push(again);
    let mut third = recs[1].clone();
    third.text = Some("the third version".into());
    // across batches too
    let n = c.upsert_in_batches(recs.into_iter().chain([third]).collect(), 2, &Cancel::new()).unwrap();
    assert_eq!(n, 5, "distinct records written");
    assert_eq!(c.count(None).unwrap(), 5);
    let got = c.get(&["r1".into()], Parts::ALL).unwrap().pop().unwrap().unwrap();
    assert_eq!(got.text.as_deref(), Some("the third version"));
    let t = SearchQuery { text: Some("version".into()), k: 10, ..Default::default() };
    assert_eq!(c.search(&t).unwrap().len(), 1);
}

/// Flips one byte of `path` at `offset`.
fn flip_at(path: &Path, offset: u64) {
    let mut b = std::fs::read(path).unwrap();
    b[offset as usize] ^= 0x20;
    std::fs::write(path, &b).unwrap();
}

#[test]
fn damaged_record_bytes_and_vector_rows_are_refused_not_served() {
    let dir = tmp("damaged-reads");
    let cdir = dir.join("c");
    {
        let c = Collection::create(&cdir, "c", CollectionConfig { dimension: Some(DIM), ..Default::default() }).unwrap();
        c.upsert(batch(0, 300)).unwrap();
        c.close().unwrap();
    }
    let m = Manifest::load(&cdir).unwrap().unwrap();
    // the text of r7 inside the checkpointed part of the log
    let log = cdir.join(&m.log);
    let bytes = std::fs::read(&log).unwrap();
    let needle = b"record number 7 in";
    let at = bytes.windows(needle.len()).position(|w| w == needle).unwrap() as u64;
    flip_at(&log, at + 3);
    // the vector row of r9 (cosine: rows are stored normalised, 4 bytes a value)
    flip_at(&cdir.join(m.vectors.as_ref().unwrap()), (9 * DIM * 4 + 10) as u64);

    let c = Collection::open(&cdir, false).unwrap();
    let e = c.get(&["r7".into()], Parts::ALL).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Corrupt, "{e}");
    assert!(e.message().contains("r7") && e.message().contains(&m.log), "{e}");
    assert!(c.get(&["r8".into()], Parts::ALL).unwrap()[0].is_some(), "other records still read");
    let report = c.verify().unwrap();
    let mut damaged: Vec<(String, &str)> = report.damaged.iter().map(|d| (d.id.clone(), d.part)).collect();
    damaged.sort();
    assert_eq!(damaged, [("r7".to_string(), "record"), ("r9".to_string(), "vector")]);
    assert_eq!(report.records, 300);
    // a search that would return r9 says so instead of ranking it with a wrong vector
    let v9 = batch(0, 300)[9].vector.clone().unwrap();
    let q = SearchQuery { vector: Some(v9), k: 3, exact: true, ..Default::default() };
    assert_eq!(c.search(&q).unwrap_err().code(), ErrorCode::Corrupt);
    // a damaged record can still be deleted, and replaced
    c.delete(&["r7".into()]).unwrap();
    c.upsert(vec![batch(0, 300).swap_remove(9)]).unwrap();
    assert_eq!(c.search(&q).unwrap()[0].id, "r9");
    assert!(c.verify().unwrap().damaged.is_empty());
}

/// A collection of 3 upsert frames (r0..r299) and a delete of r5, all checkpointed; returns
/// its directory and the byte offset where each frame starts in the log.
fn checkpointed(name: &str) -> (PathBuf, Vec<u64>) {
    let dir = tmp(name);
    let cdir = dir.join("c");
    let c = Collection::create(&cdir, "c", CollectionConfig { dimension: Some(DIM), ..Default::default() }).unwrap();
    let mut starts = Vec::new();
    let log_len = |c: &Collection| std::fs::metadata(c.dir().join("records-0.log")).map_or(0, |m| m.len());
    for b in 0..3 {
        starts.push(log_len(&c));
        c.upsert(batch(b * 100, 100)).unwrap();
    }
    starts.push(log_len(&c));
    c.delete(&["r5".into()]).unwrap();
    c.close().unwrap();
    (cdir, starts)
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn repair_never_trades_a_verified_checkpoint_for_a_damaged_log() {
    let (cdir, starts) = checkpointed("repair-damaged-frame");
    let log = cdir.join("records-0.log");
    flip_at(&log, starts[1] + 500); // inside the second frame (r100..r199), checkpointed
    // open still serves everything from the checkpoint ...
    let c = Collection::open(&cdir, false).unwrap();
    assert_eq!(c.count(None).unwrap(), 299);
    let report = c.verify().unwrap();
    assert_eq!(report.damaged_frames.len(), 1);
    assert_eq!(report.damaged_frames[0].offset, starts[1]);
    c.close().unwrap();
    // ... so repair refuses to rebuild from the log, names the frame, and changes nothing
    let before = files(&cdir);
    let e = Collection::repair(&cdir).err().expect("repair must refuse");
    assert_eq!(e.code(), ErrorCode::Corrupt, "{e}");
    assert!(e.message().contains(&format!("byte {}", starts[1])), "{e}");
    assert_eq!(files(&cdir), before, "a refused repair changes no file");
    assert_eq!(Collection::open(&cdir, false).unwrap().count(None).unwrap(), 299);
    // with acceptLoss it rebuilds from what the log holds: the checkpoint vouches for the
    // frame's other records (their own checksums match), so only the damaged one goes
    let (c, report) = Collection::repair_with(&cdir, hektor_core::RepairOptions { accept_loss: true }).unwrap();
    assert_eq!(report.dropped_frames.len(), 1);
    assert_eq!((report.records_before, report.records, report.lost, report.recovered), (Some(299), 298, 1, 99));
    assert!(report.lost_ids[0].starts_with("r1"), "{:?}", report.lost_ids);
    assert_eq!(c.count(None).unwrap(), 298);
    assert!(c.verify().unwrap().is_ok(), "the damaged frame is gone from the rewritten log");
    c.close().unwrap();
    assert_eq!(Collection::open(&cdir, false).unwrap().count(None).unwrap(), 298);
}

#[test]
fn damage_outside_any_record_is_repaired_without_loss() {
    // a flipped byte in a frame's checksum field: every record's own bytes are intact
    let (cdir, starts) = checkpointed("repair-frame-header");
    let log = cdir.join("records-0.log");
    flip_at(&log, starts[1] + 9);
    flip_at(&log, starts[3] + 9); // and in the frame that deleted r5
    let (c, report) = Collection::repair(&cdir).map(|c| {
        let r = c.verify().unwrap();
        (c, r)
    }).unwrap();
    assert!(report.is_ok());
    assert_eq!(c.count(None).unwrap(), 299);
    assert!(c.get(&["r5".into()], Parts::ALL).unwrap()[0].is_none(), "the delete of a damaged frame holds");
    assert!(c.get(&["r150".into()], Parts::ALL).unwrap()[0].is_some());
}

#[test]
fn a_log_cut_below_its_checkpoint_is_not_repaired_into_an_older_state() {
    let (cdir, starts) = checkpointed("repair-short-log");
    let log = cdir.join("records-0.log");
    OpenOptions::new().write(true).open(&log).unwrap().set_len(starts[2]).unwrap();
    let e = Collection::open(&cdir, false).err().unwrap();
    assert_eq!(e.code(), ErrorCode::Corrupt);
    let before = files(&cdir);
    let e = Collection::repair(&cdir).err().expect("repair must refuse");
    assert_eq!(e.code(), ErrorCode::Corrupt, "{e}");
    assert!(e.message().contains("shorter than its checkpoint"), "{e}");
    assert_eq!(files(&cdir), before);
    let (c, report) = Collection::repair_with(&cdir, hektor_core::RepairOptions { accept_loss: true }).unwrap();
    assert_eq!((report.records_before, report.records), (None, 200));
    assert_eq!(c.count(None).unwrap(), 200);
}

#[test]
fn a_flipped_byte_in_the_last_frame_never_brings_a_deleted_record_back_silently() {
    let (cdir, starts) = checkpointed("repair-last-frame");
    // a delete after the checkpoint is the last frame
    {
        let c = Collection::open(&cdir, false).unwrap();
        c.delete(&["r7".into()]).unwrap();
        // no close: the delete stays in the log tail only
        c.abandon_for_test();
    }
    let log = cdir.join("records-0.log");
    let len = std::fs::metadata(&log).unwrap().len();
    flip_at(&log, len - 3);
    let e = Collection::open(&cdir, false).err().expect("a damaged last frame is not a torn tail");
    assert_eq!(e.code(), ErrorCode::Corrupt, "{e}");
    assert_eq!(std::fs::metadata(&log).unwrap().len(), len, "nothing was cut off");
    let e = Collection::repair(&cdir).err().expect("repair must refuse");
    assert_eq!(e.code(), ErrorCode::Corrupt, "{e}");
    assert!(e.message().contains("damaged frame"), "{e}");
    let (c, report) = Collection::repair_with(&cdir, hektor_core::RepairOptions { accept_loss: true }).unwrap();
    assert_eq!(report.dropped_frames.len(), 1, "the dropped delete is reported");
    assert!(c.get(&["r7".into()], Parts::ALL).unwrap()[0].is_some());
    assert!(c.get(&["r5".into()], Parts::ALL).unwrap()[0].is_none());
    let _ = starts;
}

#[test]
fn a_read_only_handle_follows_the_writer_in_whole_batches() {
    let dir = tmp("follow");
    let cdir = dir.join("c");
    let w = Collection::create(&cdir, "c", CollectionConfig { dimension: Some(DIM), ..Default::default() }).unwrap();
    w.upsert(batch(0, 100)).unwrap();
    let r = Collection::open(&cdir, true).unwrap();
    assert_eq!(r.count(None).unwrap(), 100);
    // new writes: seen at once after refresh(), and by any read after FOLLOW_INTERVAL
    w.upsert(batch(100, 50)).unwrap();
    assert!(r.refresh().unwrap());
    assert_eq!(r.count(None).unwrap(), 150);
    w.delete(&["r3".into()]).unwrap();
    w.upsert(batch(150, 50)).unwrap();
    std::thread::sleep(hektor_core::collection::FOLLOW_INTERVAL * 2);
    assert_eq!(r.count(None).unwrap(), 199);
    assert!(r.get(&["r3".into()], Parts::ALL).unwrap()[0].is_none());
    let t = SearchQuery { text: Some("number 170".into()), mode: Some(hektor_core::Mode::Text), k: 1, ..Default::default() };
    assert_eq!(r.search(&t).unwrap()[0].id, "r170");
    // across a checkpoint and a compaction (a new log)
    w.flush().unwrap();
    w.upsert(batch(200, 10)).unwrap();
    r.refresh().unwrap();
    assert_eq!(r.count(None).unwrap(), 209);
    w.compact(&Cancel::new()).unwrap();
    w.upsert(batch(210, 10)).unwrap();
    assert!(r.refresh().unwrap());
    assert_eq!(r.count(None).unwrap(), 219);
    let v = clustered(1, DIM, 4, 42).pop().unwrap();
    let (a, e) = (SearchQuery { vector: Some(v.clone()), k: 10, ..Default::default() }, SearchQuery { vector: Some(v), k: 10, exact: true, ..Default::default() });
    let ids = |h: Vec<hektor_core::Hit>| h.into_iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(ids(r.search(&a).unwrap()), ids(w.search(&e).unwrap()));
    // a frame the writer is still writing is not seen, and is no error
    let log = cdir.join(Manifest::load(&cdir).unwrap().unwrap().log);
    let full = std::fs::read(&log).unwrap();
    w.upsert(batch(220, 5)).unwrap();
    let with = std::fs::read(&log).unwrap();
    let frame = with[full.len()..].to_vec();
    std::fs::write(&log, &full).unwrap();
    let mut f = OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&frame[..frame.len() / 2]).unwrap();
    assert!(!r.refresh().unwrap());
    assert_eq!(r.count(None).unwrap(), 219);
    f.write_all(&frame[frame.len() / 2..]).unwrap();
    assert!(r.refresh().unwrap());
    assert_eq!(r.count(None).unwrap(), 224);
}

/// An embedder that cancels the call after its first batch (a user pressing Ctrl-C while a
/// slow local model embeds), counting its calls.
struct CancelAfterFirst {
    cancel: Cancel,
    calls: std::sync::atomic::AtomicUsize,
}

impl hektor_core::rag::models::Embedder for CancelAfterFirst {
    fn embed(&self, texts: &[&str]) -> hektor_core::Result<Vec<Vec<f32>>> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.cancel.cancel();
        Ok(texts.iter().map(|t| vec![1.0, t.len() as f32, 0.5]).collect())
    }
    fn dimension(&self) -> Option<usize> {
        Some(3)
    }
    fn describe(&self) -> String {
        "cancel-after-first".into()
    }
}

#[test]
fn a_cancelled_call_stops_inside_a_batch_while_it_embeds() {
    let dir = tmp("cancel-embed");
    let c = Collection::create(&dir.join("c"), "c", CollectionConfig::default()).unwrap();
    let cancel = Cancel::new();
    let e = std::sync::Arc::new(CancelAfterFirst { cancel: cancel.clone(), calls: Default::default() });
    c.set_embedder(Some(e.clone()));
    let recs: Vec<Record> = (0..1000).map(|i| Record { id: format!("t{i}"), text: Some(format!("text {i}")), ..Default::default() }).collect();
    // one batch of 1,000 texts: the embedder is called in small batches, and the cancel is
    // seen after the first instead of after all of them
    let err = c.upsert_in_batches(recs, 1000, &cancel).unwrap_err();
    assert_eq!(err.code(), ErrorCode::Aborted);
    assert_eq!(e.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(c.count(None).unwrap(), 0, "nothing of the interrupted batch is written");
}
