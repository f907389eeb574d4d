//! GGUF generation throughput: load time, prompt processing and generation tokens/s.
//!
//! cargo run --release --example gguf_bench -- [MODEL.gguf] [--no-requantize] [--f32 | --quantized]
//! Threads: CANDLE_NUM_THREADS (default 1, see `GgufOptions::threads`).

use hektor_core::rag::models::GenerateOptions;
use hektor_core::rag::prompt::{Message, Template};
use hektor_models::{GgufChat, GgufOptions};
use std::path::PathBuf;

fn model_path() -> PathBuf {
    if let Some(p) = std::env::args().skip(1).find(|a| !a.starts_with("--")) {
        return p.into();
    }
    if let Some(p) = std::env::var_os("HEKTOR_SMOLLM2") {
        return p.into();
    }
    let out = std::process::Command::new("node").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/fetch-models.mjs")).arg("--json").output().expect("node");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fetch-models json");
    v["smollm2"].as_str().expect("smollm2").into()
}

fn main() {
    let requantize = !std::env::args().any(|a| a == "--no-requantize");
    let dequantize = if std::env::args().any(|a| a == "--f32") {
        Some(true)
    } else if std::env::args().any(|a| a == "--quantized") {
        Some(false)
    } else {
        None
    };
    let chat = GgufChat::load(&model_path(), GgufOptions { threads: None, requantize, dequantize }).unwrap();
    println!(
        "{} ({}), load {:.0} ms, {} tensors re-quantized, f32 weights: {}, CANDLE_NUM_THREADS={}",
        chat.name(),
        chat.architecture(),
        chat.load_time().as_secs_f64() * 1e3,
        chat.requantized_tensors(),
        chat.is_dequantized(),
        std::env::var("CANDLE_NUM_THREADS").unwrap_or_default()
    );
    let passages = [
        "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named after the engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889.",
        "Mount Everest is Earth's highest mountain above sea level, located in the Mahalangur Himal sub-range of the Himalayas. The China-Nepal border runs across its summit point.",
        "The Great Wall of China is a series of fortifications that were built across the historical northern borders of ancient Chinese states and Imperial China as protection against various nomadic groups from the Eurasian Steppe.",
    ];
    let msgs: Vec<Message> = Template::default().render("When was the Eiffel Tower built?", &passages);
    let opts = GenerateOptions { temperature: 0.0, max_tokens: 128, seed: Some(1), ..Default::default() };
    let mut rows = Vec::new();
    for run in 0..3 {
        let (g, s) = chat.generate_with_stats(&msgs, &opts, &mut |_| true).unwrap();
        if run == 0 {
            println!("answer: {:?}", g.text);
        }
        println!(
            "run {run}: prompt {} tokens in {:.0} ms = {:.0} tok/s; generated {} tokens in {:.0} ms = {:.1} tok/s ({})",
            s.prompt_tokens,
            s.prompt_time.as_secs_f64() * 1e3,
            s.prompt_tokens_per_second(),
            s.completion_tokens,
            s.generation_time.as_secs_f64() * 1e3,
            s.tokens_per_second(),
            g.finish_reason
        );
        rows.push((s.prompt_tokens_per_second(), s.tokens_per_second()));
    }
    let best_p = rows.iter().map(|r| r.0).fold(0.0, f64::max);
    let best_g = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    println!("best: prompt {best_p:.0} tok/s, generation {best_g:.1} tok/s");
}
