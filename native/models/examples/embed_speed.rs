//! Embedding throughput of the local BERT embedder on a JSON array of texts.
//!
//! usage: cargo run --profile ci -p hektor-models --example embed_speed -- MODEL_DIR TEXTS.json [f32|int8] [THREADS] [ROUNDS] [BATCH]
//! Prints texts/s per round (the model's load and one warm-up call excluded).

use hektor_core::rag::models::Embedder;
use hektor_models::{BertEmbedder, BertOptions, Precision};
use std::path::Path;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: embed_speed MODEL_DIR TEXTS.json [f32|int8] [THREADS] [ROUNDS] [BATCH]".into());
    }
    let texts: Vec<String> = serde_json::from_slice(&std::fs::read(&args[2])?)?;
    let precision = match args.get(3).map(String::as_str) {
        Some("int8") => Precision::Int8,
        _ => Precision::F32,
    };
    let threads = args.get(4).map(|t| t.parse()).transpose()?;
    let rounds: usize = args.get(5).map(|r| r.parse()).transpose()?.unwrap_or(3);
    let batch_size = args.get(6).map(|b| b.parse()).transpose()?;
    let t = Instant::now();
    let e = BertEmbedder::load(Path::new(&args[1]), BertOptions { precision: Some(precision), threads, batch_size, ..Default::default() })?;
    eprintln!("loaded in {:.0} ms ({:?})", t.elapsed().as_secs_f64() * 1e3, e);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    e.embed(&refs[..refs.len().min(64)])?;
    for _ in 0..rounds {
        let t = Instant::now();
        let v = e.embed(&refs)?;
        let secs = t.elapsed().as_secs_f64();
        println!("{} texts in {:.2} s: {:.1} texts/s ({} dims)", v.len(), secs, v.len() as f64 / secs, v[0].len());
    }
    Ok(())
}
