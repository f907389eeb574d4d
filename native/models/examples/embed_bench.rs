//! Embedding throughput: hektor's BERT embedder (and, with `--baseline`, a plain
//! candle `BertModel` pipeline) on short sentences and ~200-word passages.
//!
//! cargo run --release --example embed_bench -- [MODEL_DIR] [--baseline] [--dump texts.json]
//! `--dump` writes the texts so that `examples/st_bench.py` times sentence-transformers
//! on exactly the same input.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use hektor_core::rag::models::Embedder;
use hektor_models::{BertEmbedder, BertOptions};
use std::path::PathBuf;
use std::time::Instant;

const WORDS: &[&str] = &[
    "the", "a", "database", "stores", "vectors", "search", "quickly", "engine", "retrieval", "answers", "question", "model", "local",
    "index", "passage", "document", "users", "query", "fast", "memory", "disk", "graph", "nearest", "neighbour", "token", "text", "library",
    "node", "rust", "process", "thread", "batch", "score", "rank", "result", "cosine", "distance", "metric", "filter", "metadata", "record",
];

fn sentence(seed: &mut u64, words: usize) -> String {
    let mut out = Vec::with_capacity(words);
    for _ in 0..words {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.push(WORDS[(*seed >> 33) as usize % WORDS.len()]);
    }
    let mut s = out.join(" ");
    s.push('.');
    s
}

/// `n` texts of `words` words each (deterministic).
pub fn texts(n: usize, words: usize, seed: u64) -> Vec<String> {
    let mut s = seed;
    (0..n).map(|_| sentence(&mut s, words)).collect()
}

fn model_dir() -> PathBuf {
    if let Some(p) = std::env::args().skip(1).find(|a| !a.starts_with("--") && !a.ends_with(".json")) {
        return p.into();
    }
    if let Some(p) = std::env::var_os("HEKTOR_MINILM") {
        return p.into();
    }
    let out = std::process::Command::new("node").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/fetch-models.mjs")).arg("--json").output().expect("node");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fetch-models json");
    v["minilm"].as_str().expect("minilm").into()
}

/// The plain pipeline: candle's BertModel, tokenizer padding to the longest, unsorted
/// batches of 32, mask-weighted mean pooling and L2 norm.
struct Baseline {
    model: BertModel,
    tok: tokenizers::Tokenizer,
}

impl Baseline {
    fn load(dir: &std::path::Path) -> Baseline {
        let cfg: Config = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let vb = VarBuilder::from_buffered_safetensors(std::fs::read(dir.join("model.safetensors")).unwrap(), DType::F32, &Device::Cpu).unwrap();
        let model = BertModel::load(vb, &cfg).unwrap();
        let mut tok = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
        tok.with_padding(Some(tokenizers::PaddingParams { strategy: tokenizers::PaddingStrategy::BatchLongest, ..Default::default() }));
        tok.with_truncation(Some(tokenizers::TruncationParams { max_length: 256, ..Default::default() })).unwrap();
        Baseline { model, tok }
    }

    fn embed(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        for chunk in texts.chunks(32) {
            let enc = self.tok.encode_batch(chunk.to_vec(), true).unwrap();
            let ids: Vec<Tensor> = enc.iter().map(|e| Tensor::new(e.get_ids(), &Device::Cpu).unwrap()).collect();
            let mask: Vec<Tensor> = enc.iter().map(|e| Tensor::new(e.get_attention_mask(), &Device::Cpu).unwrap()).collect();
            let ids = Tensor::stack(&ids, 0).unwrap();
            let mask = Tensor::stack(&mask, 0).unwrap();
            let types = ids.zeros_like().unwrap();
            let h = self.model.forward(&ids, &types, Some(&mask)).unwrap();
            let m = mask.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
            let sum = h.broadcast_mul(&m).unwrap().sum(1).unwrap();
            let mean = sum.broadcast_div(&m.sum(1).unwrap()).unwrap();
            let norm = mean.sqr().unwrap().sum_keepdim(1).unwrap().sqrt().unwrap();
            out.extend(mean.broadcast_div(&norm).unwrap().to_vec2::<f32>().unwrap());
        }
        out
    }
}

fn time<F: FnMut() -> usize>(label: &str, reps: usize, mut f: F) -> f64 {
    f(); // warm-up
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..reps {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    let rate = n as f64 / best;
    println!("{label:<44} {rate:>9.1} texts/s  ({n} texts in {best:.3} s, best of {reps})");
    rate
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let short = texts(512, 10, 1);
    let long = texts(64, 200, 2);
    if let Some(i) = args.iter().position(|a| a == "--dump") {
        let path = &args[i + 1];
        std::fs::write(path, serde_json::json!({ "short": short, "long": long }).to_string()).unwrap();
        println!("wrote {path}");
        return;
    }
    let dir = model_dir();
    let t = Instant::now();
    let e = BertEmbedder::load(&dir, BertOptions::default()).unwrap();
    println!("load: {:.0} ms; rayon threads: {}", t.elapsed().as_secs_f64() * 1e3, rayon::current_num_threads());
    println!("tokens per passage: {}", e.count_tokens(&long[0]).unwrap_or(0));
    let short_refs: Vec<&str> = short.iter().map(|s| s.as_str()).collect();
    let long_refs: Vec<&str> = long.iter().map(|s| s.as_str()).collect();
    let reps = 3;
    if !args.iter().any(|a| a == "--long-only") {
        time("hektor BertEmbedder, short (10 words)", reps, || e.embed(&short_refs).unwrap().len());
    }
    if !args.iter().any(|a| a == "--short-only") {
        time("hektor BertEmbedder, passages (200 words)", reps, || e.embed(&long_refs).unwrap().len());
    }
    if args.iter().any(|a| a == "--baseline") {
        let b = Baseline::load(&dir);
        let a = e.embed(&long_refs[..4]).unwrap();
        let c = b.embed(&long_refs[..4]);
        let cos: f32 = a[0].iter().zip(&c[0]).map(|(x, y)| x * y).sum();
        println!("baseline agrees: cosine {cos:.7}");
        time("candle BertModel baseline, short", reps, || b.embed(&short_refs).len());
        time("candle BertModel baseline, passages", reps, || b.embed(&long_refs).len());
    }
}
