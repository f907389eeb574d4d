//! Int8 dense layers for the encoder: `y = x · w + b` with `w` quantized once at load and `x`
//! quantized row by row at run time, the products summed in 32-bit integers by AVX-512 VNNI
//! (`vpdpbusd`: 64 multiply-adds of u8 x i8 per instruction, four times the f32 rate).
//!
//! - weights: symmetric, one scale per output column, `i8` in `[-127, 127]`, packed in panels
//!   of 64 columns so that one k-group of a panel is 256 contiguous bytes;
//! - activations: asymmetric per row (`u8`, a scale and a zero point, zero exactly
//!   representable), which keeps the mostly non-negative GELU outputs at 8 bits;
//! - `y[r][j] = sx[r] · sw[j] · (Σ xq·wq − zp[r] · Σ_k wq[k][j]) + b[j]`, exact in the integer part.
//!
//! The kernel needs AVX-512 F + BW + VNNI, checked at run time ([`available`]); without them
//! the encoder keeps its f32 products (AVX2 has no u8 x i8 product that cannot saturate at 8
//! bits). `QLinear::forward_reference` (tests) computes the same integers in plain Rust, the
//! yardstick of the tests.

use rayon::prelude::*;

/// Output columns per panel (four 16-lane blocks).
const PANEL: usize = 64;
/// Rows per micro-kernel call (6 x 4 accumulators + 4 weights + 1 broadcast of 32 registers).
const MR: usize = 6;
/// Rows per rayon task (a multiple of `MR`), so that a panel's weights are reused from L1/L2.
const ROWS_PER_TASK: usize = MR * 8;

/// Whether this CPU runs the int8 kernel (AVX-512 F, BW and VNNI).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *OK.get_or_init(|| is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vnni"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A dense layer with int8 weights.
pub(crate) struct QLinear {
    /// Input size, and padded to a multiple of 4.
    k: usize,
    kp: usize,
    /// Output size, and padded to a multiple of `PANEL`.
    n: usize,
    np: usize,
    /// `[np / 64][kp / 4][4 blocks][16 columns][4 k]`.
    packed: Vec<i8>,
    /// Per column: weight scale, sum of the quantized weights, bias.
    scale: Vec<f32>,
    colsum: Vec<i32>,
    bias: Vec<f32>,
    /// Per input channel: `1 / s[k]`, the smoothing factor divided out of the activations
    /// (and multiplied into the weights' row `k`); empty when not smoothed.
    inv_smooth: Vec<f32>,
}

/// Rows of activations quantized to u8 (`[rows][kp]`), with each row's scale and zero point.
struct QRows {
    q: Vec<u8>,
    scale: Vec<f32>,
    zero: Vec<i32>,
}

impl QLinear {
    /// Quantizes `w` (`[k][n]` row-major, input-major as the f32 layer stores it) and keeps `b`.
    ///
    /// With `act_max` (the largest `|x[k]|` of each input channel seen on calibration text),
    /// the layer is smoothed first (SmoothQuant, alpha 0.5): channel `k` of the activations
    /// is divided by `s[k] = sqrt(act_max[k] / w_max[k])` and row `k` of the weights
    /// multiplied by it, an identity in exact arithmetic that moves the few outlier channels
    /// of BERT's layer-norm outputs into the weights, where per-column scales absorb them.
    pub fn new(w: &[f32], b: &[f32], k: usize, n: usize, act_max: Option<&[f32]>) -> QLinear {
        assert_eq!(w.len(), k * n, "weight size");
        assert_eq!(b.len(), n, "bias size");
        let kp = k.div_ceil(4) * 4;
        let np = n.div_ceil(PANEL) * PANEL;
        let mut inv_smooth = Vec::new();
        let smoothed;
        let w = match act_max {
            Some(a) => {
                assert_eq!(a.len(), k, "activation maxima size");
                let mut ws = w.to_vec();
                for (kk, row) in ws.chunks_mut(n).enumerate() {
                    let wmax = row.iter().fold(0f32, |m, v| m.max(v.abs()));
                    let sk = if a[kk] > 0.0 && wmax > 0.0 { (a[kk] / wmax).sqrt().clamp(1e-3, 1e3) } else { 1.0 };
                    row.iter_mut().for_each(|v| *v *= sk);
                    inv_smooth.push(1.0 / sk);
                }
                smoothed = ws;
                &smoothed[..]
            }
            None => w,
        };
        let mut scale = vec![0f32; n];
        for row in w.chunks(n) {
            for (s, &v) in scale.iter_mut().zip(row) {
                *s = s.max(v.abs());
            }
        }
        for s in &mut scale {
            *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
        }
        let mut packed = vec![0i8; np * kp];
        let mut colsum = vec![0i32; n];
        for kk in 0..k {
            for j in 0..n {
                let q = (w[kk * n + j] / scale[j]).round().clamp(-127.0, 127.0) as i8;
                colsum[j] += q as i32;
                let (panel, block, col) = (j / PANEL, (j % PANEL) / 16, j % 16);
                let at = ((panel * (kp / 4) + kk / 4) * 4 + block) * 64 + col * 4 + kk % 4;
                packed[at] = q;
            }
        }
        QLinear { k, kp, n, np, packed, scale, colsum, bias: b.to_vec(), inv_smooth }
    }

    /// Quantizes each row of `x` (`rows x k`): asymmetric u8 over `[min(x, 0), max(x, 0)]`.
    fn quantize_rows(&self, x: &[f32], rows: usize) -> QRows {
        let (k, kp) = (self.k, self.kp);
        let mut out = QRows { q: vec![0u8; rows * kp], scale: vec![1.0; rows], zero: vec![0; rows] };
        out.q
            .par_chunks_mut(kp * 16)
            .zip(out.scale.par_chunks_mut(16))
            .zip(out.zero.par_chunks_mut(16))
            .zip(x.par_chunks(k * 16))
            .for_each(|(((q, s), z), x)| {
                for (((q, s), z), x) in q.chunks_mut(kp).zip(s).zip(z).zip(x.chunks(k)) {
                    quantize_row(x, &self.inv_smooth, q, s, z);
                }
            });
        out
    }

    /// `x · w + b` for `rows` rows of `x` (`rows x k`), into `y` (resized to `rows x n`),
    /// on the int8 kernel. The caller checks [`available`] first.
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut Vec<f32>) {
        assert!(available(), "the int8 kernel needs AVX-512 VNNI");
        assert_eq!(x.len(), rows * self.k, "int8 linear input size");
        // every element is written below: no need to clear a buffer of the right size
        y.resize(rows * self.n, 0.0);
        if rows == 0 {
            return;
        }
        let qx = self.quantize_rows(x, rows);
        let n = self.n;
        y.par_chunks_mut(ROWS_PER_TASK * n).enumerate().for_each(|(t, ys)| {
            let r0 = t * ROWS_PER_TASK;
            let nrows = ys.len() / n;
            for panel in 0..self.np / PANEL {
                let mut r = 0;
                while r < nrows {
                    let mr = (nrows - r).min(MR);
                    // SAFETY: `available()` holds (asserted above); the pointers address rows
                    // r0 + r .. r0 + r + mr of `qx` and `ys`, and panel `panel` of `packed`,
                    // all in bounds by construction.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        vnni::panel_rows(self, &qx, r0 + r, mr, panel, ys[r * n..].as_mut_ptr());
                    }
                    r += mr;
                }
            }
        });
    }

    /// The same result as [`forward`](Self::forward) computed in plain Rust (integer sums,
    /// then the same scaling): the reference the kernel is tested against.
    #[cfg(test)]
    pub fn forward_reference(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let qx = self.quantize_rows(x, rows);
        let mut y = vec![0f32; rows * self.n];
        for r in 0..rows {
            let xr = &qx.q[r * self.kp..(r + 1) * self.kp];
            for j in 0..self.n {
                let (panel, block, col) = (j / PANEL, (j % PANEL) / 16, j % 16);
                let mut acc = 0i32;
                for kk in 0..self.kp {
                    let at = ((panel * (self.kp / 4) + kk / 4) * 4 + block) * 64 + col * 4 + kk % 4;
                    acc += xr[kk] as i32 * self.packed[at] as i32;
                }
                let v = (acc - qx.zero[r] * self.colsum[j]) as f32;
                y[r * self.n + j] = v * (qx.scale[r] * self.scale[j]) + self.bias[j];
            }
        }
        y
    }
}

/// One row to u8: scale `(max - min) / 255` over `[min(x, 0), max(x, 0)]`, zero point
/// `-min / scale`; `x` is first multiplied by `inv` channel by channel when `inv` is not empty.
fn quantize_row(x: &[f32], inv: &[f32], q: &mut [u8], scale: &mut f32, zero: &mut i32) {
    #[cfg(target_arch = "x86_64")]
    if available() {
        // SAFETY: the CPU has AVX-512 (checked by `available`).
        return unsafe { quantize_row_avx512(x, inv, q, scale, zero) };
    }
    quantize_row_generic(x, inv, q, scale, zero)
}

/// [`quantize_row_generic`] in AVX-512 intrinsics: the same operations in the same order
/// (multiply, multiply, add, clamp, add 0.5, truncate), so the same bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_row_avx512(x: &[f32], inv: &[f32], q: &mut [u8], scale: &mut f32, zero: &mut i32) {
    use std::arch::x86_64::*;
    let n = x.len();
    let smooth = !inv.is_empty();
    assert!(q.len() >= n && (!smooth || inv.len() >= n));
    let load = |i: usize, mask: __mmask16| {
        // SAFETY: lanes at or past `n` are masked off.
        unsafe {
            let v = _mm512_maskz_loadu_ps(mask, x.as_ptr().add(i));
            if smooth {
                _mm512_mul_ps(v, _mm512_maskz_loadu_ps(mask, inv.as_ptr().add(i)))
            } else {
                v
            }
        }
    };
    let mask_at = |i: usize| -> __mmask16 { if n - i >= 16 { 0xffff } else { (1u16 << (n - i)) - 1 } };
    // masked-off lanes load 0, which the range includes anyway
    let (mut lo, mut hi) = (_mm512_setzero_ps(), _mm512_setzero_ps());
    let mut i = 0;
    while i < n {
        let v = load(i, mask_at(i));
        lo = _mm512_min_ps(lo, v);
        hi = _mm512_max_ps(hi, v);
        i += 16;
    }
    let (lo, hi) = (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
    let Some((s, zp)) = affine(lo, hi, scale, zero) else {
        q.fill(0);
        return;
    };
    let inv_s = _mm512_set1_ps(1.0 / s);
    let (zpv, top, half) = (_mm512_set1_ps(zp), _mm512_set1_ps(255.0), _mm512_set1_ps(0.5));
    let mut i = 0;
    while i < n {
        let m = mask_at(i);
        let v = _mm512_add_ps(_mm512_mul_ps(load(i, m), inv_s), zpv);
        let v = _mm512_add_ps(_mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), top), half);
        _mm512_mask_cvtepi32_storeu_epi8(q.as_mut_ptr().add(i) as *mut _, m, _mm512_cvttps_epi32(v));
        i += 16;
    }
}

/// Written so that it vectorises (16 lanes of min / max; rounding as `+ 0.5` then truncation
/// of a value clamped to `[0, 255]`, the same in every build).
#[inline(always)]
fn quantize_row_generic(x: &[f32], inv: &[f32], q: &mut [u8], scale: &mut f32, zero: &mut i32) {
    let smooth = !inv.is_empty();
    let at = |i: usize| if smooth { x[i] * inv[i] } else { x[i] };
    let (mut lo, mut hi) = ([0f32; 16], [0f32; 16]);
    let full = x.len() / 16 * 16;
    for c in (0..full).step_by(16) {
        for i in 0..16 {
            let v = at(c + i);
            lo[i] = if v < lo[i] { v } else { lo[i] };
            hi[i] = if v > hi[i] { v } else { hi[i] };
        }
    }
    let (mut lo, mut hi) = (lo.iter().fold(0f32, |m, &v| if v < m { v } else { m }), hi.iter().fold(0f32, |m, &v| if v > m { v } else { m }));
    for i in full..x.len() {
        let v = at(i);
        lo = if v < lo { v } else { lo };
        hi = if v > hi { v } else { hi };
    }
    let Some((s, zp)) = affine(lo, hi, scale, zero) else {
        q.fill(0);
        return;
    };
    let inv_s = 1.0 / s;
    for (i, o) in q[..x.len()].iter_mut().enumerate() {
        *o = ((at(i) * inv_s + zp).clamp(0.0, 255.0) + 0.5) as u8;
    }
    // padding columns (k..kp) stay 0: their weights are 0 too
}

/// The u8 affine parameters of values in `[lo, hi]`: writes `scale` and `zero` and returns
/// them as f32, or None (scale 1, zero 0) when the range is empty or not finite (the row
/// then quantizes to all zeros). Shared by the AVX-512 and generic row quantizers.
#[inline(always)]
fn affine(lo: f32, hi: f32, scale: &mut f32, zero: &mut i32) -> Option<(f32, f32)> {
    let range = hi - lo;
    if !(range > f32::MIN_POSITIVE && range.is_finite()) {
        *scale = 1.0;
        *zero = 0;
        return None;
    }
    let s = range / 255.0;
    let zp = ((-lo / s) + 0.5).floor().clamp(0.0, 255.0);
    *scale = s;
    *zero = zp as i32;
    Some((s, zp))
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{QLinear, QRows, MR, PANEL};
    use std::arch::x86_64::*;

    /// Rows `r .. r + mr` (mr <= MR) of `qx` times panel `panel`, written to `y` (row
    /// stride `lin.n`, first row at `y`).
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VNNI; `r + mr <= rows of qx`; `y` holds `mr` rows.
    pub(super) unsafe fn panel_rows(lin: &QLinear, qx: &QRows, r: usize, mr: usize, panel: usize, y: *mut f32) {
        // SAFETY: forwarded from the caller.
        unsafe {
            match mr {
                6 => kernel::<6>(lin, qx, r, panel, y),
                5 => kernel::<5>(lin, qx, r, panel, y),
                4 => kernel::<4>(lin, qx, r, panel, y),
                3 => kernel::<3>(lin, qx, r, panel, y),
                2 => kernel::<2>(lin, qx, r, panel, y),
                _ => kernel::<1>(lin, qx, r, panel, y),
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn kernel<const R: usize>(lin: &QLinear, qx: &QRows, r: usize, panel: usize, y: *mut f32) {
        const { assert!(R <= MR) };
        let kp = lin.kp;
        let groups = kp / 4;
        let w = lin.packed.as_ptr().add(panel * groups * 256);
        let a = qx.q.as_ptr().add(r * kp);
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        for g in 0..groups {
            let wg = w.add(g * 256);
            let w0 = _mm512_loadu_si512(wg as *const _);
            let w1 = _mm512_loadu_si512(wg.add(64) as *const _);
            let w2 = _mm512_loadu_si512(wg.add(128) as *const _);
            let w3 = _mm512_loadu_si512(wg.add(192) as *const _);
            for (i, acc) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_epi32((a.add(i * kp + g * 4) as *const i32).read_unaligned());
                acc[0] = _mm512_dpbusd_epi32(acc[0], x, w0);
                acc[1] = _mm512_dpbusd_epi32(acc[1], x, w1);
                acc[2] = _mm512_dpbusd_epi32(acc[2], x, w2);
                acc[3] = _mm512_dpbusd_epi32(acc[3], x, w3);
            }
        }
        let n = lin.n;
        for (i, acc) in acc.iter().enumerate() {
            let zp = _mm512_set1_epi32(qx.zero[r + i]);
            let sx = _mm512_set1_ps(qx.scale[r + i]);
            for (b, &acc) in acc.iter().enumerate() {
                let j = panel * PANEL + b * 16;
                if j >= n {
                    break;
                }
                let left = (n - j).min(16);
                let mask: __mmask16 = if left == 16 { 0xffff } else { (1u16 << left) - 1 };
                let colsum = _mm512_maskz_loadu_epi32(mask, lin.colsum.as_ptr().add(j));
                let sw = _mm512_maskz_loadu_ps(mask, lin.scale.as_ptr().add(j));
                let bias = _mm512_maskz_loadu_ps(mask, lin.bias.as_ptr().add(j));
                let v = _mm512_sub_epi32(acc, _mm512_mullo_epi32(zp, colsum));
                let out = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(sx, sw), bias);
                _mm512_mask_storeu_ps(y.add(i * n + j), mask, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random matrix in [-scale, scale].
    fn matrix(len: usize, seed: u64, scale: f32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    fn f32_reference(x: &[f32], w: &[f32], b: &[f32], rows: usize, k: usize, n: usize) -> Vec<f32> {
        let mut y = vec![0f32; rows * n];
        for r in 0..rows {
            for j in 0..n {
                y[r * n + j] = b[j] + (0..k).map(|kk| x[r * k + kk] as f64 * w[kk * n + j] as f64).sum::<f64>() as f32;
            }
        }
        y
    }

    #[test]
    fn reference_is_close_to_f32() {
        // odd sizes: padding of k (to 4) and n (to 64) on every side
        let (rows, k, n) = (13, 70, 83);
        let (x, w, b) = (matrix(rows * k, 1, 2.0), matrix(k * n, 2, 0.1), matrix(n, 3, 0.5));
        let q = QLinear::new(&w, &b, k, n, None);
        let got = q.forward_reference(&x, rows);
        let want = f32_reference(&x, &w, &b, rows, k, n);
        let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let mag = want.iter().map(|v| v.abs()).fold(0f32, f32::max);
        assert!(err < 0.02 * mag, "int8 error {err} vs magnitude {mag}");
    }

    #[test]
    fn kernel_matches_the_reference() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI (the encoder keeps f32 here)");
            return;
        }
        for &(rows, k, n) in &[(1, 4, 1), (7, 384, 384), (61, 384, 1152), (50, 1536, 384), (13, 70, 83), (200, 36, 130)] {
            let (x, w, b) = (matrix(rows * k, 4, 3.0), matrix(k * n, 5, 0.2), matrix(n, 6, 1.0));
            // every other case smoothed, with made-up channel maxima
            let act_max: Vec<f32> = (0..k).map(|c| 0.5 + (c % 7) as f32).collect();
            let q = QLinear::new(&w, &b, k, n, (rows % 2 == 1).then_some(&act_max[..]));
            let mut got = Vec::new();
            q.forward(&x, rows, &mut got);
            let want = q.forward_reference(&x, rows);
            assert_eq!(got.len(), want.len());
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "({rows}, {k}, {n}) [{i}]: kernel {a} vs reference {b}");
            }
        }
    }

    #[test]
    fn smoothing_keeps_the_product_and_tames_an_outlier_channel() {
        let (rows, k, n) = (20, 64, 64);
        let mut x = matrix(rows * k, 8, 0.5);
        for r in 0..rows {
            x[r * k + 5] = 40.0 * if r % 2 == 0 { 1.0 } else { -1.0 }; // an outlier channel
        }
        let (w, b) = (matrix(k * n, 9, 0.1), vec![0f32; n]);
        let want = f32_reference(&x, &w, &b, rows, k, n);
        let act_max: Vec<f32> = (0..k).map(|c| (0..rows).map(|r| x[r * k + c].abs()).fold(0f32, f32::max)).collect();
        let err = |got: &[f32]| got.iter().zip(&want).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
        let plain = err(&QLinear::new(&w, &b, k, n, None).forward_reference(&x, rows));
        let smooth = err(&QLinear::new(&w, &b, k, n, Some(&act_max)).forward_reference(&x, rows));
        assert!(smooth < plain * 0.7, "smoothed error {smooth} vs plain {plain}");
    }

    #[test]
    fn avx512_row_quantizer_gives_the_generic_bytes() {
        if !available() {
            eprintln!("skipped: no AVX-512 VNNI here");
            return;
        }
        for (len, seed) in [(1, 1), (15, 2), (16, 3), (17, 4), (384, 5), (1536, 6), (70, 7)] {
            let x = matrix(len, seed, 3.0);
            let inv: Vec<f32> = (0..len).map(|c| 1.0 / (0.5 + (c % 5) as f32)).collect();
            for inv in [&[][..], &inv[..]] {
                let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
                let (mut sa, mut sb, mut za, mut zb) = (0f32, 0f32, 0i32, 0i32);
                quantize_row_generic(&x, inv, &mut a, &mut sa, &mut za);
                // SAFETY: AVX-512 checked above.
                unsafe { quantize_row_avx512(&x, inv, &mut b, &mut sb, &mut zb) };
                assert_eq!((sa, za), (sb, zb), "len {len}");
                assert_eq!(a, b, "len {len}");
            }
        }
    }

    #[test]
    fn constant_and_zero_rows_quantize_exactly() {
        let (k, n) = (8, 64);
        let w = matrix(k * n, 7, 0.3);
        let b = vec![0.25f32; n];
        let q = QLinear::new(&w, &b, k, n, None);
        let x = vec![0f32; 2 * k];
        let y = q.forward_reference(&x, 2);
        assert!(y.iter().all(|&v| v == 0.25), "zero rows give the bias");
    }
}
