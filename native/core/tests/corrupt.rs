//! Damaged checkpoint files: `ERR_CORRUPT` naming the file at open (the other
//! collections still open), and `Database::repair` rebuilding from the record log.

mod common;

use common::{clustered, tmp};
use hektor_core::collection::manifest::Manifest;
use hektor_core::store::record::Parts;
use hektor_core::{CollectionConfig, Database, ErrorCode, OpenOptionsDb, Record, SearchQuery};
use std::path::{Path, PathBuf};

const DIM: usize = 8;

fn records(n: usize) -> Vec<Record> {
    clustered(n, DIM, 4, 7)
        .into_iter()
        .enumerate()
        .map(|(i, v)| Record {
            id: format!("r{i}"),
            text: Some(format!("item {i} group{}", i % 5)),
            vector: Some(v),
            metadata: Some(serde_json::json!({ "i": i })),
        })
        .collect()
}

/// A database with collections `good` and `bad`, identical: 400 records, 2 deleted, a
/// checkpoint, then one more record in the log after it.
fn two_collections(dir: &Path) {
    let db = Database::open(dir, OpenOptionsDb::default()).unwrap();
    for name in ["good", "bad"] {
        let c = db.create_collection(name, CollectionConfig { dimension: Some(DIM), ..Default::default() }).unwrap();
        c.upsert(records(400)).unwrap();
        c.delete(&["r1".into(), "r2".into()]).unwrap();
        c.flush().unwrap();
        let late = Record { id: "late".into(), text: Some("late arrival".into()), vector: Some(vec![0.5; DIM]), metadata: None };
        c.upsert(vec![late]).unwrap();
    }
    db.close().unwrap();
}

fn manifest(dir: &Path) -> Manifest {
    Manifest::load(&dir.join("bad")).unwrap().unwrap()
}

fn truncate(p: PathBuf) -> PathBuf {
    let len = std::fs::metadata(&p).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(len / 2).unwrap();
    p
}

fn flip(p: PathBuf) -> PathBuf {
    let mut b = std::fs::read(&p).unwrap();
    let mid = b.len() / 2;
    b[mid] ^= 0x5a;
    std::fs::write(&p, &b).unwrap();
    p
}

fn ids(hits: &[hektor_core::Hit]) -> Vec<String> {
    hits.iter().map(|h| h.id.clone()).collect()
}

/// Damages one file of `bad`, checks the error and that `good` works, repairs, checks.
fn damage_then_repair(what: &str, damage: impl Fn(&Path, &Manifest) -> PathBuf) {
    let dir = tmp("corrupt");
    two_collections(&dir);
    let file = damage(&dir.join("bad"), &manifest(&dir));
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let e = db.collection("bad").err().unwrap_or_else(|| panic!("{what}: the damaged collection opened"));
    assert_eq!(e.code(), ErrorCode::Corrupt, "{what}: {e}");
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(e.message().contains(&name), "{what}: the error names {name}: {e}");
    assert!(e.location().source.as_deref().is_some_and(|s| s.contains(&name)), "{what}: location {e}");

    let good = db.collection("good").unwrap();
    assert_eq!(good.count(None).unwrap(), 399, "{what}");
    let q = SearchQuery { vector: Some(vec![0.5; DIM]), k: 1, ..Default::default() };
    assert_eq!(ids(&good.search(&q).unwrap()), ["late"], "{what}");

    let bad = db.repair("bad").unwrap_or_else(|e| panic!("{what}: repair failed: {e}"));
    assert_eq!(bad.count(None).unwrap(), 399, "{what}");
    let got = bad.get(&["r0".into(), "r1".into(), "r399".into(), "late".into()], Parts::ALL).unwrap();
    assert_eq!(got[0].as_ref().unwrap().text.as_deref(), Some("item 0 group0"), "{what}");
    assert!(got[1].is_none(), "{what}: a deleted record came back");
    assert_eq!(got[2].as_ref().unwrap().metadata, Some(serde_json::json!({ "i": 399 })), "{what}");
    assert!(got[3].is_some(), "{what}: the record after the checkpoint is missing");
    let st = bad.stats().unwrap();
    assert_eq!(st.pending_vectors, 0, "{what}: the graph was not rebuilt");
    assert_eq!(st.text_docs, 399, "{what}");
    for v in clustered(5, DIM, 4, 99) {
        let exact = SearchQuery { vector: Some(v.clone()), k: 10, exact: true, ..Default::default() };
        let approx = SearchQuery { vector: Some(v), k: 10, ef: Some(400), ..Default::default() };
        assert_eq!(ids(&bad.search(&approx).unwrap()), ids(&good.search(&exact).unwrap()), "{what}: vector search");
    }
    let t = SearchQuery { text: Some("group3".into()), k: 1000, ..Default::default() };
    let mut a = ids(&bad.search(&t).unwrap());
    let mut b = ids(&good.search(&t).unwrap());
    a.sort();
    b.sort();
    assert_eq!(a, b, "{what}: text search");
    // writes work, and the repaired checkpoint reopens cleanly
    bad.upsert(vec![Record { id: "after".into(), text: Some("after repair".into()), vector: Some(vec![0.1; DIM]), metadata: None }]).unwrap();
    db.close().unwrap();
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    assert_eq!(db.collection("bad").unwrap().count(None).unwrap(), 400, "{what}");
    db.close().unwrap();
}

#[test]
fn truncated_checkpoint_files() {
    damage_then_repair("slot table truncated", |d, m| truncate(d.join(m.slots.as_ref().unwrap())));
    damage_then_repair("bm25 truncated", |d, m| truncate(d.join(m.bm25.as_ref().unwrap())));
    damage_then_repair("graph truncated", |d, m| truncate(d.join(m.graph.as_ref().unwrap())));
    damage_then_repair("manifest truncated", |d, _| truncate(d.join("manifest.json")));
    damage_then_repair("vectors truncated", |d, m| truncate(d.join(m.vectors.as_ref().unwrap())));
}

#[test]
fn flipped_bytes_in_checkpoint_files() {
    damage_then_repair("slot table flipped", |d, m| flip(d.join(m.slots.as_ref().unwrap())));
    damage_then_repair("bm25 flipped", |d, m| flip(d.join(m.bm25.as_ref().unwrap())));
    damage_then_repair("graph flipped", |d, m| flip(d.join(m.graph.as_ref().unwrap())));
    damage_then_repair("manifest number changed", |d, _| {
        let p = d.join("manifest.json");
        let s = std::fs::read_to_string(&p).unwrap();
        let s = s.replacen("\"hnswWatermark\": ", "\"hnswWatermark\": 1", 1);
        std::fs::write(&p, s).unwrap();
        p
    });
}

#[test]
fn damaged_hnsw_dump_is_rebuilt_not_loaded() {
    // hnsw_rs's dump is only reloaded to resume construction: a damaged one is detected
    // by its checksum in the manifest and the graph is rebuilt from the vectors
    let dir = tmp("corrupt-dump");
    two_collections(&dir);
    let m = manifest(&dir);
    let base = m.hnsw.clone().expect("a dump");
    assert!(m.hnsw_crc.is_some());
    flip(dir.join("bad").join(format!("{base}.hnsw.graph")));
    flip(dir.join("bad").join(format!("{base}.hnsw.data")));
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let bad = db.collection("bad").unwrap();
    bad.upsert(records(450).split_off(400)).unwrap();
    bad.flush().unwrap();
    assert_eq!(bad.count(None).unwrap(), 449);
    let v = clustered(1, DIM, 4, 5).pop().unwrap();
    let exact = SearchQuery { vector: Some(v.clone()), k: 10, exact: true, ..Default::default() };
    let approx = SearchQuery { vector: Some(v), k: 10, ef: Some(400), ..Default::default() };
    assert_eq!(ids(&bad.search(&approx).unwrap()), ids(&bad.search(&exact).unwrap()));
    db.close().unwrap();
}

#[test]
fn repair_without_manifest_uses_the_oldest_log_and_keeps_names_unique() {
    let dir = tmp("repair-nomanifest");
    two_collections(&dir);
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let c = db.collection("bad").unwrap();
    c.compact(&hektor_core::Cancel::new()).unwrap();
    let log = manifest(&dir).log;
    assert_ne!(log, "records-0.log");
    db.close().unwrap();
    std::fs::remove_file(dir.join("bad").join("manifest.json")).unwrap();
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let c = db.repair("bad").unwrap();
    assert_eq!(c.count(None).unwrap(), 399);
    let m = manifest(&dir);
    assert_eq!(m.log, log);
    // later compactions must never pick the live log's name
    for _ in 0..3 {
        c.compact(&hektor_core::Cancel::new()).unwrap();
        c.flush().unwrap();
    }
    assert_eq!(c.count(None).unwrap(), 399);
    db.close().unwrap();
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    assert_eq!(db.collection("bad").unwrap().count(None).unwrap(), 399);
    assert_eq!(db.repair("nope").err().unwrap().code(), ErrorCode::NotFound);
    db.close().unwrap();
    let ro = Database::open(&dir, OpenOptionsDb { read_only: true }).unwrap();
    assert_eq!(ro.repair("bad").err().unwrap().code(), ErrorCode::ReadOnly);
}

#[test]
fn a_log_damaged_before_its_tail_is_not_repaired_silently() {
    let dir = tmp("repair-badlog");
    two_collections(&dir);
    let log = dir.join("bad").join(manifest(&dir).log);
    let mut b = std::fs::read(&log).unwrap();
    b[40] ^= 0xff; // inside the first frame, with frames after it
    std::fs::write(&log, &b).unwrap();
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let e = db.repair("bad").err().unwrap();
    assert_eq!(e.code(), ErrorCode::Corrupt, "{e}");
    assert!(e.message().contains("records-"), "{e}");
    assert_eq!(db.collection("good").unwrap().count(None).unwrap(), 399);
}
