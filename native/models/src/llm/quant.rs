//! Quantized weight matrices and their dot-product kernels.
//!
//! A [`QMatrix`] keeps a GGUF weight matrix in one of three block formats that have fast
//! integer kernels here (Q8_0, Q4_0, Q4_1: blocks of 32 weights with an f16 scale, and a
//! minimum for Q4_1), repacked at load into separate arrays of quants and scales, so the
//! kernels read contiguous runs of quants (and no more bytes than the file holds: decoding
//! a large model is bound by memory bandwidth).
//! Other GGUF types are converted to Q8_0 at load (see `model.rs`).
//!
//! A decode step multiplies each matrix by one activation vector: the vector is quantized
//! to 8 bits per 32-value block ([`QVec`], like llama.cpp's Q8_0/Q8_1 activations) and each
//! row is an integer dot product: AVX-512 VNNI (`vpdpbusd`, two blocks per instruction),
//! AVX2 (`vpmaddubsw` + `vpmaddwd`), or portable scalar code, picked once at run time
//! ([`isa`]). Prompt processing instead dequantizes row tiles to f32 for the gemm kernels
//! ([`QMatrix::dequantize_rows`]).

use std::sync::OnceLock;

/// Values per quantization block.
pub const QK: usize = 32;

/// The block format of a [`QMatrix`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QKind {
    /// 8-bit signed quants, one scale per block: `w = d * q`.
    Q8_0,
    /// 4-bit quants centred on 8: `w = d * (q - 8)`.
    Q4_0,
    /// 4-bit quants with a minimum: `w = d * q + m`.
    Q4_1,
}

impl QKind {
    /// Bytes of one block in a GGUF file.
    pub fn ggml_block_bytes(self) -> usize {
        match self {
            QKind::Q8_0 => 2 + QK,
            QKind::Q4_0 => 2 + QK / 2,
            QKind::Q4_1 => 4 + QK / 2,
        }
    }

    fn quant_bytes(self) -> usize {
        match self {
            QKind::Q8_0 => QK,
            QKind::Q4_0 | QKind::Q4_1 => QK / 2,
        }
    }
}

/// The instruction set the kernels run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512 F/BW/VL with VNNI.
    Avx512Vnni,
    /// AVX2 with FMA and F16C.
    Avx2,
    /// Portable code (any CPU).
    Scalar,
}

impl Isa {
    /// The best instruction set this CPU has (probed once per process).
    pub fn detect() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(Isa::probe)
    }

    fn probe() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vl") && is_x86_feature_detected!("avx512vnni") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c") {
                return Isa::Avx512Vnni;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c") {
                return Isa::Avx2;
            }
        }
        Isa::Scalar
    }

    /// Whether this CPU can run `self`.
    pub fn available(self) -> bool {
        match (self, Isa::detect()) {
            (Isa::Scalar, _) => true,
            (Isa::Avx2, Isa::Avx2 | Isa::Avx512Vnni) => true,
            (Isa::Avx512Vnni, Isa::Avx512Vnni) => true,
            _ => false,
        }
    }

    /// The name used by `HEKTOR_ISA` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512Vnni => "avx512vnni",
            Isa::Avx2 => "avx2",
            Isa::Scalar => "scalar",
        }
    }
}

/// The instruction set in use: [`Isa::detect`], lowered by the `HEKTOR_ISA` environment
/// variable (`avx2` or `scalar`) when it names one the CPU has (for tests and comparisons).
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let best = Isa::detect();
        match std::env::var("HEKTOR_ISA").ok().as_deref() {
            Some("scalar") => Isa::Scalar,
            Some("avx2") if Isa::Avx2.available() => Isa::Avx2,
            _ => best,
        }
    })
}

/// A quantized row-major matrix (`rows` x `cols`, `cols` a multiple of [`QK`]).
#[derive(Clone)]
pub struct QMatrix {
    kind: QKind,
    rows: usize,
    cols: usize,
    /// Quants, row after row, block after block (Q4: 16 bytes a block, low nibbles the
    /// block's first 16 values, high nibbles the last 16, as in GGUF).
    qs: Vec<u8>,
    /// One scale per block (f16 bits).
    d: Vec<u16>,
    /// One minimum per block (Q4_1 only; f16 bits).
    m: Vec<u16>,
}

impl std::fmt::Debug for QMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QMatrix({:?}, {}x{})", self.kind, self.rows, self.cols)
    }
}

fn f16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

#[inline]
fn h2f(x: u16) -> f32 {
    half::f16::from_bits(x).to_f32()
}

impl QMatrix {
    /// Repacks GGUF blocks of `kind` (`raw`: `rows * cols / 32` blocks, row-major).
    pub fn from_ggml(kind: QKind, rows: usize, cols: usize, raw: &[u8]) -> Result<QMatrix, String> {
        if cols % QK != 0 {
            return Err(format!("a row of {cols} values is not a whole number of {QK}-value blocks"));
        }
        let blocks = rows * cols / QK;
        if raw.len() != blocks * kind.ggml_block_bytes() {
            return Err(format!("{kind:?} data of {} bytes for {rows}x{cols} (expected {})", raw.len(), blocks * kind.ggml_block_bytes()));
        }
        let qb = kind.quant_bytes();
        let mut qs = Vec::with_capacity(blocks * qb);
        let mut d = Vec::with_capacity(blocks);
        let mut m = Vec::new();
        for blk in raw.chunks_exact(kind.ggml_block_bytes()) {
            d.push(f16_at(blk, 0));
            let quants = match kind {
                QKind::Q4_1 => {
                    m.push(f16_at(blk, 2));
                    &blk[4..]
                }
                _ => &blk[2..],
            };
            qs.extend_from_slice(quants);
        }
        Ok(QMatrix { kind, rows, cols, qs, d, m })
    }

    /// Quantizes an f32 matrix to Q8_0 (llama.cpp's rounding: `d = max|x| / 127`).
    pub fn q8_0_from_f32(rows: usize, cols: usize, data: &[f32]) -> Result<QMatrix, String> {
        if cols % QK != 0 {
            return Err(format!("a row of {cols} values is not a whole number of {QK}-value blocks"));
        }
        if data.len() != rows * cols {
            return Err(format!("{} values for {rows}x{cols}", data.len()));
        }
        let mut qs = vec![0u8; data.len()];
        let mut d = vec![0u16; data.len() / QK];
        for (b, (x, q)) in data.chunks_exact(QK).zip(qs.chunks_exact_mut(QK)).enumerate() {
            d[b] = half::f16::from_f32(quantize_block_q8(x, q)).to_bits();
        }
        Ok(QMatrix { kind: QKind::Q8_0, rows, cols, qs, d, m: Vec::new() })
    }

    /// The block format.
    pub fn kind(&self) -> QKind {
        self.kind
    }
    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.qs.len() + 2 * (self.d.len() + self.m.len())
    }

    fn blocks_per_row(&self) -> usize {
        self.cols / QK
    }

    /// Writes rows `r0..r0 + n` as f32 into `out` (`n * cols` values).
    pub fn dequantize_rows(&self, r0: usize, n: usize, out: &mut [f32]) {
        let nb = self.blocks_per_row();
        let qb = self.kind.quant_bytes();
        let out = &mut out[..n * self.cols];
        for (i, o) in out.chunks_exact_mut(QK).enumerate() {
            let b = r0 * nb + i;
            let d = h2f(self.d[b]);
            let q = &self.qs[b * qb..(b + 1) * qb];
            match self.kind {
                QKind::Q8_0 => {
                    for (o, &q) in o.iter_mut().zip(q) {
                        *o = d * (q as i8) as f32;
                    }
                }
                QKind::Q4_0 | QKind::Q4_1 => {
                    let (off, min) = if self.kind == QKind::Q4_0 { (8.0, 0.0) } else { (0.0, h2f(self.m[b])) };
                    for j in 0..QK / 2 {
                        o[j] = d * ((q[j] & 15) as f32 - off) + min;
                        o[j + QK / 2] = d * ((q[j] >> 4) as f32 - off) + min;
                    }
                }
            }
        }
    }

    /// `out[i] = row(rows.start + i) . x` for the quantized vector `x`.
    pub fn matvec(&self, x: &QVec, rows: std::ops::Range<usize>, out: &mut [f32]) {
        self.matvec_with(isa(), x, rows, out)
    }

    /// [`matvec`](Self::matvec) with the given instruction set (which the CPU must have).
    pub fn matvec_with(&self, isa: Isa, x: &QVec, rows: std::ops::Range<usize>, out: &mut [f32]) {
        assert_eq!(x.len, self.cols, "vector length");
        assert!(rows.end <= self.rows && out.len() >= rows.len());
        assert!(isa.available(), "{isa:?} not available");
        let nb = self.blocks_per_row();
        let qb = self.kind.quant_bytes();
        for (o, r) in out.iter_mut().zip(rows) {
            let b0 = r * nb;
            let wq = &self.qs[b0 * qb..(b0 + nb) * qb];
            let wd = &self.d[b0..b0 + nb];
            let wm = if self.kind == QKind::Q4_1 { &self.m[b0..b0 + nb] } else { &[][..] };
            // SAFETY: the slices hold `nb` blocks each and the CPU has `isa` (asserted).
            *o = unsafe { dot_row(isa, self.kind, nb, wq, wd, wm, x) };
        }
    }
}

/// `x` rounded to the nearest f16 value.
#[inline]
pub fn round_f16(x: f32) -> f32 {
    half::f16::from_f32(x).to_f32()
}

/// [`round_f16`] on every value (eight at a time with F16C; the same bits either way).
pub fn round_f16_slice(x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if isa() != Isa::Scalar {
        // SAFETY: the CPU has F16C (isa() checked it).
        return unsafe { x86::round_f16_avx2(x) };
    }
    for v in x {
        *v = round_f16(*v);
    }
}

impl QMatrix {
    /// `out[i * stride + (r - rows.start)] = row(r) . xs[i]` for every token `i` and row
    /// `r` of `rows`: four tokens at a time share each unpacked weight block. Every value
    /// is bit-for-bit what [`matvec`](Self::matvec) gives for that token alone.
    ///
    /// # Safety
    /// `out` must be valid for writes at every index above.
    pub unsafe fn matmul_tile(&self, xs: &[QVec], rows: std::ops::Range<usize>, out: *mut f32, stride: usize) {
        let isa = isa();
        assert!(rows.end <= self.rows);
        let nb = self.blocks_per_row();
        let qb = self.kind.quant_bytes();
        let mut i = 0;
        while i + 4 <= xs.len() && isa != Isa::Scalar {
            let x4 = [&xs[i], &xs[i + 1], &xs[i + 2], &xs[i + 3]];
            for x in x4 {
                assert_eq!(x.len, self.cols, "vector length");
            }
            for r in rows.clone() {
                let b0 = r * nb;
                let wq = &self.qs[b0 * qb..(b0 + nb) * qb];
                let wd = &self.d[b0..b0 + nb];
                let wm = if self.kind == QKind::Q4_1 { &self.m[b0..b0 + nb] } else { &[][..] };
                let v = dot_row_x4(isa, self.kind, nb, wq, wd, wm, x4);
                for (j, v) in v.iter().enumerate() {
                    *out.add((i + j) * stride + r - rows.start) = *v;
                }
            }
            i += 4;
        }
        for (j, x) in xs.iter().enumerate().skip(i) {
            let o = std::slice::from_raw_parts_mut(out.add(j * stride), rows.len());
            self.matvec_with(isa, x, rows.clone(), o);
        }
    }
}

/// Four tokens' dot products with one row.
///
/// # Safety
/// As [`dot_row`]; `isa` is not scalar.
unsafe fn dot_row_x4(isa: Isa, kind: QKind, nb: usize, wq: &[u8], wd: &[u16], wm: &[u16], x: [&QVec; 4]) -> [f32; 4] {
    let xq = [x[0].qs.as_ptr(), x[1].qs.as_ptr(), x[2].qs.as_ptr(), x[3].qs.as_ptr()];
    let xd = [x[0].d.as_ptr(), x[1].d.as_ptr(), x[2].d.as_ptr(), x[3].d.as_ptr()];
    let xs = [x[0].s.as_ptr(), x[1].s.as_ptr(), x[2].s.as_ptr(), x[3].s.as_ptr()];
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => x86::dot_avx512_x4(kind, nb, wq.as_ptr(), wd.as_ptr(), wm.as_ptr(), xq, xd, xs),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => x86::dot_avx2_x4(kind, nb, wq.as_ptr(), wd.as_ptr(), wm.as_ptr(), xq, xd, xs),
        _ => unreachable!("no 4-token kernel for {isa:?}"),
    }
}

/// Quantizes one block to Q8_0 quants, returning its scale.
fn quantize_block_q8(x: &[f32], q: &mut [u8]) -> f32 {
    let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    for (q, v) in q.iter_mut().zip(x) {
        *q = ((v * id).round() as i32).clamp(-127, 127) as i8 as u8;
    }
    d
}

/// An activation vector quantized to 8 bits per 32-value block (Q8_0 with the block sums
/// of Q8_1, which Q4_1's minimum needs).
#[derive(Clone, Debug, Default)]
pub struct QVec {
    len: usize,
    qs: Vec<i8>,
    d: Vec<f32>,
    /// `d * sum(q)` per block.
    s: Vec<f32>,
}

impl QVec {
    /// Quantizes `x` (its length a multiple of [`QK`]) into `self`, reusing its buffers.
    pub fn quantize(&mut self, x: &[f32]) {
        assert_eq!(x.len() % QK, 0, "vector length must be a multiple of {QK}");
        self.len = x.len();
        self.qs.resize(x.len(), 0);
        self.d.resize(x.len() / QK, 0.0);
        self.s.resize(x.len() / QK, 0.0);
        // SAFETY: i8 and u8 have the same layout.
        let qs: &mut [u8] = unsafe { std::slice::from_raw_parts_mut(self.qs.as_mut_ptr() as *mut u8, self.qs.len()) };
        for (b, (x, q)) in x.chunks_exact(QK).zip(qs.chunks_exact_mut(QK)).enumerate() {
            let d = quantize_block_q8(x, q);
            // Scales are kept at f16 precision, as llama.cpp stores them in its Q8_0/Q8_1
            // blocks: products then round the same way as there.
            self.d[b] = round_f16(d);
            self.s[b] = round_f16(d * q.iter().map(|&v| v as i8 as i32).sum::<i32>() as f32);
        }
    }

    /// Values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// One row's dot product with `x`.
///
/// # Safety
/// `wq`, `wd` (and `wm` for Q4_1) hold `nb` blocks, `x` has `nb` blocks, and the CPU has `isa`.
unsafe fn dot_row(isa: Isa, kind: QKind, nb: usize, wq: &[u8], wd: &[u16], wm: &[u16], x: &QVec) -> f32 {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => x86::dot_avx512(kind, nb, wq.as_ptr(), wd.as_ptr(), wm.as_ptr(), x.qs.as_ptr(), x.d.as_ptr(), x.s.as_ptr()),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => x86::dot_avx2(kind, nb, wq.as_ptr(), wd.as_ptr(), wm.as_ptr(), x.qs.as_ptr(), x.d.as_ptr(), x.s.as_ptr()),
        _ => dot_scalar(kind, nb, wq, wd, &x.qs, &x.d) + min_term(kind, wm, &x.s),
    }
}

/// Q4_1's `sum(m_w * d_x * sum(q_x))` part of the portable kernel, summed in block order
/// (the SIMD kernels sum it in their block loop, converting the minima with F16C).
#[inline]
fn min_term(kind: QKind, wm: &[u16], s: &[f32]) -> f32 {
    if kind != QKind::Q4_1 {
        return 0.0;
    }
    let mut sum = 0f32;
    for (&m, s) in wm.iter().zip(s) {
        sum += h2f(m) * s;
    }
    sum
}

/// The portable kernel (also the reference the SIMD kernels are tested against).
fn dot_scalar(kind: QKind, nb: usize, wq: &[u8], wd: &[u16], xq: &[i8], xd: &[f32]) -> f32 {
    let mut sum = 0f32;
    for b in 0..nb {
        let x = &xq[b * QK..(b + 1) * QK];
        let acc: i32 = match kind {
            QKind::Q8_0 => wq[b * QK..(b + 1) * QK].iter().zip(x).map(|(&w, &x)| (w as i8 as i32) * x as i32).sum(),
            QKind::Q4_0 | QKind::Q4_1 => {
                let off = if kind == QKind::Q4_0 { 8 } else { 0 };
                let q = &wq[b * 16..(b + 1) * 16];
                (0..16).map(|j| ((q[j] & 15) as i32 - off) * x[j] as i32 + ((q[j] >> 4) as i32 - off) * x[j + 16] as i32).sum()
            }
        };
        sum += h2f(wd[b]) * xd[b] * acc as f32;
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{QKind, QK};
    use std::arch::x86_64::*;

    /// One f16 scale as f32.
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn h1(p: *const u16) -> f32 {
        _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(*p as i32)))
    }


    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum256(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// 32 weights of block `b` as signed bytes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn load_w(kind: QKind, wq: *const u8, b: usize) -> __m256i {
        match kind {
            QKind::Q8_0 => _mm256_loadu_si256(wq.add(b * QK) as *const __m256i),
            QKind::Q4_0 | QKind::Q4_1 => {
                let raw = _mm_loadu_si128(wq.add(b * 16) as *const __m128i);
                let m4 = _mm_set1_epi8(15);
                let lo = _mm_and_si128(raw, m4);
                let hi = _mm_and_si128(_mm_srli_epi16(raw, 4), m4);
                let w = _mm256_set_m128i(hi, lo);
                if kind == QKind::Q4_0 {
                    _mm256_sub_epi8(w, _mm256_set1_epi8(8))
                } else {
                    w
                }
            }
        }
    }

    /// Eight i32 partial sums of `w . x` over one block.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block_dot_avx2(kind: QKind, w: __m256i, x: __m256i) -> __m256i {
        let ones = _mm256_set1_epi16(1);
        let p16 = if kind == QKind::Q4_1 {
            // Unsigned nibbles times signed activations: maddubs takes them as they are.
            _mm256_maddubs_epi16(w, x)
        } else {
            _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w))
        };
        _mm256_madd_epi16(p16, ones)
    }

    /// AVX2 kernel: `sum_b wd[b] * xd[b] * (w_b . x_b)`, blocks accumulated in order into
    /// one 8-lane sum, as llama.cpp's AVX2 kernels do (so that rounding agrees with it).
    #[target_feature(enable = "avx2,fma,f16c")]
    ///
    /// For Q4_1, `wm` and `xs` are the blocks' minima and activation sums (the minimum term
    /// is summed in the same loop, in block order); for other kinds they are not read.
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn dot_avx2(kind: QKind, nb: usize, wq: *const u8, wd: *const u16, wm: *const u16, xq: *const i8, xd: *const f32, xs: *const f32) -> f32 {
        let mut acc = _mm256_setzero_ps();
        let mut summs = 0f32;
        for b in 0..nb {
            let p = block_dot_avx2(kind, load_w(kind, wq, b), _mm256_loadu_si256(xq.add(b * QK) as *const __m256i));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(h1(wd.add(b)) * *xd.add(b)), _mm256_cvtepi32_ps(p), acc);
            if kind == QKind::Q4_1 {
                summs += h1(wm.add(b)) * *xs.add(b);
            }
        }
        hsum256(acc) + summs
    }

    /// [`dot_avx2`] for four vectors at once, each summed in exactly the same order.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn dot_avx2_x4(kind: QKind, nb: usize, wq: *const u8, wd: *const u16, wm: *const u16, xq: [*const i8; 4], xd: [*const f32; 4], xs: [*const f32; 4]) -> [f32; 4] {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut summs = [0f32; 4];
        for b in 0..nb {
            let w = load_w(kind, wq, b);
            let d = h1(wd.add(b));
            for i in 0..4 {
                let p = block_dot_avx2(kind, w, _mm256_loadu_si256(xq[i].add(b * QK) as *const __m256i));
                acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(d * *xd[i].add(b)), _mm256_cvtepi32_ps(p), acc[i]);
            }
            if kind == QKind::Q4_1 {
                let m = h1(wm.add(b));
                for i in 0..4 {
                    summs[i] += m * *xs[i].add(b);
                }
            }
        }
        let mut out = [0f32; 4];
        for i in 0..4 {
            out[i] = hsum256(acc[i]) + summs[i];
        }
        out
    }

    /// [`dot_avx512`] for four vectors at once, each summed in exactly the same order.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn dot_avx512_x4(kind: QKind, nb: usize, wq: *const u8, wd: *const u16, wm: *const u16, xq: [*const i8; 4], xd: [*const f32; 4], xs: [*const f32; 4]) -> [f32; 4] {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut summs = [0f32; 4];
        let zero = _mm512_setzero_si512();
        let mut b = 0;
        while b + 1 < nb {
            let w = load_w2(kind, wq, b);
            let neg = _mm512_movepi8_mask(w);
            let aw = if kind == QKind::Q4_1 { w } else { _mm512_abs_epi8(w) };
            let (d0, d1) = (h1(wd.add(b)), h1(wd.add(b + 1)));
            for i in 0..4 {
                let x = _mm512_loadu_si512(xq[i].add(b * QK) as *const _);
                let sx = if kind == QKind::Q4_1 { x } else { _mm512_mask_sub_epi8(x, neg, zero, x) };
                let f = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(zero, aw, sx));
                acc[i] = two_blocks(acc[i], f, d0 * *xd[i].add(b), d1 * *xd[i].add(b + 1));
            }
            if kind == QKind::Q4_1 {
                let (m0, m1) = (h1(wm.add(b)), h1(wm.add(b + 1)));
                for i in 0..4 {
                    summs[i] += m0 * *xs[i].add(b);
                    summs[i] += m1 * *xs[i].add(b + 1);
                }
            }
            b += 2;
        }
        if b < nb {
            let w = load_w(kind, wq, b);
            let d = h1(wd.add(b));
            for i in 0..4 {
                let p = block_dot_avx2(kind, w, _mm256_loadu_si256(xq[i].add(b * QK) as *const __m256i));
                acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(d * *xd[i].add(b)), _mm256_cvtepi32_ps(p), acc[i]);
                if kind == QKind::Q4_1 {
                    summs[i] += h1(wm.add(b)) * *xs[i].add(b);
                }
            }
        }
        let mut out = [0f32; 4];
        for i in 0..4 {
            out[i] = hsum256(acc[i]) + summs[i];
        }
        out
    }

    /// Adds two blocks' scaled sums (lanes 0-7 and 8-15 of `f`) to `acc`, first then second.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    unsafe fn two_blocks(acc: __m256, f: __m512, s0: f32, s1: f32) -> __m256 {
        let lo = _mm512_castps512_ps256(f);
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1));
        let acc = _mm256_fmadd_ps(_mm256_set1_ps(s0), lo, acc);
        _mm256_fmadd_ps(_mm256_set1_ps(s1), hi, acc)
    }

    /// Rounds every value to f16 precision (round to nearest even, as `half` does).
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn round_f16_avx2(x: &mut [f32]) {
        let mut chunks = x.chunks_exact_mut(8);
        for c in &mut chunks {
            let v = _mm256_loadu_ps(c.as_ptr());
            let r = _mm256_cvtph_ps(_mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v));
            _mm256_storeu_ps(c.as_mut_ptr(), r);
        }
        for v in chunks.into_remainder() {
            *v = super::round_f16(*v);
        }
    }

    /// 64 weights of blocks `b` and `b + 1` as bytes (signed, or unsigned nibbles for Q4_1).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    unsafe fn load_w2(kind: QKind, wq: *const u8, b: usize) -> __m512i {
        match kind {
            QKind::Q8_0 => _mm512_loadu_si512(wq.add(b * QK) as *const _),
            QKind::Q4_0 | QKind::Q4_1 => {
                // 32 bytes: block b's 16 then block b+1's 16.
                let raw = _mm256_loadu_si256(wq.add(b * 16) as *const __m256i);
                let m4 = _mm256_set1_epi8(15);
                let lo = _mm256_and_si256(raw, m4); // [b lo | b+1 lo]
                let hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4); // [b hi | b+1 hi]
                let v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); // [b lo, b+1 lo, b hi, b+1 hi]
                let v = _mm512_shuffle_i64x2(v, v, 0b11_01_10_00); // [b lo, b hi, b+1 lo, b+1 hi]
                if kind == QKind::Q4_0 {
                    _mm512_sub_epi8(v, _mm512_set1_epi8(8))
                } else {
                    v
                }
            }
        }
    }

    /// AVX-512 VNNI kernel: two blocks per `vpdpbusd`, their sums added in block order to
    /// one 8-lane accumulator like [`dot_avx2`] (the same bits).
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn dot_avx512(kind: QKind, nb: usize, wq: *const u8, wd: *const u16, wm: *const u16, xq: *const i8, xd: *const f32, xs: *const f32) -> f32 {
        let mut acc = _mm256_setzero_ps();
        let mut summs = 0f32;
        let zero = _mm512_setzero_si512();
        let mut b = 0;
        while b + 1 < nb {
            let w = load_w2(kind, wq, b);
            let x = _mm512_loadu_si512(xq.add(b * QK) as *const _);
            let p = if kind == QKind::Q4_1 {
                _mm512_dpbusd_epi32(zero, w, x)
            } else {
                // |w| (unsigned) times x with w's sign.
                let neg = _mm512_movepi8_mask(w);
                _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(w), _mm512_mask_sub_epi8(x, neg, zero, x))
            };
            acc = two_blocks(acc, _mm512_cvtepi32_ps(p), h1(wd.add(b)) * *xd.add(b), h1(wd.add(b + 1)) * *xd.add(b + 1));
            if kind == QKind::Q4_1 {
                summs += h1(wm.add(b)) * *xs.add(b);
                summs += h1(wm.add(b + 1)) * *xs.add(b + 1);
            }
            b += 2;
        }
        if b < nb {
            let p = block_dot_avx2(kind, load_w(kind, wq, b), _mm256_loadu_si256(xq.add(b * QK) as *const __m256i));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(h1(wd.add(b)) * *xd.add(b)), _mm256_cvtepi32_ps(p), acc);
            if kind == QKind::Q4_1 {
                summs += h1(wm.add(b)) * *xs.add(b);
            }
        }
        hsum256(acc) + summs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
    }

    /// GGUF bytes of random blocks of `kind`.
    fn random_ggml(kind: QKind, blocks: usize, seed: &mut u64) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..blocks {
            out.extend_from_slice(&half::f16::from_f32(lcg(seed).abs() * 0.1 + 0.01).to_le_bytes());
            if kind == QKind::Q4_1 {
                out.extend_from_slice(&half::f16::from_f32(lcg(seed) * 0.1).to_le_bytes());
            }
            for _ in 0..kind.quant_bytes() {
                out.push((lcg(seed) * 1000.0) as i32 as u8);
            }
        }
        out
    }

    /// Every kernel on this CPU agrees with the f32 dot product of the dequantized row and
    /// the dequantized vector (the rounding is the activation's 8-bit quantization only).
    #[test]
    fn kernels_match_dequantized_reference() {
        let mut seed = 7u64;
        for kind in [QKind::Q8_0, QKind::Q4_0, QKind::Q4_1] {
            for cols in [32usize, 64, 96, 576, 1536] {
                let rows = 5;
                let m = QMatrix::from_ggml(kind, rows, cols, &random_ggml(kind, rows * cols / QK, &mut seed)).unwrap();
                let x: Vec<f32> = (0..cols).map(|_| lcg(&mut seed)).collect();
                let mut qx = QVec::default();
                qx.quantize(&x);
                let xq: Vec<f32> = qx.qs.iter().enumerate().map(|(i, &q)| q as f32 * qx.d[i / QK]).collect();
                let mut w = vec![0f32; rows * cols];
                m.dequantize_rows(0, rows, &mut w);
                for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512Vnni] {
                    if !isa.available() {
                        eprintln!("{isa:?} not on this CPU: not tested here");
                        continue;
                    }
                    let mut out = vec![0f32; rows];
                    m.matvec_with(isa, &qx, 0..rows, &mut out);
                    for r in 0..rows {
                        let want: f32 = w[r * cols..(r + 1) * cols].iter().zip(&xq).map(|(a, b)| a * b).sum();
                        let scale: f32 = w[r * cols..(r + 1) * cols].iter().zip(&xq).map(|(a, b)| (a * b).abs()).sum::<f32>() + 1e-6;
                        assert!((out[r] - want).abs() / scale < 1e-4, "{kind:?} {isa:?} cols {cols} row {r}: {} vs {want}", out[r]);
                    }
                }
            }
        }
    }

    /// The 4-token tile gives exactly the bits of one-token products.
    #[test]
    fn tiles_match_single_products_exactly() {
        let mut seed = 11u64;
        for kind in [QKind::Q8_0, QKind::Q4_0, QKind::Q4_1] {
            for cols in [32usize, 96, 576] {
                let rows = 7;
                let m = QMatrix::from_ggml(kind, rows, cols, &random_ggml(kind, rows * cols / QK, &mut seed)).unwrap();
                let xs: Vec<QVec> = (0..9)
                    .map(|_| {
                        let x: Vec<f32> = (0..cols).map(|_| lcg(&mut seed)).collect();
                        let mut q = QVec::default();
                        q.quantize(&x);
                        q
                    })
                    .collect();
                let mut tile = vec![0f32; xs.len() * 5];
                // SAFETY: 9 tokens x stride 5 values.
                unsafe { m.matmul_tile(&xs, 2..7, tile.as_mut_ptr(), 5) };
                for (i, x) in xs.iter().enumerate() {
                    let mut one = vec![0f32; 5];
                    m.matvec(x, 2..7, &mut one);
                    assert_eq!(one, tile[i * 5..(i + 1) * 5], "{kind:?} cols {cols} token {i}");
                }
            }
        }
    }

    /// The vector f16 rounding gives the bits of the scalar one, specials included.
    #[test]
    fn f16_rounding_agrees() {
        let mut seed = 5u64;
        let mut x: Vec<f32> = (0..1000).map(|i| lcg(&mut seed) * 10f32.powi(i % 12 - 6)).collect();
        x.extend([0.0, -0.0, 65504.0, 65520.0, 1e9, -1e9, 6e-8, 3e-8, f32::INFINITY, f32::MIN_POSITIVE]);
        let want: Vec<u32> = x.iter().map(|&v| round_f16(v).to_bits()).collect();
        round_f16_slice(&mut x);
        assert_eq!(x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want);
    }

    /// Q8_0 quantization keeps each value within half a step.
    #[test]
    fn q8_0_round_trip() {
        let mut seed = 3u64;
        let x: Vec<f32> = (0..256).map(|_| lcg(&mut seed) * 3.0).collect();
        let m = QMatrix::q8_0_from_f32(2, 128, &x).unwrap();
        let mut back = vec![0f32; 256];
        m.dequantize_rows(0, 2, &mut back);
        for (b, (a, y)) in x.chunks(QK).zip(back.chunks(QK)).enumerate() {
            let step = h2f(m.d[b]);
            for (a, y) in a.iter().zip(y) {
                // Half a step, plus the f16 rounding of the scale (up to 127 steps away).
                assert!((a - y).abs() <= step * 0.5 + 127.0 * step / 1024.0 + 1e-6);
            }
        }
        assert!(QMatrix::q8_0_from_f32(1, 33, &[0.0; 33]).is_err());
        assert!(QMatrix::from_ggml(QKind::Q4_0, 1, 32, &[0; 5]).is_err());
    }
}
