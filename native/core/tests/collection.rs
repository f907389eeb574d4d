//! End-to-end tests of collections: writes, reads, persistence, search quality.

mod common;

/// Waits until the background indexer has put every vector into the graph (flush and
/// close save the graph as far as it got).
fn settle(col: &hektor_core::Collection) {
    col.wait_for_index(&hektor_core::Cancel::new(), |_| {}).unwrap();
}

use common::{clustered, tmp, Rng};
use hektor_core::store::record::Parts;
use hektor_core::{
    Cancel, CollectionConfig, Database, ErrorCode, Filter, Fusion, Metric, Mode, OpenOptionsDb, Quantization, Record, SearchQuery,
    Select,
};
use serde_json::json;

fn rec(id: &str, text: Option<&str>, v: Option<Vec<f32>>, meta: serde_json::Value) -> Record {
    Record { id: id.into(), text: text.map(Into::into), vector: v, metadata: if meta.is_null() { None } else { Some(meta) } }
}

fn cfg(dim: usize) -> CollectionConfig {
    CollectionConfig { dimension: Some(dim), ..Default::default() }
}

fn vq(v: &[f32], k: usize) -> SearchQuery {
    SearchQuery { vector: Some(v.to_vec()), k, ..Default::default() }
}

#[test]
fn upsert_get_replace_delete_count() {
    let dir = tmp("crud");
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let col = db.create_collection("c", cfg(3)).unwrap();
    assert_eq!(db.create_collection("c", cfg(3)).err().unwrap().code(), ErrorCode::Exists);
    col.upsert(vec![
        rec("a", Some("alpha text"), Some(vec![1.0, 0.0, 0.0]), json!({"n": 1, "tag": "x"})),
        rec("b", Some("beta text"), Some(vec![0.0, 1.0, 0.0]), json!({"n": 2, "tag": "y"})),
        rec("c", None, Some(vec![0.0, 0.0, 1.0]), json!(null)),
    ])
    .unwrap();
    assert_eq!(col.count(None).unwrap(), 3);
    let got = col.get(&["b".into(), "zz".into()], Parts::ALL).unwrap();
    let b = got[0].as_ref().unwrap();
    assert_eq!(b.text.as_deref(), Some("beta text"));
    assert_eq!(b.vector.as_deref(), Some(&[0.0, 1.0, 0.0][..]));
    assert_eq!(b.metadata, Some(json!({"n": 2, "tag": "y"})));
    assert!(got[1].is_none());
    // replace by id
    col.upsert(vec![rec("b", Some("gamma"), Some(vec![0.0, 2.0, 0.0]), json!({"n": 3}))]).unwrap();
    assert_eq!(col.count(None).unwrap(), 3);
    let b = col.get(&["b".into()], Parts::ALL).unwrap().remove(0).unwrap();
    assert_eq!(b.text.as_deref(), Some("gamma"));
    // the old text is gone from BM25
    let hits = col.search(&SearchQuery { text: Some("beta".into()), ..Default::default() }).unwrap();
    assert!(hits.is_empty(), "{hits:?}");
    // count and delete by filter
    let f = Filter::parse(&json!({"n": {"$gte": 2}})).unwrap();
    assert_eq!(col.count(Some(&f)).unwrap(), 1);
    assert_eq!(col.delete_where(&f).unwrap(), 1);
    assert_eq!(col.delete(&["a".into(), "a".into(), "nope".into()]).unwrap(), 1);
    assert_eq!(col.count(None).unwrap(), 1);
    let hits = col.search(&vq(&[1.0, 0.0, 0.0], 10)).unwrap();
    assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), vec!["c"]);
    db.close().unwrap();
}

#[test]
fn invalid_input_changes_nothing() {
    let dir = tmp("invalid");
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let col = db.create_collection("c", cfg(2)).unwrap();
    col.upsert(vec![rec("ok", None, Some(vec![1.0, 0.0]), json!(null))]).unwrap();
    let bad = [
        (vec![rec("x", None, Some(vec![1.0, 0.0, 0.0]), json!(null))], ErrorCode::DimensionMismatch),
        (vec![rec("x", None, Some(vec![f32::NAN, 0.0]), json!(null))], ErrorCode::InvalidArg),
        (vec![rec("", None, Some(vec![1.0, 0.0]), json!(null))], ErrorCode::InvalidArg),
        (vec![rec("x", None, None, json!([1, 2]))], ErrorCode::InvalidArg),
        (vec![rec("x", None, Some(vec![0.0, 0.0]), json!(null))], ErrorCode::InvalidArg),
    ];
    for (records, code) in bad {
        let mut batch = vec![rec("fine", Some("fine"), Some(vec![0.0, 1.0]), json!(null))];
        batch.extend(records);
        let e = col.upsert(batch).unwrap_err();
        assert_eq!(e.code(), code, "{e}");
        assert_eq!(e.location().row, Some(1));
    }
    assert_eq!(col.count(None).unwrap(), 1, "a rejected batch writes nothing");
    assert!(col.get(&["fine".into()], Parts::ALL).unwrap()[0].is_none());
    let e = col.search(&vq(&[1.0, 0.0, 0.0], 3)).unwrap_err();
    assert_eq!(e.code(), ErrorCode::DimensionMismatch);
    assert_eq!(Filter::parse(&json!({"a": {"$regexp": 1}})).unwrap_err().code(), ErrorCode::InvalidArg);
}

#[test]
fn persists_across_reopen_and_unclean_exit() {
    let dir = tmp("persist");
    let data = clustered(3000, 16, 20, 7);
    {
        let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
        let col = db.create_collection("v", CollectionConfig::default()).unwrap();
        for (i, chunk) in data.chunks(500).enumerate() {
            col.upsert(
                chunk
                    .iter()
                    .enumerate()
                    .map(|(j, v)| rec(&format!("{}", i * 500 + j), Some(&format!("doc number {}", i * 500 + j)), Some(v.clone()), json!({"i": i * 500 + j})))
                    .collect(),
            )
            .unwrap();
        }
        settle(&col);
        col.flush().unwrap();
        col.delete(&["5".into()]).unwrap();
        col.upsert(vec![rec("new", Some("fresh words"), Some(data[0].clone()), json!({"i": -1}))]).unwrap();
        // no close: simulate a killed process (writes are already durable in the log)
        std::mem::forget(col);
        std::mem::forget(db);
    }
    // the lock of a forgotten handle is still held in this process: a new open must fail...
    assert_eq!(Database::open(&dir, OpenOptionsDb::default()).err().unwrap().code(), ErrorCode::Locked);
    // ...but a read-only open works beside it and sees every acknowledged write
    let ro = Database::open(&dir, OpenOptionsDb { read_only: true }).unwrap();
    let col = ro.collection("v").unwrap();
    assert_eq!(col.count(None).unwrap(), 3000);
    assert!(col.get(&["5".into()], Parts::ALL).unwrap()[0].is_none());
    let hits = col.search(&SearchQuery { text: Some("fresh".into()), ..Default::default() }).unwrap();
    assert_eq!(hits[0].id, "new");
    let hits = col.search(&vq(&data[123], 1)).unwrap();
    assert_eq!(hits[0].id, "123");
    assert_eq!(col.upsert(vec![rec("z", None, None, json!(null))]).unwrap_err().code(), ErrorCode::ReadOnly);
}

#[test]
fn reopen_after_close_is_identical() {
    let dir = tmp("reopen");
    let data = clustered(5000, 32, 30, 9);
    let queries: Vec<SearchQuery> = data.iter().step_by(500).map(|v| vq(v, 10)).collect();
    let before: Vec<Vec<String>>;
    {
        let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
        let col = db.create_collection("v", CollectionConfig::default()).unwrap();
        col.upsert(data.iter().enumerate().map(|(i, v)| rec(&i.to_string(), None, Some(v.clone()), json!(null))).collect()).unwrap();
        settle(&col);
        col.flush().unwrap();
        before = queries.iter().map(|q| col.search(q).unwrap().into_iter().map(|h| h.id).collect()).collect();
        db.close().unwrap();
    }
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let t = std::time::Instant::now();
    let col = db.collection("v").unwrap();
    let opened = t.elapsed();
    let after: Vec<Vec<String>> = queries.iter().map(|q| col.search(q).unwrap().into_iter().map(|h| h.id).collect()).collect();
    assert_eq!(before, after);
    assert!(opened.as_millis() < 2000, "reopen took {opened:?}");
    let st = col.stats().unwrap();
    assert_eq!(st.indexed_vectors, 5000);
    assert_eq!(st.pending_vectors, 0);
    // writes after reopen resume the hnsw_rs graph
    col.upsert(vec![rec("extra", None, Some(data[1].clone()), json!(null))]).unwrap();
    settle(&col);
        col.flush().unwrap();
    let hits = col.search(&vq(&data[1], 2)).unwrap();
    let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
    assert!(ids.contains(&"extra") && ids.contains(&"1"), "{ids:?}");
}

fn recall(got: &[Vec<u32>], want: &[Vec<u32>]) -> f64 {
    let hit: usize = got.iter().zip(want).map(|(g, w)| g.iter().filter(|x| w.contains(x)).count()).sum();
    hit as f64 / want.iter().map(|w| w.len()).sum::<usize>() as f64
}

#[test]
fn hnsw_recall_at_10_on_clustered_384d() {
    recall_case("recall", Quantization::None);
}

#[test]
fn sq8_recall_at_10_on_clustered_384d() {
    recall_case("recall-sq8", Quantization::Sq8);
}

fn recall_case(name: &str, quantization: Quantization) {
    let dir = tmp(name);
    let n = 10_000;
    // wide clusters: neighbours are close in rank, so this is not an easy set
    let data = clustered(n + 200, 384, 100, 42);
    let (base, queries) = data.split_at(n);
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let col = db.create_collection("v", CollectionConfig { quantization, ..Default::default() }).unwrap();
    let mut rng = Rng(5);
    for (c, chunk) in base.chunks(2500).enumerate() {
        col.upsert(
            chunk
                .iter()
                .enumerate()
                .map(|(i, v)| rec(&(c * 2500 + i).to_string(), None, Some(v.clone()), json!({"bucket": rng.below(100)})))
                .collect(),
        )
        .unwrap();
    }
    let ids = |hits: Vec<hektor_core::Hit>| hits.into_iter().map(|h| h.id.parse::<u32>().unwrap()).collect::<Vec<_>>();
    let approx: Vec<Vec<u32>> = queries.iter().map(|q| ids(col.search(&vq(q, 10)).unwrap())).collect();
    let exact: Vec<Vec<u32>> =
        queries.iter().map(|q| ids(col.search(&SearchQuery { exact: true, ..vq(q, 10) }).unwrap())).collect();
    let r = recall(&approx, &exact);
    eprintln!("{quantization:?} recall@10 = {r:.4}");
    assert!(r >= 0.95, "recall@10 {r}");
    settle(&col);
    let st = col.stats().unwrap();
    assert_eq!(st.quantized_vectors, (quantization == Quantization::Sq8).then_some(n as u32));
    // scores are exact whatever the traversal used: equal to the exact search's for the same ids
    for q in queries.iter().take(20) {
        let a = col.search(&vq(q, 10)).unwrap();
        let e = col.search(&SearchQuery { exact: true, ..vq(q, 10) }).unwrap();
        for h in &a {
            if let Some(x) = e.iter().find(|x| x.id == h.id) {
                assert!((x.distance.unwrap() - h.distance.unwrap()).abs() < 1e-6, "{} vs {}", x.distance.unwrap(), h.distance.unwrap());
            }
        }
    }
    // vectorScore and distance are consistent
    let h = &col.search(&vq(&queries[0], 1)).unwrap()[0];
    assert!((h.vector_score.unwrap() - (1.0 - h.distance.unwrap())).abs() < 1e-6);

    // filtered search at 1% and 10% selectivity returns k hits, matching exact filtered search
    for (filter, what) in [(json!({"bucket": 7}), "1%"), (json!({"bucket": {"$lt": 10}}), "10%")] {
        let f = Filter::parse(&filter).unwrap();
        let fq = |q: &[f32], exact| SearchQuery { filter: Some(f.clone()), exact, ..vq(q, 10) };
        let a: Vec<Vec<u32>> = queries.iter().take(50).map(|q| ids(col.search(&fq(q, false)).unwrap())).collect();
        let e: Vec<Vec<u32>> = queries.iter().take(50).map(|q| ids(col.search(&fq(q, true)).unwrap())).collect();
        assert!(a.iter().all(|x| x.len() == 10));
        let r = recall(&a, &e);
        eprintln!("filtered ({what}) recall@10 = {r:.4}");
        assert!(r >= 0.95, "filtered {what} recall {r}");
    }
    // batch search equals single searches
    let qs: Vec<SearchQuery> = queries.iter().take(20).map(|q| vq(q, 5)).collect();
    let b = col.search_batch(&qs, &Cancel::new()).unwrap();
    for (q, hits) in qs.iter().zip(b) {
        assert_eq!(col.search(q).unwrap(), hits);
    }
    let c = Cancel::new();
    c.cancel();
    assert_eq!(col.search_batch(&qs, &c).unwrap_err().code(), ErrorCode::Aborted);
}

#[test]
fn metrics_range_queries_and_deletes() {
    for metric in ["cosine", "l2", "dot"] {
        let dir = tmp("metric");
        let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
        let c = CollectionConfig::from_json(&json!({"metric": metric})).unwrap();
        let col = db.create_collection("m", c).unwrap();
        let data = clustered(3000, 24, 10, 3);
        col.upsert(data.iter().enumerate().map(|(i, v)| rec(&i.to_string(), None, Some(v.iter().map(|x| x * (1.0 + (i % 3) as f32)).collect()), json!(null))).collect())
            .unwrap();
        settle(&col);
        col.flush().unwrap();
        let q = &data[17];
        let exact = col.search(&SearchQuery { exact: true, ..vq(q, 20) }).unwrap();
        let approx = col.search(&vq(q, 20)).unwrap();
        assert_eq!(exact[0].id, approx[0].id, "{metric}");
        for w in exact.windows(2) {
            assert!(w[0].distance.unwrap() <= w[1].distance.unwrap());
            assert!(w[0].score >= w[1].score);
        }
        // range query
        let radius = exact[4].distance.unwrap();
        let r = col.search(&SearchQuery { max_distance: Some(radius), ..vq(q, 20) }).unwrap();
        assert!(r.len() >= 4 && r.iter().all(|h| h.distance.unwrap() <= radius), "{metric} {}", r.len());
        // deleted records never come back
        let gone: Vec<String> = exact.iter().take(5).map(|h| h.id.clone()).collect();
        col.delete(&gone).unwrap();
        for exact_mode in [false, true] {
            let r = col.search(&SearchQuery { exact: exact_mode, ..vq(q, 20) }).unwrap();
            assert!(r.iter().all(|h| !gone.contains(&h.id)));
            assert_eq!(r.len(), 20);
        }
    }
}

#[test]
fn hybrid_fusion_reports_components() {
    let dir = tmp("hybrid");
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let col = db.create_collection("h", cfg(2)).unwrap();
    col.upsert(vec![
        rec("fox", Some("the quick brown fox jumps"), Some(vec![1.0, 0.0]), json!({"k": 1})),
        rec("dog", Some("the lazy dog sleeps"), Some(vec![0.0, 1.0]), json!({"k": 2})),
        rec("cat", Some("a cat and a fox"), Some(vec![0.7, 0.7]), json!({"k": 3})),
    ])
    .unwrap();
    let q = SearchQuery { text: Some("fox".into()), vector: Some(vec![0.0, 1.0]), k: 3, ..Default::default() };
    let hits = col.search(&q).unwrap();
    assert_eq!(hits.len(), 3);
    for h in &hits {
        assert!(h.vector_score.is_some());
    }
    // RRF: cat is 2nd in vector and 1st or 2nd in text; it should lead
    assert_eq!(hits[0].id, "cat");
    let w = col.search(&SearchQuery { fusion: Fusion::Weighted { alpha: 1.0 }, ..q.clone() }).unwrap();
    assert_eq!(w[0].id, "dog");
    assert!((w[0].score - 1.0).abs() < 1e-6);
    let t = col.search(&SearchQuery { fusion: Fusion::Weighted { alpha: 0.0 }, ..q.clone() }).unwrap();
    assert!(t[0].id == "fox" || t[0].id == "cat");
    let only_text = col.search(&SearchQuery { mode: Some(Mode::Text), ..q.clone() }).unwrap();
    assert!(only_text.iter().all(|h| h.vector_score.is_none() && h.text_score.is_some()));
    let sel = col.search(&SearchQuery { select: Select { text: false, metadata: false, vector: true }, ..q.clone() }).unwrap();
    assert!(sel[0].text.is_none() && sel[0].metadata.is_none() && sel[0].vector.is_some());
    let f = col.search(&SearchQuery { filter: Some(Filter::parse(&json!({"k": {"$ne": 3}})).unwrap()), ..q }).unwrap();
    assert!(f.iter().all(|h| h.id != "cat"));
}

#[test]
fn compaction_keeps_results_and_frees_space() {
    let dir = tmp("compact");
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let col = db.create_collection("c", CollectionConfig::default()).unwrap();
    let data = clustered(4000, 16, 10, 11);
    col.upsert(data.iter().enumerate().map(|(i, v)| rec(&i.to_string(), Some(&format!("word{}", i % 50)), Some(v.clone()), json!({"i": i}))).collect())
        .unwrap();
    let dead: Vec<String> = (0..4000).filter(|i| i % 2 == 0).map(|i| i.to_string()).collect();
    col.delete(&dead).unwrap();
    let q = SearchQuery { text: Some("word7".into()), vector: Some(data[7].clone()), k: 10, ..Default::default() };
    let exact = |col: &hektor_core::Collection| col.search(&SearchQuery { exact: true, mode: Some(Mode::Vector), ..q.clone() }).unwrap();
    let before = exact(&col);
    let text_before = col.search(&SearchQuery { mode: Some(Mode::Text), ..q.clone() }).unwrap();
    col.compact(&Cancel::new()).unwrap();
    assert_eq!(col.stats().unwrap().deleted, 0);
    assert_eq!(col.count(None).unwrap(), 2000);
    assert_eq!(exact(&col), before);
    assert_eq!(col.search(&SearchQuery { mode: Some(Mode::Text), ..q.clone() }).unwrap(), text_before);
    drop(col);
    db.close().unwrap();
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let col = db.collection("c").unwrap();
    assert_eq!(exact(&col), before);
    assert_eq!(col.count(None).unwrap(), 2000);
    let files: Vec<String> = std::fs::read_dir(dir.join("c")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!files.iter().any(|f| f == "records-0.log"), "old generation removed: {files:?}");
}

#[test]
fn collection_names_cannot_escape() {
    let dir = tmp("names");
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    for bad in ["", "../x", "/abs", "a/b", ".hidden", "a\0b", "..", "x".repeat(65).as_str()] {
        assert_eq!(db.create_collection(bad, CollectionConfig::default()).err().unwrap().code(), ErrorCode::InvalidArg, "{bad:?}");
    }
    db.create_collection("ok-name_1.v2", CollectionConfig::default()).unwrap();
    assert_eq!(db.list_collections().unwrap(), vec!["ok-name_1.v2"]);
    assert!(db.drop_collection("ok-name_1.v2").unwrap());
    assert!(db.list_collections().unwrap().is_empty());
    assert_eq!(db.collection("nope").err().unwrap().code(), ErrorCode::NotFound);
}

/// An sq8 collection keeps its codes across reopen, incremental writes and compaction,
/// for every metric, and refuses `pq`.
#[test]
fn sq8_codes_persist_grow_and_survive_compaction() {
    for metric in [Metric::Cosine, Metric::L2, Metric::Dot] {
        let dir = tmp(&format!("sq8-{}", metric.as_str()));
        let data = clustered(6000, 48, 40, 3);
        let config = CollectionConfig { dimension: Some(48), metric, quantization: Quantization::Sq8, ..Default::default() };
        let queries: Vec<SearchQuery> = data.iter().step_by(300).map(|v| vq(v, 10)).collect();
        let ids = |col: &hektor_core::Collection| -> Vec<Vec<String>> {
            queries.iter().map(|q| col.search(q).unwrap().into_iter().map(|h| h.id).collect()).collect()
        };
        let before;
        {
            let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
            let col = db.create_collection("q", config.clone()).unwrap();
            // too few vectors to train: searched in f32 until enough arrive
            col.upsert(data[..500].iter().enumerate().map(|(i, v)| rec(&i.to_string(), None, Some(v.clone()), json!(null))).collect()).unwrap();
            settle(&col);
        col.flush().unwrap();
            assert_eq!(col.stats().unwrap().quantized_vectors, None);
            col.upsert(data[500..4000].iter().enumerate().map(|(i, v)| rec(&(i + 500).to_string(), None, Some(v.clone()), json!(null))).collect()).unwrap();
            settle(&col);
        col.flush().unwrap();
            assert_eq!(col.stats().unwrap().quantized_vectors, Some(4000));
            before = ids(&col);
            db.close().unwrap();
        }
        let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
        let col = db.collection("q").unwrap();
        assert_eq!(ids(&col), before, "{metric:?}: same answers after reopen");
        assert_eq!(col.stats().unwrap().quantized_vectors, Some(4000));
        // writes after the reopen are encoded as the graph grows
        col.upsert(data[4000..].iter().enumerate().map(|(i, v)| rec(&(i + 4000).to_string(), None, Some(v.clone()), json!(null))).collect()).unwrap();
        settle(&col);
        col.flush().unwrap();
        assert_eq!(col.stats().unwrap().quantized_vectors, Some(6000));
        for (i, q) in queries.iter().enumerate() {
            let top = &col.search(q).unwrap()[0];
            assert_eq!(top.id, (i * 300).to_string(), "{metric:?}: a stored vector finds itself first");
        }
        col.delete(&(0..3000).map(|i| i.to_string()).collect::<Vec<_>>()).unwrap();
        col.compact(&Cancel::new()).unwrap();
        assert_eq!(col.stats().unwrap().quantized_vectors, Some(3000));
        let hits = col.search(&vq(&data[5100], 3)).unwrap();
        assert_eq!(hits[0].id, "5100");
        drop(col);
        db.close().unwrap();
        let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
        let col = db.collection("q").unwrap();
        assert_eq!(col.search(&vq(&data[5100], 3)).unwrap()[0].id, "5100");
        let files: Vec<String> = std::fs::read_dir(dir.join("q")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(files.iter().filter(|f| f.starts_with("codes-")).count(), 1, "{files:?}");
        // the code file is derived data: without it the graph is walked in f32 and the
        // codes are retrained by the next graph refresh
        drop(col);
        db.close().unwrap();
        let codes = files.iter().find(|f| f.starts_with("codes-")).unwrap();
        std::fs::remove_file(dir.join("q").join(codes)).unwrap();
        let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
        let col = db.collection("q").unwrap();
        assert_eq!(col.stats().unwrap().quantized_vectors, None);
        assert_eq!(col.search(&vq(&data[5100], 3)).unwrap()[0].id, "5100");
        col.upsert(vec![rec("again", None, Some(data[10].clone()), json!(null))]).unwrap();
        settle(&col);
        col.flush().unwrap();
        assert_eq!(col.stats().unwrap().quantized_vectors, Some(3001));
        assert_eq!(col.search(&vq(&data[5100], 3)).unwrap()[0].id, "5100");
    }
    let db = Database::open(&tmp("pq"), OpenOptionsDb::default()).unwrap();
    let e = db.create_collection("p", CollectionConfig { quantization: Quantization::Pq, ..Default::default() }).err().unwrap();
    assert_eq!(e.code(), ErrorCode::InvalidArg);
}
