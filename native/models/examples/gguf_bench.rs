//! GGUF generation throughput: load time, prompt processing and generation tokens/s.
//!
//! cargo run --profile ci --example gguf_bench -- [MODEL.gguf] [--threads N] [--requantize]
//!
//! Each run uses a different first passage, so no run reuses the previous one's prompt
//! beyond the shared instructions (the engine keeps the KV cache of a shared prefix); a
//! last run repeats the previous prompt to show what that reuse saves.

use hektor_core::rag::models::GenerateOptions;
use hektor_core::rag::prompt::Template;
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
    let argv: Vec<String> = std::env::args().collect();
    let threads = argv.iter().position(|a| a == "--threads").and_then(|i| argv.get(i + 1)).map(|t| t.parse::<usize>().expect("--threads N"));
    let requantize = argv.iter().any(|a| a == "--requantize");
    let chat = GgufChat::load(&model_path(), GgufOptions { threads, requantize, dequantize: None }).unwrap();
    println!(
        "{} ({}), load {:.0} ms, {} threads, {} tensors converted to Q8_0, {:.0} MB of weights, kernels: {}",
        chat.name(),
        chat.architecture(),
        chat.load_time().as_secs_f64() * 1e3,
        chat.threads(),
        chat.requantized_tensors(),
        chat.weight_bytes() as f64 / 1e6,
        hektor_models::llm::isa().name()
    );
    let passages = [
        "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is named after the engineer Gustave Eiffel, whose company designed and built the tower from 1887 to 1889.",
        "Mount Everest is Earth's highest mountain above sea level, located in the Mahalangur Himal sub-range of the Himalayas. The China-Nepal border runs across its summit point.",
        "The Great Wall of China is a series of fortifications that were built across the historical northern borders of ancient Chinese states and Imperial China as protection against various nomadic groups from the Eurasian Steppe.",
    ];
    let firsts = ["The Louvre is the world's most-visited museum, in Paris.", "Paris has been the capital of France since the 10th century.", "The Seine flows through Paris into the English Channel."];
    let prompt = |run: usize| {
        let mut p: Vec<&str> = vec![firsts[run % firsts.len()]];
        p.extend(passages);
        Template::default().render("When was the Eiffel Tower built?", &p)
    };
    let opts = GenerateOptions { temperature: 0.0, max_tokens: 128, seed: Some(1), ..Default::default() };
    let mut rows = Vec::new();
    for run in 0..4 {
        let msgs = prompt(if run == 3 { 2 } else { run });
        let (g, s) = chat.generate_with_stats(&msgs, &opts, &mut |_| true).unwrap();
        if run == 0 {
            println!("answer: {:?}", g.text);
        }
        println!(
            "run {run}: prompt {} tokens ({} reused) in {:.0} ms = {:.0} tok/s; generated {} tokens in {:.0} ms = {:.1} tok/s ({})",
            s.prompt_tokens,
            s.reused_prompt_tokens,
            s.prompt_time.as_secs_f64() * 1e3,
            s.prompt_tokens_per_second(),
            s.completion_tokens,
            s.generation_time.as_secs_f64() * 1e3,
            s.tokens_per_second(),
            g.finish_reason
        );
        if run < 3 {
            rows.push((s.prompt_tokens_per_second(), s.tokens_per_second()));
        }
    }
    let best_p = rows.iter().map(|r| r.0).fold(0.0, f64::max);
    let best_g = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    println!("best: prompt {best_p:.0} tok/s, generation {best_g:.1} tok/s");
}
