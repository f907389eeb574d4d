//! hektor's GGUF engine (`hektor_models::llm`) against candle's independent llama and
//! qwen2 implementations, on small random models written as GGUF files with Q8_0 weights:
//! the architecture details (grouped-query attention, rotary layouts, qwen2's biases, tied
//! or separate output matrices, the KV cache) must agree, up to the f16 rounding of the
//! attention that hektor copies from llama.cpp. And a token's logits must be the same bits
//! whether it came in a prompt or alone.

mod common;

use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::models::{quantized_llama, quantized_qwen2};
use common::temp_dir;
use hektor_models::llm::{Arch, Model};
use std::fs::File;
use std::path::Path;

const D: usize = 64;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const FF: usize = 128;
const LAYERS: usize = 2;
const VOCAB: usize = 96;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
    }
    fn tensor(&mut self, shape: &[usize], scale: f32, offset: f32) -> Tensor {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| offset + scale * self.next()).collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }
}

fn write_model(path: &Path, arch: &str, tied: bool, seed: u64) {
    let mut r = Rng(seed);
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let q8 = |t: Tensor| QTensor::quantize(&t, GgmlDType::Q8_0).unwrap();
    let f32t = |t: Tensor| QTensor::quantize(&t, GgmlDType::F32).unwrap();
    let hd = D / HEADS;
    tensors.push(("token_embd.weight".into(), q8(r.tensor(&[VOCAB, D], 1.0, 0.0))));
    tensors.push(("output_norm.weight".into(), f32t(r.tensor(&[D], 0.2, 1.0))));
    if !tied {
        tensors.push(("output.weight".into(), q8(r.tensor(&[VOCAB, D], 0.3, 0.0))));
    }
    for l in 0..LAYERS {
        let p = format!("blk.{l}");
        tensors.push((format!("{p}.attn_norm.weight"), f32t(r.tensor(&[D], 0.2, 1.0))));
        tensors.push((format!("{p}.attn_q.weight"), q8(r.tensor(&[HEADS * hd, D], 0.3, 0.0))));
        tensors.push((format!("{p}.attn_k.weight"), q8(r.tensor(&[KV_HEADS * hd, D], 0.3, 0.0))));
        tensors.push((format!("{p}.attn_v.weight"), q8(r.tensor(&[KV_HEADS * hd, D], 0.3, 0.0))));
        if arch == "qwen2" {
            tensors.push((format!("{p}.attn_q.bias"), f32t(r.tensor(&[HEADS * hd], 0.2, 0.0))));
            tensors.push((format!("{p}.attn_k.bias"), f32t(r.tensor(&[KV_HEADS * hd], 0.2, 0.0))));
            tensors.push((format!("{p}.attn_v.bias"), f32t(r.tensor(&[KV_HEADS * hd], 0.2, 0.0))));
        }
        tensors.push((format!("{p}.attn_output.weight"), q8(r.tensor(&[D, HEADS * hd], 0.2, 0.0))));
        tensors.push((format!("{p}.ffn_norm.weight"), f32t(r.tensor(&[D], 0.2, 1.0))));
        tensors.push((format!("{p}.ffn_gate.weight"), q8(r.tensor(&[FF, D], 0.3, 0.0))));
        tensors.push((format!("{p}.ffn_up.weight"), q8(r.tensor(&[FF, D], 0.3, 0.0))));
        tensors.push((format!("{p}.ffn_down.weight"), q8(r.tensor(&[D, FF], 0.2, 0.0))));
    }
    let u = |x: usize| Value::U32(x as u32);
    let md: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (format!("{arch}.block_count"), u(LAYERS)),
        (format!("{arch}.embedding_length"), u(D)),
        (format!("{arch}.feed_forward_length"), u(FF)),
        (format!("{arch}.attention.head_count"), u(HEADS)),
        (format!("{arch}.attention.head_count_kv"), u(KV_HEADS)),
        (format!("{arch}.rope.dimension_count"), u(hd)),
        (format!("{arch}.rope.freq_base"), Value::F32(10_000.0)),
        (format!("{arch}.attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
        (format!("{arch}.context_length"), u(256)),
    ];
    let md_ref: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let t_ref: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut f = File::create(path).unwrap();
    gguf_file::write(&mut f, &md_ref, &t_ref).unwrap();
}

fn read(path: &Path) -> (Content, File) {
    let mut f = File::open(path).unwrap();
    let c = Content::read(&mut f).unwrap();
    (c, f)
}

fn close(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len());
    let dot: f32 = ours.iter().zip(theirs).map(|(a, b)| a * b).sum();
    let na: f32 = ours.iter().map(|a| a * a).sum::<f32>().sqrt();
    let nb: f32 = theirs.iter().map(|a| a * a).sum::<f32>().sqrt();
    let max = theirs.iter().fold(0f32, |m, x| m.max(x.abs()));
    let diff = ours.iter().zip(theirs).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    let cos = dot / (na * nb);
    // With f32 attention instead of llama.cpp's f16 (a one-line change in model.rs) all
    // three models agree within 3 %; the f16 rounding of keys, values and attention
    // weights moves the largest logit of the tied model by up to ~3.5 %.
    assert!(cos > 0.999 && diff < 0.05 * max, "{what}: cosine {cos}, max difference {diff} of {max}");
}

fn compare(arch: &str, tied: bool) {
    let dir = temp_dir(&format!("llm-ref-{arch}"));
    let path = dir.join("tiny.gguf");
    write_model(&path, arch, tied, 42 + tied as u64);
    let tokens: Vec<u32> = vec![1, 17, 5, 88, 42, 42, 7, 63, 2, 95, 30, 11];
    let (prompt, rest) = tokens.split_at(9);

    let (content, mut f) = read(&path);
    let a = if arch == "qwen2" { Arch::Qwen2 } else { Arch::Llama };
    let ours = Model::load(&content, &mut f, a, 2, false).unwrap();
    assert_eq!(ours.converted_tensors(), 0, "Q8_0 is used as stored");
    let mut cache = ours.new_cache(256);
    let mut mine = vec![ours.forward(&mut cache, prompt).unwrap()];
    for &t in rest {
        mine.push(ours.forward(&mut cache, &[t]).unwrap());
    }

    let (content, mut f) = read(&path);
    let dev = Device::Cpu;
    let mut step: Box<dyn FnMut(&[u32], usize) -> Vec<f32>> = if arch == "qwen2" {
        let mut m = quantized_qwen2::ModelWeights::from_gguf(content, &mut f, &dev).unwrap();
        Box::new(move |ids, pos| m.forward(&Tensor::new(ids, &dev).unwrap().unsqueeze(0).unwrap(), pos).unwrap().flatten_all().unwrap().to_vec1().unwrap())
    } else {
        let mut m = quantized_llama::ModelWeights::from_gguf(content, &mut f, &dev).unwrap();
        Box::new(move |ids, pos| m.forward(&Tensor::new(ids, &dev).unwrap().unsqueeze(0).unwrap(), pos).unwrap().flatten_all().unwrap().to_vec1().unwrap())
    };
    let mut theirs = vec![step(prompt, 0)];
    for (i, &t) in rest.iter().enumerate() {
        theirs.push(step(&[t], prompt.len() + i));
    }
    for (i, (m, t)) in mine.iter().zip(&theirs).enumerate() {
        close(m, t, &format!("{arch} (tied output: {tied}), step {i}"));
    }

    // The same tokens as one prompt: the last logits are the same bits as step by step.
    let mut whole = ours.new_cache(256);
    let all = ours.forward(&mut whole, &tokens).unwrap();
    assert_eq!(&all, mine.last().unwrap(), "{arch}: one prompt vs token by token");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn llama_matches_candle() {
    compare("llama", false);
}

#[test]
fn llama_with_tied_output_matches_candle() {
    compare("llama", true);
}

#[test]
fn qwen2_matches_candle() {
    compare("qwen2", true);
}
