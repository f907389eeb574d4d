//! The cross-encoder's plumbing, on a tiny randomly initialised BERT classifier saved by
//! the test (no cross-encoder model ships in a wheel here), checked against candle's own
//! `BertModel` for the same weights.

mod common;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Module, VarBuilder};
use candle_transformers::models::bert::{BertModel, Config};
use common::{minilm, temp_dir};
use hektor_core::rag::models::CrossEncoder;
use hektor_core::ErrorCode;
use hektor_models::{BertCrossEncoder, CrossEncoderOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const HIDDEN: usize = 32;
const LAYERS: usize = 2;
const INTER: usize = 64;
const VOCAB: usize = 30522;

/// Deterministic pseudo-random values in [-scale, scale].
struct Lcg(u64);
impl Lcg {
    fn tensor(&mut self, shape: &[usize], scale: f32) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| {
                self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((self.0 >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }
}

/// Writes a tiny BertForSequenceClassification folder with `labels` outputs.
fn tiny_model(labels: usize) -> PathBuf {
    let dir = temp_dir("cross");
    let mut r = Lcg(42);
    let mut t: HashMap<String, Tensor> = HashMap::new();
    let mut put = |name: &str, shape: &[usize], scale: f32, r: &mut Lcg| {
        t.insert(name.to_string(), r.tensor(shape, scale));
    };
    put("bert.embeddings.word_embeddings.weight", &[VOCAB, HIDDEN], 0.5, &mut r);
    put("bert.embeddings.position_embeddings.weight", &[512, HIDDEN], 0.5, &mut r);
    put("bert.embeddings.token_type_embeddings.weight", &[2, HIDDEN], 0.5, &mut r);
    let ln = |prefix: &str, t: &mut HashMap<String, Tensor>, r: &mut Lcg| {
        t.insert(format!("{prefix}.weight"), (r.tensor(&[HIDDEN], 0.1) + 1.0).unwrap());
        t.insert(format!("{prefix}.bias"), r.tensor(&[HIDDEN], 0.1));
    };
    ln("bert.embeddings.LayerNorm", &mut t, &mut r);
    for i in 0..LAYERS {
        let p = format!("bert.encoder.layer.{i}");
        for m in ["query", "key", "value"] {
            t.insert(format!("{p}.attention.self.{m}.weight"), r.tensor(&[HIDDEN, HIDDEN], 0.3));
            t.insert(format!("{p}.attention.self.{m}.bias"), r.tensor(&[HIDDEN], 0.1));
        }
        t.insert(format!("{p}.attention.output.dense.weight"), r.tensor(&[HIDDEN, HIDDEN], 0.3));
        t.insert(format!("{p}.attention.output.dense.bias"), r.tensor(&[HIDDEN], 0.1));
        ln(&format!("{p}.attention.output.LayerNorm"), &mut t, &mut r);
        t.insert(format!("{p}.intermediate.dense.weight"), r.tensor(&[INTER, HIDDEN], 0.3));
        t.insert(format!("{p}.intermediate.dense.bias"), r.tensor(&[INTER], 0.1));
        t.insert(format!("{p}.output.dense.weight"), r.tensor(&[HIDDEN, INTER], 0.3));
        t.insert(format!("{p}.output.dense.bias"), r.tensor(&[HIDDEN], 0.1));
        ln(&format!("{p}.output.LayerNorm"), &mut t, &mut r);
    }
    t.insert("bert.pooler.dense.weight".into(), r.tensor(&[HIDDEN, HIDDEN], 0.3));
    t.insert("bert.pooler.dense.bias".into(), r.tensor(&[HIDDEN], 0.1));
    t.insert("classifier.weight".into(), r.tensor(&[labels, HIDDEN], 0.5));
    t.insert("classifier.bias".into(), r.tensor(&[labels], 0.1));
    candle_core::safetensors::save(&t, dir.join("model.safetensors")).unwrap();
    let id2label: serde_json::Map<String, serde_json::Value> = (0..labels).map(|i| (i.to_string(), format!("LABEL_{i}").into())).collect();
    let config = serde_json::json!({
        "architectures": ["BertForSequenceClassification"],
        "model_type": "bert",
        "vocab_size": VOCAB, "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": 2,
        "intermediate_size": INTER, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "pad_token_id": 0, "id2label": id2label,
    });
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    std::fs::copy(minilm().join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    dir
}

const QUERY: &str = "what is the capital of france?";
const PASSAGES: [&str; 5] = [
    "Paris is the capital and largest city of France.",
    "The Eiffel Tower was completed in 1889.",
    "Bananas are rich in potassium.",
    "",
    "France borders Belgium, Luxembourg, Germany, Switzerland, Italy, Monaco, Spain and Andorra; its capital, Paris, lies on the Seine.",
];

/// The same scores computed with candle's reference BertModel, one pair at a time.
fn reference_scores(dir: &Path, labels: usize, label: usize) -> Vec<f32> {
    let cfg: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[dir.join("model.safetensors")], DType::F32, &Device::Cpu).unwrap() };
    let model = BertModel::load(vb.pp("bert"), &cfg).unwrap();
    let pooler = candle_nn::linear(HIDDEN, HIDDEN, vb.pp("bert.pooler.dense")).unwrap();
    let classifier = candle_nn::linear(HIDDEN, labels, vb.pp("classifier")).unwrap();
    let mut tok = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    tok.with_padding(None); // MiniLM's tokenizer.json pads every input to 128 tokens
    PASSAGES
        .iter()
        .map(|p| {
            let enc = tok.encode((QUERY, *p), true).unwrap();
            let ids = Tensor::new(enc.get_ids(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            let types = Tensor::new(enc.get_type_ids(), &Device::Cpu).unwrap().unsqueeze(0).unwrap();
            let h = model.forward(&ids, &types, None).unwrap();
            let cls = h.narrow(1, 0, 1).unwrap().squeeze(1).unwrap();
            let pooled = pooler.forward(&cls).unwrap().tanh().unwrap();
            let logits = classifier.forward(&pooled).unwrap();
            logits.squeeze(0).unwrap().to_vec1::<f32>().unwrap()[label]
        })
        .collect()
}

#[test]
fn scores_match_candle_bert_and_are_stable() {
    let dir = tiny_model(1);
    let ce = BertCrossEncoder::load(&dir).unwrap();
    let scores = ce.score(QUERY, &PASSAGES).unwrap();
    assert_eq!(scores.len(), PASSAGES.len(), "one score per passage");
    assert!(scores.iter().all(|s| s.is_finite()));
    let want = reference_scores(&dir, 1, 0);
    for (i, (a, b)) in scores.iter().zip(&want).enumerate() {
        assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "passage {i}: {a} vs reference {b}");
    }
    assert_eq!(ce.score(QUERY, &PASSAGES).unwrap(), scores, "deterministic");
    let one_by_one: Vec<f32> = PASSAGES.iter().map(|p| ce.score(QUERY, &[p]).unwrap()[0]).collect();
    for (a, b) in scores.iter().zip(&one_by_one) {
        assert!((a - b).abs() < 1e-5, "batched {a} vs alone {b}");
    }
    let small = BertCrossEncoder::load_with(&dir, CrossEncoderOptions { batch_size: Some(2), max_length: None }).unwrap();
    let again = small.score(QUERY, &PASSAGES).unwrap();
    for (a, b) in scores.iter().zip(&again) {
        assert!((a - b).abs() < 1e-5, "batch size 2: {a} vs {b}");
    }
    assert!(ce.score(QUERY, &[]).unwrap().is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn two_labels_score_label_1() {
    let dir = tiny_model(2);
    let ce = BertCrossEncoder::load(&dir).unwrap();
    let scores = ce.score(QUERY, &PASSAGES).unwrap();
    let want = reference_scores(&dir, 2, 1);
    for (a, b) in scores.iter().zip(&want) {
        assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs reference {b}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn long_pairs_are_truncated() {
    let dir = tiny_model(1);
    let ce = BertCrossEncoder::load_with(&dir, CrossEncoderOptions { max_length: Some(24), batch_size: None }).unwrap();
    let long = "word ".repeat(2000);
    let s = ce.score(&long, &[&long, "short"]).unwrap();
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|x| x.is_finite()));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn missing_files_and_heads_are_errors() {
    let nowhere = std::env::temp_dir().join("hektor-no-such-cross-encoder");
    assert_eq!(BertCrossEncoder::load(&nowhere).unwrap_err().code(), ErrorCode::NotFound);
    for missing in ["config.json", "model.safetensors", "tokenizer.json"] {
        let dir = tiny_model(1);
        std::fs::remove_file(dir.join(missing)).unwrap();
        assert_eq!(BertCrossEncoder::load(&dir).unwrap_err().code(), ErrorCode::NotFound, "without {missing}");
        std::fs::remove_dir_all(&dir).ok();
    }
    // A plain encoder (the embedding model) has no classification head.
    let e = BertCrossEncoder::load(&minilm()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Parse);
    assert!(e.message().contains("classifier"), "{e}");
    let dir = tiny_model(1);
    assert_eq!(BertCrossEncoder::load_with(&dir, CrossEncoderOptions { max_length: Some(4096), batch_size: None }).unwrap_err().code(), ErrorCode::InvalidArg);
    assert_eq!(BertCrossEncoder::load_with(&dir, CrossEncoderOptions { max_length: None, batch_size: Some(0) }).unwrap_err().code(), ErrorCode::InvalidArg);
    std::fs::remove_dir_all(&dir).ok();
}
