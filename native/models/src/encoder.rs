//! A BERT-family encoder forward pass, shared by the embedder and the cross-encoder.
//!
//! It computes what `transformers`' `BertModel` computes (absolute positions, post-layer
//! norm, erf GELU) but is arranged for CPU inference speed. candle only reads the
//! safetensors; the forward pass is plain buffers and the `gemm` crate (AVX-512 / AVX2
//! kernels picked at run time):
//! - sequences are packed one after the other, so no padding token is ever computed;
//! - each linear layer is one matrix product over all tokens, bias included (the output
//!   starts as the bias rows), with weights transposed once at load; Q, K and V are one
//!   product against `[h, 3h]`, with the `1/sqrt(head_dim)` scale folded into Q at load;
//! - attention runs one rayon task per (sequence, head) on strided views of the QKV rows;
//! - GELU, softmax and residual + layer norm are in-place row kernels that the compiler
//!   vectorises, compiled for baseline x86-64, AVX2 + FMA and AVX-512 (picked at run time);
//! - on request ([`BertEncoder::quantize_int8`]) the dense layers run in int8 on AVX-512 VNNI
//!   ([`crate::int8`]), smoothed with channel maxima measured on a calibration batch.

use crate::int8::QLinear;
use crate::{candle_err, read_required};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use hektor_core::{Error, ErrorCode, Result};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// The parts of a Hugging Face `config.json` the encoder reads.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: Option<usize>,
    #[serde(default)]
    pub model_type: Option<String>,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
    #[serde(default)]
    pub num_labels: Option<usize>,
    #[serde(default)]
    pub id2label: Option<HashMap<String, String>>,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_max_positions() -> usize {
    512
}
fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Activation {
    /// `0.5 x (1 + erf(x / sqrt 2))`, BERT's `gelu`.
    GeluErf,
    /// The tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    GeluTanh,
    Relu,
}

impl BertConfig {
    /// Reads and validates `dir/config.json`.
    pub fn load(dir: &Path) -> Result<BertConfig> {
        let path = dir.join("config.json");
        let cfg: BertConfig = crate::read_json(&path, "model config")?;
        cfg.validate().map_err(|m| Error::new(ErrorCode::Parse, format!("model config {}: {m}", path.display())))?;
        Ok(cfg)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if let Some(t) = &self.model_type {
            if !matches!(t.as_str(), "bert" | "roberta" | "xlm-roberta" | "camembert") {
                return Err(format!("model_type '{t}' is not a BERT-family encoder (bert, roberta, xlm-roberta)"));
            }
        }
        if let Some(p) = &self.position_embedding_type {
            if p != "absolute" {
                return Err(format!("position_embedding_type '{p}' is not supported (only 'absolute')"));
            }
        }
        if self.hidden_size == 0 || self.num_attention_heads == 0 || self.num_hidden_layers == 0 || self.vocab_size == 0 {
            return Err("hidden_size, num_attention_heads, num_hidden_layers and vocab_size must be > 0".into());
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!("hidden_size {} is not a multiple of num_attention_heads {}", self.hidden_size, self.num_attention_heads));
        }
        self.activation()?;
        Ok(())
    }

    fn activation(&self) -> std::result::Result<Activation, String> {
        match self.hidden_act.as_str() {
            "gelu" => Ok(Activation::GeluErf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            other => Err(format!("hidden_act '{other}' is not supported")),
        }
    }

    /// RoBERTa-style models number positions from `pad_token_id + 1`.
    fn position_offset(&self) -> usize {
        match self.model_type.as_deref() {
            Some("roberta" | "xlm-roberta" | "camembert") => self.pad_token_id.unwrap_or(1) + 1,
            _ => 0,
        }
    }

    /// The longest sequence (special tokens included) the position table allows.
    pub fn max_sequence(&self) -> usize {
        self.max_position_embeddings.saturating_sub(self.position_offset())
    }
}

/// Loads the weights of a folder: `model.safetensors` (f32, f16 or bf16, converted to f32).
pub(crate) fn load_weights(dir: &Path) -> Result<VarBuilder<'static>> {
    let st = dir.join("model.safetensors");
    if !st.exists() {
        for legacy in ["pytorch_model.bin", "model.bin", "pytorch_model.bin.index.json"] {
            if dir.join(legacy).exists() {
                return Err(Error::invalid(format!(
                    "{} holds PyTorch weights ({legacy}): convert them to safetensors (model.safetensors), \
                     e.g. with the `safetensors` Python package, then load the folder again",
                    dir.display()
                )));
            }
        }
        if dir.join("model.safetensors.index.json").exists() {
            return Err(Error::invalid(format!("{}: sharded safetensors are not supported; merge them into model.safetensors", dir.display())));
        }
    }
    let bytes = read_required(&st, "model weights")?;
    VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)
        .map_err(candle_err(ErrorCode::Parse, format!("model weights {} are not valid safetensors", st.display())))
}

/// Finds the prefix under which the encoder's tensors live (`""`, `bert.`, `roberta.`...).
pub(crate) fn encoder_prefix(vb: &VarBuilder, cfg: &BertConfig) -> Option<String> {
    let mut candidates = vec![String::new(), "bert.".into(), "roberta.".into(), "model.".into()];
    if let Some(t) = &cfg.model_type {
        candidates.push(format!("{}.", t.replace('-', "_")));
        candidates.push(format!("{t}."));
    }
    candidates.into_iter().find(|p| vb.contains_tensor(&format!("{p}embeddings.word_embeddings.weight")))
}

/// A dense layer: `y = x · w + b` with `w` stored `[in, out]` row-major, and optionally its
/// int8 twin (see [`crate::int8`]), which then computes the products.
struct Linear {
    w: Vec<f32>,
    b: Vec<f32>,
    inp: usize,
    out: usize,
    q: Option<QLinear>,
}

impl Linear {
    /// Loads `weight` `[out, in]` and `bias` `[out]` under `vb`, scaling both by `scale`.
    fn load(vb: &VarBuilder, inp: usize, out: usize, scale: Option<f64>) -> candle_core::Result<Linear> {
        let w = vb.get((out, inp), "weight")?;
        let b = vb.get(out, "bias")?;
        let (w, b) = match scale {
            Some(s) => ((w * s)?, (b * s)?),
            None => (w, b),
        };
        Ok(Linear { w: w.t()?.contiguous()?.flatten_all()?.to_vec1()?, b: b.to_vec1()?, inp, out, q: None })
    }

    /// Stacks layers with the same input side by side (`[in, out1 + out2 + ...]`).
    fn concat(parts: &[Linear]) -> Linear {
        let inp = parts.first().map_or(0, |p| p.inp);
        let out: usize = parts.iter().map(|p| p.out).sum();
        let mut w = Vec::with_capacity(inp * out);
        for r in 0..inp {
            for p in parts {
                w.extend_from_slice(&p.w[r * p.out..(r + 1) * p.out]);
            }
        }
        Linear { w, b: parts.iter().flat_map(|p| p.b.iter().copied()).collect(), inp, out, q: None }
    }


    /// `x · w + b` for `rows` rows of `x`, into `y` (resized): int8 when quantized, else f32.
    fn forward(&self, x: &[f32], rows: usize, y: &mut Vec<f32>) {
        match &self.q {
            Some(q) => q.forward(x, rows, y),
            None => self.forward_f32(x, rows, y),
        }
    }

    /// `x · w + b` in f32 (the `gemm` crate, on the current rayon pool).
    fn forward_f32(&self, x: &[f32], rows: usize, y: &mut Vec<f32>) {
        assert_eq!(x.len(), rows * self.inp, "linear input size");
        y.clear();
        y.reserve(rows * self.out);
        for _ in 0..rows {
            y.extend_from_slice(&self.b);
        }
        if rows == 0 {
            return;
        }
        // SAFETY: `y` is rows x out, `x` rows x inp and `w` inp x out, all row-major and
        // exactly that long (checked above and at load); gemm reads and writes only inside.
        unsafe {
            gemm::gemm(
                rows,
                self.out,
                self.inp,
                y.as_mut_ptr(),
                1,
                self.out as isize,
                true,
                x.as_ptr(),
                1,
                self.inp as isize,
                self.w.as_ptr(),
                1,
                self.out as isize,
                1.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(0),
            );
        }
    }
}

struct Layer {
    qkv: Linear,
    o: Linear,
    ln1_g: Vec<f32>,
    ln1_b: Vec<f32>,
    inter: Linear,
    out: Linear,
    ln2_g: Vec<f32>,
    ln2_b: Vec<f32>,
}

/// The encoder's weights, ready for [`forward`](BertEncoder::forward).
pub(crate) struct BertEncoder {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    emb_ln_g: Vec<f32>,
    emb_ln_b: Vec<f32>,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    eps: f32,
    act: Activation,
    position_offset: usize,
    max_sequence: usize,
    type_vocab: usize,
}

/// Token ids of one batch, sequences packed one after the other (no padding).
pub(crate) struct Batch {
    /// The ids of every sequence, concatenated.
    pub ids: Vec<u32>,
    /// Their token type ids.
    pub type_ids: Vec<u32>,
    /// Length of each sequence.
    pub lens: Vec<usize>,
    /// Row of each sequence's first token.
    pub starts: Vec<usize>,
}

impl Batch {
    /// Packs `seqs` of (ids, type ids).
    pub fn pack(seqs: &[(&[u32], &[u32])]) -> Batch {
        let total = seqs.iter().map(|s| s.0.len()).sum();
        let mut b = Batch { ids: Vec::with_capacity(total), type_ids: Vec::with_capacity(total), lens: Vec::new(), starts: Vec::new() };
        for (ids, types) in seqs {
            b.starts.push(b.ids.len());
            b.lens.push(ids.len());
            b.ids.extend_from_slice(ids);
            b.type_ids.extend((0..ids.len()).map(|i| types.get(i).copied().unwrap_or(0)));
        }
        b
    }

    /// Total tokens.
    pub fn rows(&self) -> usize {
        self.ids.len()
    }
}

fn get_vec(vb: &VarBuilder, shape: usize, name: &str) -> candle_core::Result<Vec<f32>> {
    vb.get(shape, name)?.to_vec1::<f32>()
}

fn get_table(vb: &VarBuilder, rows: usize, cols: usize) -> candle_core::Result<Vec<f32>> {
    vb.get((rows, cols), "weight")?.flatten_all()?.to_vec1::<f32>()
}

impl BertEncoder {
    /// Loads the encoder under `prefix` of `vb` (f32; see [`quantize_int8`](Self::quantize_int8)).
    pub fn load(vb: &VarBuilder, prefix: &str, cfg: &BertConfig) -> candle_core::Result<BertEncoder> {
        let h = cfg.hidden_size;
        let vb = if prefix.is_empty() { vb.clone() } else { vb.pp(prefix.trim_end_matches('.')) };
        let e = vb.pp("embeddings");
        let word = get_table(&e.pp("word_embeddings"), cfg.vocab_size, h)?;
        let position = get_table(&e.pp("position_embeddings"), cfg.max_position_embeddings, h)?;
        let token_type = get_table(&e.pp("token_type_embeddings"), cfg.type_vocab_size, h)?;
        let emb_ln_g = get_vec(&e.pp("LayerNorm"), h, "weight")?;
        let emb_ln_b = get_vec(&e.pp("LayerNorm"), h, "bias")?;
        let head_dim = h / cfg.num_attention_heads;
        let q_scale = 1.0 / (head_dim as f64).sqrt();
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let att = l.pp("attention");
            let sa = att.pp("self");
            let qkv = Linear::concat(&[
                Linear::load(&sa.pp("query"), h, h, Some(q_scale))?,
                Linear::load(&sa.pp("key"), h, h, None)?,
                Linear::load(&sa.pp("value"), h, h, None)?,
            ]);
            let so = att.pp("output");
            layers.push(Layer {
                qkv,
                o: Linear::load(&so.pp("dense"), h, h, None)?,
                ln1_g: get_vec(&so.pp("LayerNorm"), h, "weight")?,
                ln1_b: get_vec(&so.pp("LayerNorm"), h, "bias")?,
                inter: Linear::load(&l.pp("intermediate").pp("dense"), h, cfg.intermediate_size, None)?,
                out: Linear::load(&l.pp("output").pp("dense"), cfg.intermediate_size, h, None)?,
                ln2_g: get_vec(&l.pp("output").pp("LayerNorm"), h, "weight")?,
                ln2_b: get_vec(&l.pp("output").pp("LayerNorm"), h, "bias")?,
            });
        }
        Ok(BertEncoder {
            word,
            position,
            token_type,
            emb_ln_g,
            emb_ln_b,
            layers,
            hidden: h,
            heads: cfg.num_attention_heads,
            eps: cfg.layer_norm_eps as f32,
            act: cfg.activation().map_err(candle_core::Error::msg)?,
            position_offset: cfg.position_offset(),
            max_sequence: cfg.max_sequence(),
            type_vocab: cfg.type_vocab_size,
        })
    }

    /// The hidden size.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Runs the encoder: returns the last hidden states, one `hidden`-wide row per token
    /// of the batch (rows in `batch.ids` order).
    pub fn forward(&self, batch: &Batch) -> Result<Vec<f32>> {
        self.forward_observed(batch, &mut |_, _, _, _| {})
    }

    /// Replaces the dense layers' f32 weights by int8 ones (see [`crate::int8`]), smoothed
    /// with the largest activation of each input channel seen on `calibration` (a batch of
    /// varied text run through the f32 layers first). The caller checks
    /// [`crate::int8::available`].
    pub fn quantize_int8(&mut self, calibration: &Batch) -> Result<()> {
        let mut act_max: Vec<[Vec<f32>; 4]> = self.layers.iter().map(|l| [l.qkv.inp, l.o.inp, l.inter.inp, l.out.inp].map(|k| vec![0f32; k])).collect();
        self.forward_observed(calibration, &mut |layer, slot, x, k| {
            let m = &mut act_max[layer][slot];
            for row in x.chunks(k) {
                for (a, &v) in m.iter_mut().zip(row) {
                    *a = a.max(v.abs());
                }
            }
        })?;
        for (layer, a) in self.layers.iter_mut().zip(&act_max) {
            for (slot, lin) in [&mut layer.qkv, &mut layer.o, &mut layer.inter, &mut layer.out].into_iter().enumerate() {
                lin.q = Some(QLinear::new(&lin.w, &lin.b, lin.inp, lin.out, Some(&a[slot])));
                lin.w = Vec::new();
            }
        }
        Ok(())
    }

    /// [`forward`](Self::forward), showing `observe(layer, slot, x, width)` the input `x`
    /// (rows of `width`) of each dense layer: slot 0 QKV, 1 attention output, 2 intermediate,
    /// 3 output.
    fn forward_observed(&self, batch: &Batch, observe: &mut dyn FnMut(usize, usize, &[f32], usize)) -> Result<Vec<f32>> {
        if let Some(&len) = batch.lens.iter().find(|&&len| len > self.max_sequence) {
            return Err(Error::invalid(format!("sequence of {len} tokens exceeds the model's {} positions", self.max_sequence)));
        }
        let n = batch.rows();
        let consistent = batch.type_ids.len() == n
            && batch.starts.len() == batch.lens.len()
            && batch.starts.iter().zip(&batch.lens).all(|(&s, &len)| s + len <= n)
            && batch.lens.iter().sum::<usize>() == n;
        if !consistent {
            return Err(Error::internal("malformed batch"));
        }
        let vocab = self.word.len() / self.hidden;
        if let Some(bad) = batch.ids.iter().find(|&&id| id as usize >= vocab) {
            return Err(Error::new(ErrorCode::Parse, format!("token id {bad} is outside the model's vocabulary of {vocab}: tokenizer.json does not match the model")));
        }
        let max_type = self.type_vocab.saturating_sub(1) as u32;
        let h = self.hidden;
        let mut positions = vec![0usize; n];
        for (&start, &len) in batch.starts.iter().zip(&batch.lens) {
            for (i, p) in positions[start..start + len].iter_mut().enumerate() {
                *p = self.position_offset + i;
            }
        }

        // Embeddings: word + position + token type, then layer norm.
        let mut x = vec![0f32; n * h];
        x.par_chunks_mut(h).enumerate().for_each(|(r, row)| {
            let w = batch.ids[r] as usize * h;
            let p = positions[r] * h;
            let t = batch.type_ids[r].min(max_type) as usize * h;
            for (j, v) in row.iter_mut().enumerate() {
                *v = self.word[w + j] + self.position[p + j] + self.token_type[t + j];
            }
            kernels::layer_norm(row, &self.emb_ln_g, &self.emb_ln_b, self.eps);
        });

        let (mut qkv, mut ctx, mut a, mut t, mut o) = (Vec::new(), vec![0f32; n * h], Vec::new(), Vec::new(), Vec::new());
        for (i, layer) in self.layers.iter().enumerate() {
            observe(i, 0, &x, h);
            layer.qkv.forward(&x, n, &mut qkv);
            self.attention(&qkv, &mut ctx, batch);
            observe(i, 1, &ctx, h);
            layer.o.forward(&ctx, n, &mut a);
            residual_norm(&mut a, &x, &layer.ln1_g, &layer.ln1_b, self.eps);
            observe(i, 2, &a, h);
            layer.inter.forward(&a, n, &mut t);
            let act = self.act;
            t.par_chunks_mut(4096).for_each(|c| kernels::activation(c, act));
            observe(i, 3, &t, layer.out.inp);
            layer.out.forward(&t, n, &mut o);
            residual_norm(&mut o, &a, &layer.ln2_g, &layer.ln2_b, self.eps);
            std::mem::swap(&mut x, &mut o);
        }
        Ok(x)
    }

    /// Multi-head self-attention of each sequence over its own tokens, from the
    /// `[q | k | v]` rows into `ctx` (`rows x hidden`). One rayon task per (sequence,
    /// head); each runs two small single-threaded products on strided views, so nothing
    /// is transposed or copied.
    fn attention(&self, qkv: &[f32], ctx: &mut [f32], batch: &Batch) {
        let h = self.hidden;
        let heads = self.heads;
        let d = h / heads;
        let row3 = 3 * h;
        assert_eq!(qkv.len(), batch.rows() * row3, "attention input size");
        assert_eq!(ctx.len(), batch.rows() * h, "attention output size");
        let ctx_ptr = SendPtr(ctx.as_mut_ptr());
        (0..batch.lens.len() * heads).into_par_iter().for_each_init(Vec::new, |scores: &mut Vec<f32>, task| {
            let (bi, head) = (task / heads, task % heads);
            let (base, len) = (batch.starts[bi], batch.lens[bi]);
            if len == 0 {
                return;
            }
            // gemm overwrites the scores (it does not read them): no need to zero them
            if scores.len() < len * len {
                scores.resize(len * len, 0.0);
            }
            let scores = &mut scores[..len * len];
            let q = qkv[base * row3 + head * d..].as_ptr();
            let k = qkv[base * row3 + h + head * d..].as_ptr();
            let v = qkv[base * row3 + 2 * h + head * d..].as_ptr();
            let ctx_ptr = &ctx_ptr;
            // SAFETY: q, k, v address rows base..base+len of the packed qkv matrix (row
            // stride 3h, `d` columns each), inside `qkv` (size checked above); `scores` is
            // len x len; the output block is rows base..base+len, columns head*d.. of `ctx`,
            // disjoint from every other task's block. Tasks run single-threaded gemm.
            unsafe {
                // scores = Q · Kᵀ (the 1/sqrt(d) scale is folded into Q's weights)
                gemm::gemm(len, len, d, scores.as_mut_ptr(), 1, len as isize, false, q, 1, row3 as isize, k, row3 as isize, 1, 0.0f32, 1.0f32, false, false, false, gemm::Parallelism::None);
                for row in scores.chunks_mut(len) {
                    kernels::softmax_in_place(row);
                }
                let out = ctx_ptr.0.add(base * h + head * d);
                gemm::gemm(len, d, len, out, 1, h as isize, false, scores.as_ptr(), 1, len as isize, v, 1, row3 as isize, 0.0f32, 1.0f32, false, false, false, gemm::Parallelism::None);
            }
        });
    }
}

/// A raw pointer that rayon tasks may share (each task writes its own disjoint block).
struct SendPtr(*mut f32);
// SAFETY: used only in `attention`, where tasks write disjoint blocks.
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}

/// `y = layer_norm(y + residual)` row by row.
fn residual_norm(y: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let h = gamma.len();
    y.par_chunks_mut(h * 8).zip(residual.par_chunks(h * 8)).for_each(|(ys, rs)| {
        for (row, res) in ys.chunks_mut(h).zip(rs.chunks(h)) {
            kernels::add_layer_norm(row, res, gamma, beta, eps);
        }
    });
}

/// Row kernels, compiled for baseline x86-64, AVX2 + FMA and AVX-512 (picked at run time).
mod kernels {
    use super::Activation;

    #[inline(always)]
    fn erf(x: f32) -> f32 {
        // Rational approximation used by Eigen and XLA (float precision), clamped to [-4, 4].
        let x = x.clamp(-4.0, 4.0);
        let x2 = x * x;
        let mut p = x2 * -2.726_142_3e-10 + 2.770_681_4e-8;
        p = x2 * p + -2.101_024e-6;
        p = x2 * p + -5.692_506_4e-5;
        p = x2 * p + -7.349_906_3e-4;
        p = x2 * p + -2.954_6e-3;
        p = x2 * p + -1.609_603_3e-2;
        p *= x;
        let mut q = x2 * -1.456_607_2e-5 + -2.133_740_6e-4;
        q = x2 * q + -1.682_827e-3;
        q = x2 * q + -7.373_329e-3;
        q = x2 * q + -1.426_474e-2;
        p / q
    }

    /// `e^x` (Cephes' single-precision polynomial, ~1 ulp), written so that it vectorises:
    /// `k = round(x / ln 2)` and `2^k` come from adding 1.5 * 2^23 (the integer lands in the
    /// low mantissa bits), not from a float -> int conversion, whose saturating semantics
    /// made LLVM compute it one lane at a time.
    #[inline(always)]
    fn exp(x: f32) -> f32 {
        const SHIFT: f32 = 12_582_912.0;
        let x = x.clamp(-87.0, 88.0);
        let k = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
        let r = x - k * 0.693_359_4 - k * -2.121_944_4e-4;
        let mut p = 1.987_569_1e-4;
        p = p * r + 1.398_199_9e-3;
        p = p * r + 8.333_452e-3;
        p = p * r + 4.166_579_6e-2;
        p = p * r + 1.666_666_5e-1;
        p = p * r + 0.5;
        let e = p * r * r + r + 1.0;
        // k + 127 is in [1, 254] (x is clamped): the exponent bits of 2^k
        e * f32::from_bits((k + (SHIFT + 127.0)).to_bits() << 23)
    }

    #[inline(always)]
    fn tanh(x: f32) -> f32 {
        // tanh(x) = 1 - 2 / (exp(2x) + 1)
        let e = exp(2.0 * x.clamp(-15.0, 15.0));
        1.0 - 2.0 / (e + 1.0)
    }

    #[inline(always)]
    fn activation_generic(xs: &mut [f32], act: Activation) {
        match act {
            Activation::GeluErf => {
                for x in xs.iter_mut() {
                    *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
                }
            }
            Activation::GeluTanh => {
                for x in xs.iter_mut() {
                    let v = *x;
                    *x = 0.5 * v * (1.0 + tanh(0.797_884_6 * (v + 0.044_715 * v * v * v)));
                }
            }
            Activation::Relu => {
                for x in xs.iter_mut() {
                    *x = x.max(0.0);
                }
            }
        }
    }

    /// Sum with 16 independent lanes, so that it vectorises (a single running sum cannot:
    /// float addition is not associative).
    #[inline(always)]
    fn sum(xs: &[f32]) -> f32 {
        let mut acc = [0f32; 16];
        let chunks = xs.chunks_exact(16);
        let rest = chunks.remainder();
        for c in chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += v;
            }
        }
        acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
    }

    /// Maximum with 16 independent lanes.
    #[inline(always)]
    fn max(xs: &[f32]) -> f32 {
        let mut acc = [f32::NEG_INFINITY; 16];
        let chunks = xs.chunks_exact(16);
        let rest = chunks.remainder();
        for c in chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a = if v > *a { v } else { *a };
            }
        }
        acc.iter().chain(rest).fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m })
    }

    #[inline(always)]
    fn softmax_generic(xs: &mut [f32]) {
        let max = max(xs);
        for x in xs.iter_mut() {
            *x = exp(*x - max);
        }
        let inv = 1.0 / sum(xs);
        for x in xs.iter_mut() {
            *x *= inv;
        }
    }

    #[inline(always)]
    fn layer_norm_generic(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let n = row.len() as f32;
        let mean = sum(row) / n;
        let mut sq = [0f32; 16];
        let chunks = row.chunks_exact(16);
        let rest: f32 = chunks.remainder().iter().map(|&v| (v - mean) * (v - mean)).sum();
        for c in chunks {
            for (a, &v) in sq.iter_mut().zip(c) {
                *a += (v - mean) * (v - mean);
            }
        }
        let var = (sq.iter().sum::<f32>() + rest) / n;
        let inv = 1.0 / (var + eps).sqrt();
        for ((o, &g), &b) in row.iter_mut().zip(gamma).zip(beta) {
            *o = (*o - mean) * inv * g + b;
        }
    }

    #[inline(always)]
    fn add_layer_norm_generic(row: &mut [f32], res: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
        for (o, &r) in row.iter_mut().zip(res) {
            *o += r;
        }
        layer_norm_generic(row, gamma, beta, eps)
    }

    /// The widest vector extension this CPU has: 2 = AVX-512, 1 = AVX2 + FMA, 0 = neither.
    #[cfg(target_arch = "x86_64")]
    fn level() -> u8 {
        static LEVEL: std::sync::OnceLock<u8> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(|| {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                2
            } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                1
            } else {
                0
            }
        })
    }

    macro_rules! dispatch {
        ($(#[$doc:meta])* $name:ident, $generic:ident, ($($arg:ident: $ty:ty),*)) => {
            $(#[$doc])*
            pub fn $name($($arg: $ty),*) {
                #[cfg(target_arch = "x86_64")]
                {
                    #[target_feature(enable = "avx512f,avx2,fma")]
                    unsafe fn avx512($($arg: $ty),*) {
                        $generic($($arg),*)
                    }
                    #[target_feature(enable = "avx2,fma")]
                    unsafe fn avx2($($arg: $ty),*) {
                        $generic($($arg),*)
                    }
                    match level() {
                        // SAFETY: the CPU has these extensions (checked at run time).
                        2 => return unsafe { avx512($($arg),*) },
                        // SAFETY: as above.
                        1 => return unsafe { avx2($($arg),*) },
                        _ => {}
                    }
                }
                $generic($($arg),*)
            }
        };
    }

    dispatch!(
        /// `x = act(x)` element-wise.
        activation, activation_generic, (xs: &mut [f32], act: Activation)
    );
    dispatch!(
        /// Softmax of one row, in place.
        softmax_in_place, softmax_generic, (xs: &mut [f32])
    );
    dispatch!(
        /// Layer norm of one row, in place.
        layer_norm, layer_norm_generic, (row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32)
    );
    dispatch!(
        /// `row = layer_norm(row + res)`.
        add_layer_norm, add_layer_norm_generic, (row: &mut [f32], res: &[f32], gamma: &[f32], beta: &[f32], eps: f32)
    );

    #[cfg(test)]
    mod tests {
        #[test]
        fn erf_matches_integral() {
            let mut worst = 0f32;
            for i in -800..=800 {
                let x = i as f32 / 100.0;
                worst = worst.max((super::erf(x) - erf_ref(x)).abs());
            }
            assert!(worst < 5e-7, "worst erf error {worst}");
        }

        #[test]
        fn exp_matches_std() {
            let mut worst = 0f32;
            for i in -8700..=8800 {
                let x = i as f32 / 100.0;
                let want = x.exp();
                worst = worst.max(((super::exp(x) - want) / want).abs());
            }
            assert!(worst < 5e-7, "worst relative exp error {worst}");
        }

        #[test]
        fn softmax_sums_to_one() {
            let mut v = vec![1.0f32, 2.0, 3.0, -1e30];
            super::softmax_in_place(&mut v);
            assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            assert!(v[3] < 1e-30);
            assert!((v[2] - 0.665_240_9).abs() < 1e-6);
        }

        /// erf by Simpson integration in f64.
        fn erf_ref(x: f32) -> f32 {
            let x = x as f64;
            let steps = 20_000;
            let h = x / steps as f64;
            let mut s = 0.0;
            for k in 0..=steps {
                let t = k as f64 * h;
                let w = if k == 0 || k == steps { 1.0 } else if k % 2 == 1 { 4.0 } else { 2.0 };
                s += w * (-t * t).exp();
            }
            (s * h / 3.0 * 2.0 / std::f64::consts::PI.sqrt()) as f32
        }
    }
}
