//! Chunked collections: records chunked on upsert, searched by chunk, reported by parent.

mod common;

use common::{tmp, Words};
use hektor_core::rag::chunk::{ChunkMode, ChunkOptions};
use hektor_core::rag::models::Embedder;
use hektor_core::store::record::Parts;
use hektor_core::{Cancel, Collection, CollectionConfig, Database, ErrorCode, Filter, Hit, Mode, OpenOptionsDb, Record, SearchQuery};
use serde_json::{json, Value};
use std::sync::Arc;

const DOC: &str = "Héllo wörld 😀 is the first sentence of this document. The second sentence talks about zebras and giraffes in Africa. \
                   日本語 text appears here too, with 🎉 emoji and ünïcödé. Finally the fourth sentence ends the story about Rust.";

fn rec(id: &str, text: Option<&str>, meta: Value) -> Record {
    Record { id: id.into(), text: text.map(Into::into), vector: None, metadata: if meta.is_null() { None } else { Some(meta) } }
}

fn chunked(size: usize, overlap: usize) -> CollectionConfig {
    CollectionConfig { chunking: Some(ChunkOptions { mode: ChunkMode::Recursive, size, overlap }), ..Default::default() }
}

/// A chunked collection (10 words per chunk, 2 overlapping) with the word-hashing embedder.
fn create(db: &Database, name: &str) -> Arc<Collection> {
    let col = db.create_collection(name, chunked(10, 2)).unwrap();
    col.set_embedder(Some(Arc::new(Words)));
    col
}

/// Every chunk, by an exact vector search deep enough to return all of them.
fn all_chunks(col: &Collection) -> Vec<Hit> {
    let q = SearchQuery { vector: Some(vec![1.0; 32]), k: 1000, exact: true, mode: Some(Mode::Vector), ..Default::default() };
    col.search(&q).unwrap()
}

/// `text.slice(start, end)` in JavaScript.
fn slice_utf16(text: &str, [s, e]: [u64; 2]) -> String {
    let units: Vec<u16> = text.encode_utf16().collect();
    String::from_utf16(&units[s as usize..e as usize]).unwrap()
}

fn text_query(text: &str) -> SearchQuery {
    SearchQuery { text: Some(text.into()), mode: Some(Mode::Text), k: 100, ..Default::default() }
}

/// Checks every hit against its parent: id, chunk id form, span round trip, parent metadata.
fn check_hits(col: &Collection, hits: &[Hit]) {
    for h in hits {
        let parent = col.get(std::slice::from_ref(&h.id), Parts::ALL).unwrap().remove(0).unwrap_or_else(|| panic!("no parent {}", h.id));
        let chunk_id = h.chunk_id.as_deref().expect("a chunk hit has a chunk id");
        let n = chunk_id.strip_prefix(&format!("{}#", h.id)).expect("chunk id is parent#i");
        assert!(n.parse::<usize>().is_ok(), "{chunk_id}");
        let span = h.span.expect("a chunk hit has a span");
        assert_eq!(slice_utf16(parent.text.as_deref().unwrap(), span), h.text.clone().unwrap(), "span of {chunk_id}");
        assert_eq!(h.metadata, parent.metadata, "a chunk hit carries its parent's metadata");
    }
}

#[test]
fn chunks_map_back_to_parents() {
    let dir = tmp("chunk-basic");
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let col = create(&db, "c");
    let written = col
        .upsert(vec![
            rec("doc", Some(DOC), json!({"lang": "en", "n": 1})),
            rec("short", Some("A tiny note about cats."), json!({"lang": "fr", "n": 2})),
            rec("bare", None, json!({"lang": "en", "n": 3})),
        ])
        .unwrap();
    assert_eq!(written, 3, "upsert counts records, not chunks");
    assert_eq!(col.count(None).unwrap(), 3);
    assert_eq!(col.count(Some(&Filter::parse(&json!({"lang": "en"})).unwrap())).unwrap(), 2);
    let st = col.stats().unwrap();
    assert_eq!(st.count, 3);
    let n_chunks = st.chunks.unwrap();
    assert!(n_chunks >= 4, "DOC spans several chunks: {n_chunks}");
    assert_eq!(st.text_docs as usize, n_chunks, "only chunks are in BM25");
    assert_eq!(serde_json::to_value(&st).unwrap()["config"]["chunking"], json!({"mode": "recursive", "size": 10, "overlap": 2}));

    let hits = all_chunks(&col);
    assert_eq!(hits.len(), n_chunks, "every chunk has a vector, parents none");
    check_hits(&col, &hits);
    let mut doc_chunks: Vec<&str> = hits.iter().filter(|h| h.id == "doc").map(|h| h.chunk_id.as_deref().unwrap()).collect();
    doc_chunks.sort_by_key(|c| c[4..].parse::<usize>().unwrap());
    let want: Vec<String> = (0..n_chunks - 1).map(|i| format!("doc#{i}")).collect();
    assert_eq!(doc_chunks, want);
    assert!(hits.iter().any(|h| h.id == "short" && h.chunk_id.as_deref() == Some("short#0") && h.span == Some([0, 23])));

    // get: the parent with its full text and user metadata only; chunk ids are not records
    let got = col.get(&["doc".into(), "doc#0".into(), "bare".into()], Parts::ALL).unwrap();
    let doc = got[0].as_ref().unwrap();
    assert_eq!(doc.text.as_deref(), Some(DOC));
    assert_eq!(doc.metadata, Some(json!({"lang": "en", "n": 1})));
    assert!(doc.vector.is_none());
    assert!(got[1].is_none());
    assert_eq!(got[2].as_ref().unwrap().metadata, Some(json!({"lang": "en", "n": 3})));
    // deleting a chunk id does nothing
    assert_eq!(col.delete(&["doc#0".into()]).unwrap(), 0);
    assert_eq!(all_chunks(&col).len(), n_chunks);
    db.close().unwrap();
}

#[test]
fn chunked_collections_refuse_what_would_be_ambiguous() {
    let dir = tmp("chunk-invalid");
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let col = create(&db, "c");
    let bad = [
        (rec("x#3", Some("text"), Value::Null), "id"),
        (Record { vector: Some(vec![1.0; 32]), ..rec("x", Some("text"), Value::Null) }, "vector"),
        (Record { vector: Some(vec![1.0; 32]), ..rec("x", None, Value::Null) }, "vector"),
        (rec("x", Some("text"), json!({"_chunk": 1})), "metadata"),
    ];
    for (r, field) in bad {
        let e = col.upsert(vec![rec("fine", Some("fine text"), Value::Null), r]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidArg, "{e}");
        assert_eq!(e.location().row, Some(1));
        assert_eq!(e.location().field.as_deref(), Some(field));
    }
    assert_eq!(col.count(None).unwrap(), 0, "a rejected batch writes nothing");
    assert!(all_chunks(&col).is_empty());
    // '#' is fine elsewhere in an id
    col.upsert(vec![rec("page#intro", Some("intro words"), Value::Null), rec("a#1b", Some("other words"), Value::Null)]).unwrap();
    let hits = col.search(&text_query("intro")).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].id.as_str(), hits[0].chunk_id.as_deref()), ("page#intro", Some("page#intro#0")));
    // vectors of the wrong dimension from the embedder are reported at the record's row
    struct Short;
    impl Embedder for Short {
        fn embed(&self, texts: &[&str]) -> hektor_core::Result<Vec<Vec<f32>>> {
            Ok(texts.iter().map(|_| vec![1.0; 8]).collect())
        }
        fn dimension(&self) -> Option<usize> {
            Some(8)
        }
        fn describe(&self) -> String {
            "short".into()
        }
    }
    col.set_embedder(Some(Arc::new(Short)));
    let e = col.upsert(vec![rec("bare", None, Value::Null), rec("doc", Some(DOC), Value::Null)]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::DimensionMismatch);
    assert_eq!(e.location().row, Some(1));
    assert_eq!(col.count(None).unwrap(), 2);
    // the same ids and vectors are fine in an unchunked collection
    let plain = db.create_collection("plain", CollectionConfig::default()).unwrap();
    plain.upsert(vec![Record { vector: Some(vec![1.0, 0.0]), ..rec("x#3", Some("t"), json!({"_chunk": 1})) }]).unwrap();
    let h = plain.search(&text_query("t")).unwrap();
    assert_eq!((h[0].id.as_str(), h[0].chunk_id.as_ref(), h[0].span), ("x#3", None, None));
    assert_eq!(h[0].metadata, Some(json!({"_chunk": 1})));
    assert_eq!(plain.stats().unwrap().chunks, None);
    db.close().unwrap();
}

#[test]
fn replacing_and_deleting_parents_removes_their_chunks() {
    let dir = tmp("chunk-replace");
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let col = create(&db, "c");
    col.upsert(vec![rec("doc", Some(DOC), json!({"v": 1})), rec("other", Some("Cats sleep all day long."), json!({"v": 9}))]).unwrap();
    assert_eq!(col.search(&text_query("giraffes")).unwrap()[0].id, "doc");
    // a shorter text: one chunk, the old ones gone from every index
    col.upsert(vec![rec("doc", Some("Now a short text about cats."), json!({"v": 2}))]).unwrap();
    assert_eq!(col.count(None).unwrap(), 2);
    assert_eq!(col.stats().unwrap().chunks, Some(2));
    for word in ["giraffes", "rust", "héllo", "emoji"] {
        assert!(col.search(&text_query(word)).unwrap().is_empty(), "stale chunk text found for {word}");
    }
    let hits = all_chunks(&col);
    let mut ids: Vec<&str> = hits.iter().map(|h| h.chunk_id.as_deref().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["doc#0", "other#0"]);
    check_hits(&col, &hits);
    let hybrid = col.search(&SearchQuery { text: Some("cats".into()), k: 10, ..Default::default() }).unwrap();
    assert_eq!(hybrid.len(), 2);
    assert!(hybrid.iter().all(|h| h.vector_score.is_some() && h.text_score.is_some()));
    check_hits(&col, &hybrid);
    // within one batch the last version wins, with its chunks only
    col.upsert(vec![rec("doc", Some(DOC), json!({"v": 3})), rec("doc", Some("Dogs bark."), json!({"v": 4}))]).unwrap();
    let hits = all_chunks(&col);
    assert_eq!(hits.iter().filter(|h| h.id == "doc").map(|h| h.text.as_deref().unwrap()).collect::<Vec<_>>(), ["Dogs bark."]);
    check_hits(&col, &hits);
    // a parent replaced by a record without text loses its chunks
    col.upsert(vec![rec("doc", None, json!({"v": 5}))]).unwrap();
    assert!(all_chunks(&col).iter().all(|h| h.id == "other"));
    assert_eq!(col.count(None).unwrap(), 2);
    // delete and delete_where take the chunks along
    col.upsert(vec![rec("doc", Some(DOC), json!({"v": 6}))]).unwrap();
    assert_eq!(col.delete(&["doc".into(), "doc".into()]).unwrap(), 1);
    assert!(col.search(&text_query("giraffes")).unwrap().is_empty());
    assert_eq!(col.stats().unwrap().chunks, Some(1));
    col.upsert(vec![rec("doc", Some(DOC), json!({"v": 7})), rec("third", Some("More cats."), json!({"v": 8}))]).unwrap();
    let f = Filter::parse(&json!({"v": {"$gte": 8}})).unwrap();
    assert_eq!(col.count(Some(&f)).unwrap(), 2, "filters count parents, not chunks");
    assert_eq!(col.delete_where(&f).unwrap(), 2);
    assert_eq!(col.count(None).unwrap(), 1);
    assert!(all_chunks(&col).iter().all(|h| h.id == "doc"));
    assert!(col.search(&text_query("cats")).unwrap().is_empty());
    assert_eq!(col.stats().unwrap().chunks, Some(all_chunks(&col).len()));
    db.close().unwrap();
}

#[test]
fn every_search_mode_reports_parents() {
    let dir = tmp("chunk-search");
    let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
    let col = create(&db, "c");
    col.upsert(vec![
        rec("doc", Some(DOC), json!({"lang": "en"})),
        rec("zoo", Some("The zoo keeps zebras, lions and giraffes. Visitors feed the goats."), json!({"lang": "de"})),
        rec("code", Some("Rust programs compile to native code. The borrow checker prevents data races."), json!({"lang": "en"})),
    ])
    .unwrap();
    let q = SearchQuery { text: Some("zebras and giraffes".into()), k: 5, ..Default::default() };
    for mode in [Mode::Text, Mode::Vector, Mode::Hybrid] {
        let hits = col.search(&SearchQuery { mode: Some(mode), ..q.clone() }).unwrap();
        assert!(!hits.is_empty(), "{mode:?}");
        assert!(hits[0].id == "doc" || hits[0].id == "zoo", "{mode:?}: {hits:?}");
        assert!(hits[0].text.as_deref().unwrap().contains("giraffes"), "{mode:?}: {hits:?}");
        check_hits(&col, &hits);
        // filters apply to the parent's metadata
        let f = Filter::parse(&json!({"lang": "de"})).unwrap();
        let hits = col.search(&SearchQuery { mode: Some(mode), filter: Some(f), ..q.clone() }).unwrap();
        assert!(!hits.is_empty() && hits.iter().all(|h| h.id == "zoo"), "{mode:?}: {hits:?}");
    }
    // the JSON form: chunkId and span, never the bookkeeping key
    let hits = col.search(&SearchQuery { mode: Some(Mode::Text), ..q.clone() }).unwrap();
    let j = serde_json::to_value(&hits[0]).unwrap();
    assert!(j["chunkId"].is_string() && j["span"].is_array(), "{j}");
    assert!(!j.to_string().contains("_chunk"), "{j}");
    // an unchunked collection's hits have neither
    let plain = db.create_collection("plain", CollectionConfig::default()).unwrap();
    plain.upsert(vec![rec("p", Some("zebras"), Value::Null)]).unwrap();
    let j = serde_json::to_value(&plain.search(&text_query("zebras")).unwrap()[0]).unwrap();
    assert!(j.get("chunkId").is_none() && j.get("span").is_none(), "{j}");
    db.close().unwrap();
}

/// A chunk hit's parent id, chunk id, span and text.
type ChunkRow = (String, Option<String>, Option<[u64; 2]>, Option<String>);

#[test]
fn chunked_collections_survive_reopen_compaction_and_crashes() {
    let dir = tmp("chunk-persist");
    let docs: Vec<(String, String)> = (0..40)
        .map(|i| (format!("d{i}"), format!("Document {i} begins here. It mentions topic{} twice: topic{} again. It ends with word{i}.", i % 5, i % 5)))
        .collect();
    let upsert_all = |col: &Collection| {
        col.upsert(docs.iter().map(|(id, t)| rec(id, Some(t), json!({"g": id[1..].parse::<u32>().unwrap() % 2}))).collect()).unwrap();
    };
    let snapshot = |col: &Collection| {
        let mut v: Vec<ChunkRow> = all_chunks(col).into_iter().map(|h| (h.id, h.chunk_id, h.span, h.text)).collect();
        v.sort();
        v
    };
    let before;
    {
        let db = Database::open(&dir, OpenOptionsDb::default()).unwrap();
        let col = create(&db, "c");
        upsert_all(&col);
        col.flush().unwrap();
        // after the checkpoint: a replacement with fewer chunks and a delete, replayed on open
        col.upsert(vec![rec("d1", Some("Replaced."), json!({"g": 1}))]).unwrap();
        col.delete(&["d2".into()]).unwrap();
        before = snapshot(&col);
        assert_eq!(col.count(None).unwrap(), 39);
        db.close().unwrap();
    }
    let reopen = |dir: &std::path::Path| {
        let db = Database::open(dir, OpenOptionsDb::default()).unwrap();
        let col = db.collection("c").unwrap();
        col.set_embedder(Some(Arc::new(Words)));
        (db, col)
    };
    let (db, col) = reopen(&dir);
    assert_eq!(col.config().chunking, Some(ChunkOptions { mode: ChunkMode::Recursive, size: 10, overlap: 2 }));
    assert_eq!(snapshot(&col), before);
    assert_eq!(col.count(None).unwrap(), 39);
    check_hits(&col, &all_chunks(&col));
    assert!(col.search(&text_query("word2")).unwrap().is_empty());
    assert_eq!(col.search(&text_query("replaced")).unwrap()[0].chunk_id.as_deref(), Some("d1#0"));
    // replacing after reopen still finds the old chunks
    col.upsert(vec![rec("d3", Some("Short again."), json!({"g": 1}))]).unwrap();
    assert!(col.search(&text_query("word3")).unwrap().is_empty());
    let before = snapshot(&col);
    let chunks = col.stats().unwrap().chunks;
    col.compact(&Cancel::new()).unwrap();
    assert_eq!(col.stats().unwrap().deleted, 0);
    assert_eq!(col.stats().unwrap().chunks, chunks);
    assert_eq!(snapshot(&col), before);
    let f = Filter::parse(&json!({"g": 0})).unwrap();
    assert_eq!(col.count(Some(&f)).unwrap(), 19);
    // a write after compaction, then a crash: the log replays onto the compacted state
    col.upsert(vec![rec("d4", Some("Crash test text."), json!({"g": 0}))]).unwrap();
    let before = snapshot(&col);
    std::mem::forget(col);
    std::mem::forget(db);
    let ro = Database::open(&dir, OpenOptionsDb { read_only: true }).unwrap();
    let col = ro.collection("c").unwrap();
    assert_eq!(snapshot(&col), before);
    assert!(col.search(&text_query("word4")).unwrap().is_empty());
    assert_eq!(col.count(None).unwrap(), 39);
    assert_eq!(col.count(Some(&f)).unwrap(), 19);
    assert_eq!(col.get(&["d4".into()], Parts::ALL).unwrap()[0].as_ref().unwrap().text.as_deref(), Some("Crash test text."));
}
