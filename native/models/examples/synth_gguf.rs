//! Writes a llama-architecture GGUF model of a chosen size with random weights and the
//! tokenizer and chat template of another GGUF file (SmolLM2's by default), for speed
//! comparisons with llama.cpp at sizes no PyPI wheel carries. Its text is noise; its
//! matrices have the shapes and block types of a real model, which is all that speed
//! depends on.
//!
//! cargo run --profile ci --example synth_gguf -- OUT.gguf [--size 1b|360m] [--type q4_0|q4_1|q8_0] [--from TOKENIZER.gguf]

use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use std::path::PathBuf;

struct Shape {
    d: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    ff: usize,
}

fn tokenizer_source() -> PathBuf {
    let out = std::process::Command::new("node").arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/fetch-models.mjs")).arg("--json").output().expect("node");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fetch-models json");
    v["smollm2"].as_str().expect("smollm2").into()
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let opt = |name: &str| argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)).cloned();
    let out = PathBuf::from(argv.get(1).filter(|a| !a.starts_with("--")).expect("usage: synth_gguf OUT.gguf [--size 1b|360m] [--type q4_0|q4_1|q8_0]"));
    let shape = match opt("--size").as_deref().unwrap_or("1b") {
        // Llama-3.2-1B's block shapes (its 128k vocabulary replaced by the tokenizer's).
        "1b" => Shape { d: 2048, layers: 16, heads: 32, kv_heads: 8, ff: 8192 },
        // SmolLM2-360M's.
        "360m" => Shape { d: 960, layers: 32, heads: 15, kv_heads: 5, ff: 2560 },
        s => panic!("unknown size {s}"),
    };
    let dtype = match opt("--type").as_deref().unwrap_or("q4_0") {
        "q4_0" => GgmlDType::Q4_0,
        "q4_1" => GgmlDType::Q4_1,
        "q8_0" => GgmlDType::Q8_0,
        t => panic!("unknown type {t}"),
    };
    let from = opt("--from").map(PathBuf::from).unwrap_or_else(tokenizer_source);
    let mut f = std::fs::File::open(&from).unwrap();
    let src = Content::read(&mut f).unwrap();
    let vocab = match src.metadata.get("tokenizer.ggml.tokens") {
        Some(Value::Array(a)) => a.len(),
        _ => panic!("{} has no tokenizer", from.display()),
    };
    let mut md: Vec<(String, Value)> = src.metadata.iter().filter(|(k, _)| k.starts_with("tokenizer.")).map(|(k, v)| (k.clone(), v.clone())).collect();
    let u = |x: usize| Value::U32(x as u32);
    let hd = shape.d / shape.heads;
    md.extend([
        ("general.architecture".to_string(), Value::String("llama".into())),
        ("general.name".to_string(), Value::String(format!("synthetic {} ({:?}, random weights)", opt("--size").unwrap_or("1b".into()), dtype))),
        ("llama.block_count".to_string(), u(shape.layers)),
        ("llama.embedding_length".to_string(), u(shape.d)),
        ("llama.feed_forward_length".to_string(), u(shape.ff)),
        ("llama.attention.head_count".to_string(), u(shape.heads)),
        ("llama.attention.head_count_kv".to_string(), u(shape.kv_heads)),
        ("llama.rope.dimension_count".to_string(), u(hd)),
        ("llama.rope.freq_base".to_string(), Value::F32(100_000.0)),
        ("llama.attention.layer_norm_rms_epsilon".to_string(), Value::F32(1e-5)),
        ("llama.context_length".to_string(), u(4096)),
        ("llama.vocab_size".to_string(), u(vocab)),
    ]);
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut tensor = |rows: usize, cols: usize, scale: f32, offset: f32, dt: GgmlDType| {
        let v: Vec<f32> = (0..rows * cols)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                offset + scale * ((seed >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0)
            })
            .collect();
        let shape: Vec<usize> = if rows == 1 { vec![cols] } else { vec![rows, cols] };
        QTensor::quantize(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap(), dt).unwrap()
    };
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    tensors.push(("token_embd.weight".into(), tensor(vocab, shape.d, 0.05, 0.0, dtype)));
    tensors.push(("output_norm.weight".into(), tensor(1, shape.d, 0.1, 1.0, GgmlDType::F32)));
    for l in 0..shape.layers {
        let p = format!("blk.{l}");
        let w = 1.0 / (shape.d as f32).sqrt();
        tensors.push((format!("{p}.attn_norm.weight"), tensor(1, shape.d, 0.1, 1.0, GgmlDType::F32)));
        tensors.push((format!("{p}.attn_q.weight"), tensor(shape.heads * hd, shape.d, w, 0.0, dtype)));
        tensors.push((format!("{p}.attn_k.weight"), tensor(shape.kv_heads * hd, shape.d, w, 0.0, dtype)));
        tensors.push((format!("{p}.attn_v.weight"), tensor(shape.kv_heads * hd, shape.d, w, 0.0, dtype)));
        tensors.push((format!("{p}.attn_output.weight"), tensor(shape.d, shape.heads * hd, w, 0.0, dtype)));
        tensors.push((format!("{p}.ffn_norm.weight"), tensor(1, shape.d, 0.1, 1.0, GgmlDType::F32)));
        tensors.push((format!("{p}.ffn_gate.weight"), tensor(shape.ff, shape.d, w, 0.0, dtype)));
        tensors.push((format!("{p}.ffn_up.weight"), tensor(shape.ff, shape.d, w, 0.0, dtype)));
        tensors.push((format!("{p}.ffn_down.weight"), tensor(shape.d, shape.ff, 1.0 / (shape.ff as f32).sqrt(), 0.0, dtype)));
    }
    let params: usize = tensors.iter().map(|(_, t)| t.shape().elem_count()).sum();
    let md_ref: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let t_ref: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut w = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
    gguf_file::write(&mut w, &md_ref, &t_ref).unwrap();
    println!("wrote {} ({:.2}B parameters, {dtype:?})", out.display(), params as f64 / 1e9);
}
