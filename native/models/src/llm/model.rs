//! The llama / qwen2 transformer forward pass over [`QMatrix`] weights, with a KV cache.
//!
//! One path for prompts and decoding: each token's activations are quantized to 8 bits and
//! multiplied with the weights on the integer kernels of `quant.rs` (a prompt takes a tile
//! of weight rows at a time through all its tokens, so the tile stays in cache), and
//! attention is computed token by token. A token's keys, values and logits are therefore
//! the same bits whether it came in a long prompt, alone while decoding, or after a reused
//! cache prefix: a kept KV cache never changes an answer. Work is split over a [`Pool`].

use super::pool::Pool;
use crate::gguf_tokenizer::md_usize;
use super::quant::{round_f16_slice, QKind, QMatrix, QVec, QK};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::GgmlDType;
use candle_core::Device;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

/// Bytes of weights per task (a tile of rows that stays in the L1/L2 cache while every
/// token of the batch goes through it).
const TILE_BYTES: usize = 24 * 1024;

/// Architecture-specific details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// Llama family (SmolLM, Llama 2/3, TinyLlama, Mistral): interleaved rotary pairs.
    Llama,
    /// Qwen2 / Qwen2.5: q/k/v biases, rotary pairs split in halves (NeoX).
    Qwen2,
}

/// Hyper-parameters read from the GGUF metadata.
#[derive(Clone, Debug)]
pub struct Config {
    /// Architecture.
    pub arch: Arch,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Hidden size.
    pub n_embd: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Key/value heads (grouped-query attention).
    pub n_head_kv: usize,
    /// Size of one head.
    pub head_dim: usize,
    /// Feed-forward size.
    pub n_ff: usize,
    /// Vocabulary size.
    pub vocab: usize,
    /// RMS norm epsilon.
    pub eps: f32,
    /// Rotary dimensions per head.
    pub rope_dim: usize,
    /// Rotary base frequency.
    pub rope_base: f32,
}

struct Layer {
    attn_norm: Vec<f32>,
    wq: QMatrix,
    wk: QMatrix,
    wv: QMatrix,
    bq: Option<Vec<f32>>,
    bk: Option<Vec<f32>>,
    bv: Option<Vec<f32>>,
    wo: QMatrix,
    ffn_norm: Vec<f32>,
    w_gate: QMatrix,
    w_up: QMatrix,
    w_down: QMatrix,
}

/// A loaded model: weights, rotary tables and the threads that run it.
pub struct Model {
    cfg: Config,
    tok_embd: Arc<QMatrix>,
    layers: Vec<Layer>,
    out_norm: Vec<f32>,
    output: Arc<QMatrix>,
    /// `rope_base^(-2 / rope_dim)`: the ratio of one pair's frequency to the previous one's.
    theta_scale: f32,
    /// Per-pair frequency divisors (Llama 3.x `rope_freqs`; 1 otherwise).
    rope_factors: Vec<f32>,
    pool: Pool,
    converted: usize,
}

/// Keys and values of the tokens seen so far, and those tokens.
pub struct KvCache {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    kv_dim: usize,
    cap: usize,
    max: usize,
    tokens: Vec<u32>,
}

impl KvCache {
    /// Tokens whose keys and values are held.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Forgets every token after the first `n`.
    pub fn truncate(&mut self, n: usize) {
        self.tokens.truncate(n);
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.k.iter().chain(&self.v).map(|x| x.len() * 4).sum()
    }

    fn reserve(&mut self, n: usize) {
        if n <= self.cap {
            return;
        }
        let cap = n.max(self.cap * 2).max(256).min(self.max.max(n));
        for x in self.k.iter_mut().chain(self.v.iter_mut()) {
            x.resize(cap * self.kv_dim, 0.0);
        }
        self.cap = cap;
    }
}

/// A raw pointer that parallel tasks write disjoint parts through.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: every task writes a range no other task touches, and `Pool::run` returns only
// when all tasks are done.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// The pointer `i` values on (a method, so closures capture the whole `Out`).
    fn at(self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

fn with_scratch<R>(n: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < n {
            s.resize(n, 0.0);
        }
        f(&mut s[..n])
    })
}


fn md_f(m: &HashMap<String, Value>, key: &str) -> Option<f32> {
    let v = m.get(key)?;
    v.to_f32().or_else(|_| v.to_f64().map(|x| x as f32)).ok()
}

/// Reads weights from a GGUF file.
struct Loader<'a, R: Read + Seek> {
    content: &'a Content,
    reader: &'a mut R,
    requantize_q4: bool,
    converted: usize,
}

impl<R: Read + Seek> Loader<'_, R> {
    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    fn qtensor(&mut self, name: &str) -> Result<candle_core::quantized::QTensor, String> {
        let info = self.content.tensor_infos.get(name).ok_or_else(|| format!("tensor {name} is missing"))?;
        info.read(self.reader, self.content.tensor_data_offset, &Device::Cpu).map_err(|e| format!("tensor {name}: {e}"))
    }

    fn vector(&mut self, name: &str, len: usize) -> Result<Vec<f32>, String> {
        let t = self.qtensor(name)?;
        let v = t.dequantize(&Device::Cpu).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).map_err(|e| format!("tensor {name}: {e}"))?;
        if v.len() != len {
            return Err(format!("tensor {name} has {} values, expected {len}", v.len()));
        }
        Ok(v)
    }

    fn matrix(&mut self, name: &str, rows: usize, cols: usize) -> Result<QMatrix, String> {
        let info = self.content.tensor_infos.get(name).ok_or_else(|| format!("tensor {name} is missing"))?;
        let dims = info.shape.dims().to_vec();
        if dims != [rows, cols] {
            return Err(format!("tensor {name} has shape {dims:?}, expected [{rows}, {cols}]"));
        }
        let native = match info.ggml_dtype {
            GgmlDType::Q8_0 => Some(QKind::Q8_0),
            GgmlDType::Q4_0 if !self.requantize_q4 => Some(QKind::Q4_0),
            GgmlDType::Q4_1 if !self.requantize_q4 => Some(QKind::Q4_1),
            _ => None,
        };
        if let Some(kind) = native {
            // The blocks straight from the file (no intermediate tensor).
            let bytes = rows * cols / QK * kind.ggml_block_bytes();
            let at = self.content.tensor_data_offset.saturating_add(info.offset);
            let mut raw = vec![0u8; bytes];
            self.reader.seek(SeekFrom::Start(at)).and_then(|_| self.reader.read_exact(&mut raw)).map_err(|e| format!("tensor {name}: {e} (is the file cut short?)"))?;
            return QMatrix::from_ggml(kind, rows, cols, &raw).map_err(|e| format!("tensor {name}: {e}"));
        }
        let t = self.qtensor(name)?;
        // No integer kernel for this type here: Q8_0 keeps it (all 4-6 bit types and f16)
        // almost exactly.
        self.converted += 1;
        let f = t.dequantize(&Device::Cpu).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).map_err(|e| format!("tensor {name}: {e}"))?;
        QMatrix::q8_0_from_f32(rows, cols, &f).map_err(|e| format!("tensor {name}: {e}"))
    }
}

impl Model {
    /// Loads a llama or qwen2 model from parsed GGUF `content` and its `reader`.
    ///
    /// Q8_0, Q4_0 and Q4_1 matrices are used as stored (Q4 ones converted to Q8_0 when
    /// `requantize_q4`); other types are converted to Q8_0. `threads` threads run it.
    pub fn load<R: Read + Seek>(content: &Content, reader: &mut R, arch: Arch, threads: usize, requantize_q4: bool) -> Result<Model, String> {
        let md = &content.metadata;
        let a = match arch {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
        };
        let need = |k: &str| md_usize(md, &format!("{a}.{k}")).ok_or_else(|| format!("metadata {a}.{k} is missing"));
        let n_layer = need("block_count")?;
        let n_embd = need("embedding_length")?;
        let n_head = need("attention.head_count")?;
        let n_head_kv = md_usize(md, &format!("{a}.attention.head_count_kv")).unwrap_or(n_head);
        let n_ff = need("feed_forward_length")?;
        if n_head == 0 || n_head_kv == 0 || n_embd % n_head != 0 || n_head % n_head_kv != 0 {
            return Err(format!("unsupported head layout: {n_head} heads, {n_head_kv} key/value heads, width {n_embd}"));
        }
        let head_dim = md_usize(md, &format!("{a}.attention.key_length")).unwrap_or(n_embd / n_head);
        if md_usize(md, &format!("{a}.expert_count")).unwrap_or(0) > 1 {
            return Err("mixture-of-experts models are not supported".into());
        }
        let rope_dim = md_usize(md, &format!("{a}.rope.dimension_count")).unwrap_or(head_dim).min(head_dim);
        let rope_base = md_f(md, &format!("{a}.rope.freq_base")).unwrap_or(10_000.0);
        let eps = md_f(md, &format!("{a}.attention.layer_norm_rms_epsilon")).unwrap_or(1e-5);
        let mut ld = Loader { content, reader, requantize_q4, converted: 0 };
        let tok = ld.qtensor("token_embd.weight")?;
        let vocab = tok.shape().dims().first().copied().unwrap_or(0);
        drop(tok);
        let tok_embd = Arc::new(ld.matrix("token_embd.weight", vocab, n_embd)?);
        let output = if ld.has("output.weight") { Arc::new(ld.matrix("output.weight", vocab, n_embd)?) } else { tok_embd.clone() };
        let out_norm = ld.vector("output_norm.weight", n_embd)?;
        let (qd, kvd) = (n_head * head_dim, n_head_kv * head_dim);
        let mut layers = Vec::with_capacity(n_layer);
        for l in 0..n_layer {
            let p = format!("blk.{l}");
            let bias = |ld: &mut Loader<R>, n: &str, len| if ld.has(&format!("{p}.{n}.bias")) { ld.vector(&format!("{p}.{n}.bias"), len).map(Some) } else { Ok(None) };
            layers.push(Layer {
                attn_norm: ld.vector(&format!("{p}.attn_norm.weight"), n_embd)?,
                wq: ld.matrix(&format!("{p}.attn_q.weight"), qd, n_embd)?,
                wk: ld.matrix(&format!("{p}.attn_k.weight"), kvd, n_embd)?,
                wv: ld.matrix(&format!("{p}.attn_v.weight"), kvd, n_embd)?,
                bq: bias(&mut ld, "attn_q", qd)?,
                bk: bias(&mut ld, "attn_k", kvd)?,
                bv: bias(&mut ld, "attn_v", kvd)?,
                wo: ld.matrix(&format!("{p}.attn_output.weight"), n_embd, qd)?,
                ffn_norm: ld.vector(&format!("{p}.ffn_norm.weight"), n_embd)?,
                w_gate: ld.matrix(&format!("{p}.ffn_gate.weight"), n_ff, n_embd)?,
                w_up: ld.matrix(&format!("{p}.ffn_up.weight"), n_ff, n_embd)?,
                w_down: ld.matrix(&format!("{p}.ffn_down.weight"), n_embd, n_ff)?,
            });
        }
        let theta_scale = rope_base.powf(-2.0 / rope_dim as f32);
        // Llama 3.x: per-pair frequency factors (long-context scaling).
        let rope_factors = if ld.has("rope_freqs.weight") { ld.vector("rope_freqs.weight", rope_dim / 2)? } else { vec![1.0; rope_dim / 2] };
        let converted = ld.converted;
        let pool = Pool::new(threads).map_err(|e| format!("cannot start {threads} threads: {e}"))?;
        let cfg = Config { arch, n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, vocab, eps, rope_dim, rope_base };
        Ok(Model { cfg, tok_embd, layers, out_norm, output, theta_scale, rope_factors, pool, converted })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Matrices converted to Q8_0 at load.
    pub fn converted_tensors(&self) -> usize {
        self.converted
    }

    /// Bytes of weights held.
    pub fn weight_bytes(&self) -> usize {
        let l: usize = self.layers.iter().map(|l| [&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down].iter().map(|m| m.bytes()).sum::<usize>()).sum();
        l + self.tok_embd.bytes() + if Arc::ptr_eq(&self.tok_embd, &self.output) { 0 } else { self.output.bytes() }
    }

    /// Threads per parallel section.
    pub fn threads(&self) -> usize {
        self.pool.threads()
    }

    /// An empty cache for up to `max_tokens` tokens (grown as needed).
    pub fn new_cache(&self, max_tokens: usize) -> KvCache {
        let kv_dim = self.cfg.n_head_kv * self.cfg.head_dim;
        KvCache { k: vec![Vec::new(); self.cfg.n_layer], v: vec![Vec::new(); self.cfg.n_layer], kv_dim, cap: 0, max: max_tokens, tokens: Vec::new() }
    }

    /// Runs `tokens` after those already in `cache` and returns the logits of the last.
    pub fn forward(&self, cache: &mut KvCache, tokens: &[u32]) -> Result<Vec<f32>, String> {
        if tokens.is_empty() {
            return Err("no tokens".into());
        }
        if let Some(&t) = tokens.iter().find(|&&t| t as usize >= self.cfg.vocab) {
            return Err(format!("token {t} is outside the vocabulary ({})", self.cfg.vocab));
        }
        let pos = cache.tokens.len();
        cache.reserve(pos + tokens.len());
        let x = self.layers(cache, tokens, pos);
        cache.tokens.extend_from_slice(tokens);
        let mut xn = vec![0f32; self.cfg.n_embd];
        rms_norm(&x, &self.out_norm, self.cfg.eps, &mut xn);
        let mut qx = QVec::default();
        qx.quantize(&xn);
        let mut logits = vec![0f32; self.cfg.vocab];
        self.matmul(std::slice::from_ref(&qx), &mut [(&self.output, &mut logits[..])]);
        Ok(logits)
    }

    /// `Y[t] = W x[t]` for each (W, Y) and every token t (Y: tokens x W.rows()), in one
    /// parallel section: each task takes a tile of W's rows through all the tokens.
    fn matmul(&self, xs: &[QVec], jobs: &mut [(&QMatrix, &mut [f32])]) {
        let t = xs.len();
        let mut starts = [0usize; 5];
        let mut per = [0usize; 4];
        assert!(jobs.len() <= 4);
        for (i, (m, y)) in jobs.iter().enumerate() {
            assert_eq!(y.len(), t * m.rows());
            let row_bytes = m.bytes() / m.rows().max(1);
            per[i] = (TILE_BYTES / row_bytes.max(1)).clamp(4, 512);
            starts[i + 1] = starts[i] + m.rows().div_ceil(per[i]);
        }
        let n = jobs.len();
        let outs: Vec<(Out, &QMatrix)> = jobs.iter_mut().map(|(m, o)| (Out(o.as_mut_ptr()), *m)).collect();
        self.pool.run(starts[n], &|c| {
            let j = (0..n).find(|&j| c < starts[j + 1]).unwrap();
            let (out, m) = outs[j];
            let rows = m.rows();
            let r0 = (c - starts[j]) * per[j];
            let r1 = (r0 + per[j]).min(rows);
            // SAFETY: rows r0..r1 of every token's output belong to this task only.
            unsafe { m.matmul_tile(xs, r0..r1, out.at(r0), rows) };
        });
    }

    /// Rotation (cos, sin) of each pair at position `pos`. The angle is stepped from pair
    /// to pair by one multiplication, as llama.cpp does, so that rounding agrees.
    fn rope_at(&self, pos: usize, cs: &mut Vec<(f32, f32)>) {
        cs.clear();
        let mut theta = pos as f32;
        for f in &self.rope_factors {
            let th = theta / f;
            cs.push((th.cos(), th.sin()));
            theta *= self.theta_scale;
        }
    }

    /// Rotates each head of `x` (`heads` x `head_dim`).
    fn rope(&self, x: &mut [f32], heads: usize, cs: &[(f32, f32)]) {
        let hd = self.cfg.head_dim;
        let half = self.cfg.rope_dim / 2;
        for h in 0..heads {
            let v = &mut x[h * hd..(h + 1) * hd];
            for (i, &(c, s)) in cs.iter().enumerate() {
                let (a, b) = match self.cfg.arch {
                    Arch::Llama => (2 * i, 2 * i + 1),
                    Arch::Qwen2 => (i, i + half),
                };
                let (x0, x1) = (v[a], v[b]);
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }

    /// Quantizes each `width`-wide row of `x` into `qs`.
    fn quantize_rows(x: &[f32], width: usize, qs: &mut [QVec]) {
        for (row, q) in x.chunks_exact(width).zip(qs.iter_mut()) {
            q.quantize(row);
        }
    }

    /// The tokens through every block (the first at position `pos0`); returns the last
    /// token's final hidden state.
    fn layers(&self, cache: &mut KvCache, tokens: &[u32], pos0: usize) -> Vec<f32> {
        let c = &self.cfg;
        let t = tokens.len();
        let (d, hd, qd, kvd) = (c.n_embd, c.head_dim, c.n_head * c.head_dim, c.n_head_kv * c.head_dim);
        let mut x = vec![0f32; t * d];
        for (i, &tok) in tokens.iter().enumerate() {
            self.tok_embd.dequantize_rows(tok as usize, 1, &mut x[i * d..(i + 1) * d]);
        }
        let mut xn = vec![0f32; t * d];
        let (mut q, mut k, mut v) = (vec![0f32; t * qd], vec![0f32; t * kvd], vec![0f32; t * kvd]);
        let mut att = vec![0f32; t * qd];
        let mut tmp = vec![0f32; t * d];
        let (mut g, mut u) = (vec![0f32; t * c.n_ff], vec![0f32; t * c.n_ff]);
        let mut qs = vec![QVec::default(); t];
        let tables: Vec<Vec<(f32, f32)>> = (0..t)
            .map(|i| {
                let mut cs = Vec::new();
                self.rope_at(pos0 + i, &mut cs);
                cs
            })
            .collect();
        let group = c.n_head / c.n_head_kv;
        let scale = 1.0 / (hd as f32).sqrt();
        for (l, layer) in self.layers.iter().enumerate() {
            for i in 0..t {
                rms_norm(&x[i * d..(i + 1) * d], &layer.attn_norm, c.eps, &mut xn[i * d..(i + 1) * d]);
            }
            Self::quantize_rows(&xn, d, &mut qs);
            self.matmul(&qs, &mut [(&layer.wq, &mut q[..]), (&layer.wk, &mut k[..]), (&layer.wv, &mut v[..])]);
            for i in 0..t {
                let (qi, ki, vi) = (&mut q[i * qd..(i + 1) * qd], &mut k[i * kvd..(i + 1) * kvd], &mut v[i * kvd..(i + 1) * kvd]);
                add_bias(qi, layer.bq.as_deref());
                add_bias(ki, layer.bk.as_deref());
                add_bias(vi, layer.bv.as_deref());
                self.rope(qi, c.n_head, &tables[i]);
                self.rope(ki, c.n_head_kv, &tables[i]);
            }
            // Keys, values, queries and attention weights at f16 precision, as in
            // llama.cpp's default f16 KV cache (it converts the other operand to f16 too).
            let (kr, vr) = (&mut cache.k[l][pos0 * kvd..(pos0 + t) * kvd], &mut cache.v[l][pos0 * kvd..(pos0 + t) * kvd]);
            kr.copy_from_slice(&k);
            vr.copy_from_slice(&v);
            round_f16_slice(kr);
            round_f16_slice(vr);
            round_f16_slice(&mut q);
            let (kc, vc) = (&cache.k[l][..], &cache.v[l][..]);
            let out = Out(att.as_mut_ptr());
            let q = &q;
            // One task per (head, token): token i attends to cache positions 0..=pos0 + i.
            self.pool.run(c.n_head * t, &|task| {
                let (h, i) = (task % c.n_head, task / c.n_head);
                let g = h / group;
                let len = pos0 + i + 1;
                let qh = &q[i * qd + h * hd..i * qd + (h + 1) * hd];
                // SAFETY: head h of token i's attention output belongs to this task.
                let o = unsafe { std::slice::from_raw_parts_mut(out.at(i * qd + h * hd), hd) };
                with_scratch(len, |s| {
                    let mut max = f32::NEG_INFINITY;
                    for (p, s) in s.iter_mut().enumerate() {
                        *s = dot(qh, &kc[p * kvd + g * hd..p * kvd + (g + 1) * hd]) * scale;
                        max = max.max(*s);
                    }
                    let mut sum = 0f64;
                    for s in s.iter_mut() {
                        *s = (*s - max).exp();
                        sum += *s as f64;
                    }
                    o.fill(0.0);
                    let inv = (1.0 / sum) as f32;
                    for w in s.iter_mut() {
                        *w *= inv;
                    }
                    round_f16_slice(s);
                    for (p, &w) in s.iter().enumerate() {
                        axpy(w, &vc[p * kvd + g * hd..p * kvd + (g + 1) * hd], o);
                    }
                });
            });
            Self::quantize_rows(&att, qd, &mut qs);
            self.matmul(&qs, &mut [(&layer.wo, &mut tmp[..])]);
            add(&mut x, &tmp);
            for i in 0..t {
                rms_norm(&x[i * d..(i + 1) * d], &layer.ffn_norm, c.eps, &mut xn[i * d..(i + 1) * d]);
            }
            Self::quantize_rows(&xn, d, &mut qs);
            self.matmul(&qs, &mut [(&layer.w_gate, &mut g[..]), (&layer.w_up, &mut u[..])]);
            swiglu(&mut g, &u);
            Self::quantize_rows(&g, c.n_ff, &mut qs);
            self.matmul(&qs, &mut [(&layer.w_down, &mut tmp[..])]);
            add(&mut x, &tmp);
        }
        x[(t - 1) * d..].to_vec()
    }
}

fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    let ss: f64 = x.iter().map(|&v| (v as f64) * (v as f64)).sum();
    let scale = (1.0 / ((ss / x.len() as f64) as f32 + eps).sqrt()) as f32;
    for ((o, &x), &w) in out.iter_mut().zip(x).zip(w) {
        *o = x * scale * w;
    }
}

fn add_bias(x: &mut [f32], b: Option<&[f32]>) {
    if let Some(b) = b {
        add(x, b);
    }
}

fn add(x: &mut [f32], y: &[f32]) {
    for (x, y) in x.iter_mut().zip(y) {
        *x += y;
    }
}

/// `g = silu(g) * u`.
fn swiglu(g: &mut [f32], u: &[f32]) {
    for (g, u) in g.iter_mut().zip(u) {
        *g = *g / (1.0 + (-*g).exp()) * u;
    }
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums: the compiler vectorises this loop.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}
