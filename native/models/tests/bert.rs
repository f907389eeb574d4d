//! The local BERT embedder against sentence-transformers' own vectors
//! (tests/fixtures/st_minilm.json, made by tests/fixtures/make_st_fixture.py).

mod common;

use common::{cosine, minilm, temp_dir};
use hektor_core::rag::models::Embedder;
use hektor_core::ErrorCode;
use hektor_models::{BertEmbedder, BertOptions, Pooling, Precision};
use std::sync::OnceLock;

struct Fixture {
    texts: Vec<String>,
    embeddings: Vec<Vec<f32>>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/st_minilm.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let texts = v["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        let embeddings = v["embeddings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
            .collect();
        Fixture { texts, embeddings }
    })
}

fn embedder() -> &'static BertEmbedder {
    static E: OnceLock<BertEmbedder> = OnceLock::new();
    E.get_or_init(|| BertEmbedder::load(&minilm(), BertOptions::default()).expect("load all-MiniLM-L6-v2"))
}

#[test]
fn matches_sentence_transformers() {
    let f = fixture();
    let e = embedder();
    assert_eq!(e.dimension(), Some(384));
    assert_eq!(e.max_length(), 256, "sentence_bert_config.json's max_seq_length");
    assert!(e.normalizes(), "modules.json has a Normalize module");
    assert_eq!(e.pooling(), &[Pooling::Mean]);
    let texts: Vec<&str> = f.texts.iter().map(|s| s.as_str()).collect();
    let got = e.embed(&texts).unwrap();
    assert_eq!(got.len(), texts.len());
    let mut worst = (1.0f64, String::new());
    for ((text, want), have) in f.texts.iter().zip(&f.embeddings).zip(&got) {
        assert_eq!(have.len(), 384);
        let c = cosine(want, have);
        if c < worst.0 {
            worst = (c, text.chars().take(40).collect());
        }
        assert!(c >= 0.999, "cosine {c} for {text:?}");
        let norm: f64 = have.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    eprintln!("worst cosine vs sentence-transformers: {:.9} (1 - cos = {:.1e}, {:?})", worst.0, 1.0 - worst.0, worst.1);
}

#[test]
fn order_and_batching_do_not_change_vectors() {
    let f = fixture();
    let small = BertEmbedder::load(&minilm(), BertOptions { batch_size: Some(3), ..Default::default() }).unwrap();
    let texts: Vec<&str> = f.texts.iter().rev().map(|s| s.as_str()).collect();
    let a = small.embed(&texts).unwrap();
    for (i, t) in texts.iter().enumerate().step_by(5) {
        let one = embedder().embed(&[t]).unwrap();
        assert!(cosine(&one[0], &a[i]) > 0.99999, "text {i} differs alone vs in a batch");
    }
    assert!(embedder().embed(&[]).unwrap().is_empty());
}

#[test]
fn options_override_the_folder() {
    let raw = BertEmbedder::load(&minilm(), BertOptions { normalize: Some(false), pooling: Some(Pooling::Cls), max_length: Some(16), ..Default::default() }).unwrap();
    assert!(!raw.normalizes());
    assert_eq!(raw.max_length(), 16);
    let v = raw.embed(&["a sentence long enough to be cut at sixteen tokens, which is not very many words"]).unwrap();
    let norm: f64 = v[0].iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() > 1e-3, "not normalised: {norm}");
    for bad in [BertOptions { batch_size: Some(0), ..Default::default() }, BertOptions { max_length: Some(100_000), ..Default::default() }] {
        assert_eq!(BertEmbedder::load(&minilm(), bad).unwrap_err().code(), ErrorCode::InvalidArg);
    }
}

#[test]
fn counts_tokens_without_special_tokens_or_truncation() {
    let e = embedder();
    assert_eq!(e.count_tokens("hello world"), Some(2));
    assert_eq!(e.count_tokens(""), Some(0));
    assert_eq!(e.count_tokens(&"word ".repeat(600)), Some(600), "not truncated at max_length");
    assert!(e.describe().starts_with("local:"));
}

fn copy_model(files: &[&str]) -> std::path::PathBuf {
    let d = temp_dir("bert");
    for f in files {
        std::fs::copy(minilm().join(f), d.join(f)).unwrap();
    }
    d
}

#[test]
fn missing_or_wrong_files_give_clear_codes() {
    let nowhere = std::env::temp_dir().join("hektor-no-such-model");
    assert_eq!(BertEmbedder::load(&nowhere, BertOptions::default()).unwrap_err().code(), ErrorCode::NotFound);

    let d = copy_model(&["config.json", "tokenizer.json"]);
    assert_eq!(BertEmbedder::load(&d, BertOptions::default()).unwrap_err().code(), ErrorCode::NotFound, "no weights");
    std::fs::write(d.join("pytorch_model.bin"), b"not really").unwrap();
    let e = BertEmbedder::load(&d, BertOptions::default()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArg);
    assert!(e.message().contains("safetensors"), "{e}");
    std::fs::remove_file(d.join("pytorch_model.bin")).unwrap();
    std::fs::write(d.join("model.safetensors"), b"garbage").unwrap();
    assert_eq!(BertEmbedder::load(&d, BertOptions::default()).unwrap_err().code(), ErrorCode::Parse);
    std::fs::remove_dir_all(&d).ok();

    let d = copy_model(&["config.json", "model.safetensors"]);
    assert_eq!(BertEmbedder::load(&d, BertOptions::default()).unwrap_err().code(), ErrorCode::NotFound, "no tokenizer");
    std::fs::write(d.join("tokenizer.json"), b"{").unwrap();
    assert_eq!(BertEmbedder::load(&d, BertOptions::default()).unwrap_err().code(), ErrorCode::Parse);
    std::fs::write(d.join("config.json"), br#"{"hidden_size": 384}"#).unwrap();
    assert_eq!(BertEmbedder::load(&d, BertOptions::default()).unwrap_err().code(), ErrorCode::Parse, "incomplete config");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn folder_without_sentence_transformers_files_uses_mean_pooling_unnormalised() {
    let d = copy_model(&["config.json", "model.safetensors", "tokenizer.json"]);
    let e = BertEmbedder::load(&d, BertOptions::default()).unwrap();
    assert!(!e.normalizes());
    assert_eq!(e.pooling(), &[Pooling::Mean]);
    assert_eq!(e.max_length(), 512);
    let v = e.embed(&["hello world"]).unwrap();
    let want = embedder().embed(&["hello world"]).unwrap();
    assert!(cosine(&v[0], &want[0]) > 0.99999, "same direction, only the norm differs");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn embeds_from_several_threads() {
    let e = embedder();
    let want = e.embed(&["concurrent embedding"]).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| e.embed(&["concurrent embedding"]).unwrap())).collect();
        for h in handles {
            assert!(cosine(&h.join().unwrap()[0], &want[0]) > 0.99999);
        }
    });
}

#[test]
fn int8_stays_within_cosine_0_995_of_f32() {
    let f = fixture();
    let texts: Vec<&str> = f.texts.iter().map(|s| s.as_str()).collect();
    let int8 = BertEmbedder::load(&minilm(), BertOptions { precision: Some(Precision::Int8), ..Default::default() }).unwrap();
    let f32s = embedder().embed(&texts).unwrap();
    let got = int8.embed(&texts).unwrap();
    if int8.precision() != Precision::Int8 {
        // no AVX-512 VNNI here: the layers stay f32, and so do the vectors
        assert!(f32s.iter().zip(&got).all(|(a, b)| cosine(a, b) > 0.99999));
        eprintln!("int8 not available on this CPU: f32 kept");
        return;
    }
    let mut worst = (1.0f64, String::new());
    for ((text, a), b) in f.texts.iter().zip(&f32s).zip(&got) {
        let c = cosine(a, b);
        if c < worst.0 {
            worst = (c, text.chars().take(40).collect());
        }
    }
    eprintln!("int8: worst cosine to f32 {:.6} ({:?})", worst.0, worst.1);
    assert!(worst.0 >= 0.995, "int8 worst cosine {} for {:?}", worst.0, worst.1);
}

#[test]
fn own_thread_pools_give_the_same_vectors() {
    let texts = ["threads of its own", "a longer sentence about package managers and their dependency solvers", "x"];
    let want = embedder().embed(&texts).unwrap();
    for threads in [1, 3] {
        let e = BertEmbedder::load(&minilm(), BertOptions { threads: Some(threads), ..Default::default() }).unwrap();
        let got = e.embed(&texts).unwrap();
        for (a, b) in want.iter().zip(&got) {
            assert!(cosine(a, b) > 0.99999, "{threads} threads");
        }
    }
    let bad = BertEmbedder::load(&minilm(), BertOptions { threads: Some(0), ..Default::default() }).unwrap_err();
    assert_eq!(bad.code(), ErrorCode::InvalidArg);
}
