//! The grounding check measured on the labelled set `__test__/fixtures/grounding/set.json`
//! (made by `scripts/make-grounding-set.mjs`): precision and recall of "unsupported" must stay
//! above a floor. The lexical check runs here (no embedder in the engine's tests); the SDK's
//! `__test__/grounding.test.mjs` measures it with the MiniLM embedder too.

use hektor_core::rag::cite::{grounding, DEFAULT_THRESHOLD};
use hektor_core::text::Analyzer;
use serde_json::Value;
use std::path::PathBuf;

/// Precision, recall and counts of the check on the items of `split` (`None`: all).
struct Score {
    precision: f64,
    recall: f64,
    n: usize,
    /// (id, kind, label, score) of the items the check got wrong.
    misses: Vec<(String, String, String, f32)>,
}

fn evaluate(set: &Value, split: Option<&str>, threshold: f32) -> Score {
    let analyzer = Analyzer::default();
    let docs = set["docs"].as_object().expect("docs");
    let sims: Option<serde_json::Map<String, Value>> = std::env::var("GROUNDING_SIMS").ok().map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap());
    let (mut tp, mut fp, mut fn_, mut n) = (0usize, 0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for item in set["items"].as_array().expect("items") {
        if split.is_some_and(|s| item["split"] != s) {
            continue;
        }
        n += 1;
        let passages: Vec<&str> = item["passages"].as_array().unwrap().iter().map(|id| docs[id.as_str().unwrap()].as_str().unwrap()).collect();
        let sentence = item["sentence"].as_str().unwrap();
        // GROUNDING_SIMS: a JSON file { item id: [cosine of the sentence and each passage] } made
        // with an embedder elsewhere (benches/grounding.mjs --dump-sims), to compare checks offline
        let row = sims.as_ref().and_then(|m| m.get(item["id"].as_str().unwrap())).map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect::<Vec<f32>>());
        let rows: Option<Vec<Vec<f32>>> = row.map(|r| vec![r; 4]);
        let g = grounding(sentence, &passages, &analyzer, rows.as_deref(), threshold);
        let flagged = !g.unsupported.is_empty();
        let unsupported = item["label"] == "unsupported";
        match (flagged, unsupported) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
        if flagged != unsupported {
            let score = g.sentences.iter().map(|s| s.score).fold(f32::NAN, f32::min);
            misses.push((item["id"].as_str().unwrap().into(), item["kind"].as_str().unwrap().into(), item["label"].as_str().unwrap().into(), score));
        }
    }
    let precision = if tp + fp == 0 { 0.0 } else { tp as f64 / (tp + fp) as f64 };
    let recall = if tp + fn_ == 0 { 0.0 } else { tp as f64 / (tp + fn_) as f64 };
    Score { precision, recall, n, misses }
}

/// Precision and recall below this fail the test (issue 13 asks for 0.8; the check measures more).
const FLOOR: f64 = 0.85;

fn load() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/grounding/set.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("the grounding set")).expect("valid JSON")
}

#[test]
fn lexical_grounding_check_on_the_labelled_set() {
    let set = load();
    assert!(set["items"].as_array().unwrap().len() >= 200);
    // measured 2026-12-02 (DEFAULT_THRESHOLD 0.5, no embeddings): precision 1.000, recall
    // 0.950 on all 280 (holdout: 1.000 / 0.943); before the name check and phrase evidence,
    // 1.000 / 0.521
    let all = evaluate(&set, None, DEFAULT_THRESHOLD);
    assert!(all.precision >= FLOOR && all.recall >= FLOOR, "precision {:.3} recall {:.3} below {FLOOR}: {:?}", all.precision, all.recall, all.misses);
    for split in [Some("tune"), Some("holdout"), None] {
        let s = evaluate(&set, split, DEFAULT_THRESHOLD);
        println!("{:<8} n={} precision={:.3} recall={:.3}", split.unwrap_or("all"), s.n, s.precision, s.recall);
        if std::env::var_os("GROUNDING_SWEEP").is_some() && split == Some("tune") {
            for t in [0.3f32, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7] {
                let s = evaluate(&set, split, t);
                println!("  threshold {t:.2}: precision={:.3} recall={:.3}", s.precision, s.recall);
            }
        }
        if std::env::var_os("GROUNDING_MISSES").is_some() {
            for m in &s.misses {
                println!("  miss {m:?}");
            }
        }
    }
}
