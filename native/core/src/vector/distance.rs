//! Distance kernels with runtime SIMD dispatch.
//!
//! The prebuilt addon must run on any x86-64 CPU, so nothing here is compiled with
//! `target-cpu=native`: the best kernel (AVX-512F, AVX2+FMA, NEON or portable scalar)
//! is picked once, on first use, with `is_x86_feature_detected!`, and called through
//! a function pointer afterwards.

use std::sync::OnceLock;

/// The distance metric of a collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Cosine distance `1 - cos(a, b)`. Vectors are L2-normalised on insert, so the
    /// index computes `1 - dot`.
    Cosine,
    /// Squared Euclidean distance.
    L2,
    /// Negative inner product (maximum inner product search).
    Dot,
}

impl Metric {
    /// Parses `"cosine" | "l2" | "dot"` (also `"euclidean"`, `"ip"`).
    pub fn parse(s: &str) -> Option<Metric> {
        match s.to_ascii_lowercase().as_str() {
            "cosine" | "cos" => Some(Metric::Cosine),
            "l2" | "euclidean" => Some(Metric::L2),
            "dot" | "ip" | "inner_product" => Some(Metric::Dot),
            _ => None,
        }
    }
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::L2 => "l2",
            Metric::Dot => "dot",
        }
    }
    /// Distance between two vectors already in index form (normalised for cosine).
    #[inline]
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Metric::Cosine => 1.0 - dot(a, b),
            Metric::L2 => l2sq(a, b),
            Metric::Dot => -dot(a, b),
        }
    }
    /// The user-facing similarity score for a distance: higher is better.
    /// cosine: `1 - d` (the cosine), dot: `-d` (the inner product), l2: `1 / (1 + d)`.
    #[inline]
    pub fn score(self, distance: f32) -> f32 {
        match self {
            Metric::Cosine => 1.0 - distance,
            Metric::Dot => -distance,
            Metric::L2 => 1.0 / (1.0 + distance),
        }
    }
}

type Kernel = unsafe fn(&[f32], &[f32]) -> f32;
type KernelU8 = unsafe fn(&[f32], &[u8]) -> f32;

struct Kernels {
    dot: Kernel,
    l2sq: Kernel,
    dot_u8: KernelU8,
    name: &'static str,
}

static KERNELS: OnceLock<Kernels> = OnceLock::new();

fn kernels() -> &'static Kernels {
    KERNELS.get_or_init(select)
}

#[allow(unreachable_code)]
fn select() -> Kernels {
    #[cfg(target_arch = "x86_64")]
    {
        if std::env::var_os("HEKTOR_NO_SIMD").is_none() {
            if is_x86_feature_detected!("avx512f") {
                return Kernels { dot: x86::dot_avx512, l2sq: x86::l2sq_avx512, dot_u8: x86::dot_u8_avx512, name: "avx512f" };
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Kernels { dot: x86::dot_avx2, l2sq: x86::l2sq_avx2, dot_u8: x86::dot_u8_avx2, name: "avx2+fma" };
            }
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        return Kernels { dot: neon::dot, l2sq: neon::l2sq, dot_u8: neon::dot_u8, name: "neon" };
    }
    Kernels { dot: scalar_dot, l2sq: scalar_l2sq, dot_u8: scalar_dot_u8, name: "scalar" }
}

/// Name of the kernel family in use (`"avx2+fma"`, `"avx512f"`, `"neon"`, `"scalar"`).
pub fn simd_level() -> &'static str {
    kernels().name
}

/// Inner product of two equal-length slices.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    // SAFETY: the kernel was selected for features this CPU has; slices are length-checked.
    unsafe { (kernels().dot)(&a[..n], &b[..n]) }
}

/// Squared Euclidean distance of two equal-length slices.
#[inline]
pub fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    // SAFETY: as in `dot`.
    unsafe { (kernels().l2sq)(&a[..n], &b[..n]) }
}

/// Inner product of `f32` weights with `u8` codes (the scalar-quantized distance's core:
/// see [`super::quant`]).
#[inline]
pub fn dot_u8(w: &[f32], c: &[u8]) -> f32 {
    debug_assert_eq!(w.len(), c.len());
    let n = w.len().min(c.len());
    // SAFETY: as in `dot`.
    unsafe { (kernels().dot_u8)(&w[..n], &c[..n]) }
}

/// L2 norm.
#[inline]
pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// Scales `v` to unit length in place; returns false (and leaves `v`) when its norm is 0.
pub fn normalize(v: &mut [f32]) -> bool {
    let n = norm(v);
    if n == 0.0 || !n.is_finite() {
        return false;
    }
    let inv = 1.0 / n;
    v.iter_mut().for_each(|x| *x *= inv);
    true
}

/// Portable inner product (8 independent accumulators so the compiler can vectorise).
pub fn scalar_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8;
    for i in 0..chunks {
        for j in 0..8 {
            acc[j] += a[i * 8 + j] * b[i * 8 + j];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// Portable inner product of `f32` weights with `u8` codes.
pub fn scalar_dot_u8(w: &[f32], c: &[u8]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = w.len() / 8;
    for i in 0..chunks {
        for j in 0..8 {
            acc[j] += w[i * 8 + j] * c[i * 8 + j] as f32;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..w.len() {
        s += w[i] * c[i] as f32;
    }
    s
}

/// Portable squared Euclidean distance.
pub fn scalar_l2sq(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8;
    for i in 0..chunks {
        for j in 0..8 {
            let d = a[i * 8 + j] - b[i * 8 + j];
            acc[j] += d * d;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        let d = a[i] - b[i];
        s += d * d;
    }
    s
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn hsum256(v: __m256) -> f32 {
        let hi = _mm256_extractf128_ps(v, 1);
        let lo = _mm256_castps256_ps128(v);
        let s = _mm_add_ps(hi, lo);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut acc2 = _mm256_setzero_ps();
        let mut acc3 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 32 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)), acc1);
            acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 16)), _mm256_loadu_ps(pb.add(i + 16)), acc2);
            acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i + 24)), _mm256_loadu_ps(pb.add(i + 24)), acc3);
            i += 32;
        }
        while i + 8 <= n {
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)), acc0);
            i += 8;
        }
        let mut s = hsum256(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
        while i < n {
            s += *pa.add(i) * *pb.add(i);
            i += 1;
        }
        s
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn l2sq_avx2(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            let d0 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            let d1 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i + 8)), _mm256_loadu_ps(pb.add(i + 8)));
            acc0 = _mm256_fmadd_ps(d0, d0, acc0);
            acc1 = _mm256_fmadd_ps(d1, d1, acc1);
            i += 16;
        }
        while i + 8 <= n {
            let d0 = _mm256_sub_ps(_mm256_loadu_ps(pa.add(i)), _mm256_loadu_ps(pb.add(i)));
            acc0 = _mm256_fmadd_ps(d0, d0, acc0);
            i += 8;
        }
        let mut s = hsum256(_mm256_add_ps(acc0, acc1));
        while i < n {
            let d = *pa.add(i) - *pb.add(i);
            s += d * d;
            i += 1;
        }
        s
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_u8_avx2(w: &[f32], c: &[u8]) -> f32 {
        let n = w.len();
        let (pw, pc) = (w.as_ptr(), c.as_ptr());
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            let c0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(pc.add(i) as *const __m128i)));
            let c1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(pc.add(i + 8) as *const __m128i)));
            acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(pw.add(i)), c0, acc0);
            acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(pw.add(i + 8)), c1, acc1);
            i += 16;
        }
        let mut s = hsum256(_mm256_add_ps(acc0, acc1));
        while i < n {
            s += *pw.add(i) * *pc.add(i) as f32;
            i += 1;
        }
        s
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot_u8_avx512(w: &[f32], c: &[u8]) -> f32 {
        let n = w.len();
        let (pw, pc) = (w.as_ptr(), c.as_ptr());
        let mut acc0 = _mm512_setzero_ps();
        let mut acc1 = _mm512_setzero_ps();
        let mut i = 0;
        while i + 32 <= n {
            let c0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(pc.add(i) as *const __m128i)));
            let c1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(pc.add(i + 16) as *const __m128i)));
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(pw.add(i)), c0, acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(pw.add(i + 16)), c1, acc1);
            i += 32;
        }
        while i + 16 <= n {
            let c0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(pc.add(i) as *const __m128i)));
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(pw.add(i)), c0, acc0);
            i += 16;
        }
        let mut s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        while i < n {
            s += *pw.add(i) * *pc.add(i) as f32;
            i += 1;
        }
        s
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn dot_avx512(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm512_setzero_ps();
        let mut acc1 = _mm512_setzero_ps();
        let mut i = 0;
        while i + 32 <= n {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i + 16)), _mm512_loadu_ps(pb.add(i + 16)), acc1);
            i += 32;
        }
        while i + 16 <= n {
            acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)), acc0);
            i += 16;
        }
        let mut s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        while i < n {
            s += *pa.add(i) * *pb.add(i);
            i += 1;
        }
        s
    }

    #[target_feature(enable = "avx512f")]
    pub unsafe fn l2sq_avx512(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = _mm512_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            let d = _mm512_sub_ps(_mm512_loadu_ps(pa.add(i)), _mm512_loadu_ps(pb.add(i)));
            acc0 = _mm512_fmadd_ps(d, d, acc0);
            i += 16;
        }
        let mut s = _mm512_reduce_add_ps(acc0);
        while i < n {
            let d = *pa.add(i) - *pb.add(i);
            s += d * d;
            i += 1;
        }
        s
    }
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use std::arch::aarch64::*;

    pub unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = vdupq_n_f32(0.0);
        let mut acc1 = vdupq_n_f32(0.0);
        let mut i = 0;
        while i + 8 <= n {
            acc0 = vfmaq_f32(acc0, vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
            acc1 = vfmaq_f32(acc1, vld1q_f32(pa.add(i + 4)), vld1q_f32(pb.add(i + 4)));
            i += 8;
        }
        let mut s = vaddvq_f32(vaddq_f32(acc0, acc1));
        while i < n {
            s += *pa.add(i) * *pb.add(i);
            i += 1;
        }
        s
    }

    pub unsafe fn dot_u8(w: &[f32], c: &[u8]) -> f32 {
        let n = w.len();
        let (pw, pc) = (w.as_ptr(), c.as_ptr());
        let mut acc0 = vdupq_n_f32(0.0);
        let mut acc1 = vdupq_n_f32(0.0);
        let mut i = 0;
        while i + 8 <= n {
            let c16 = vmovl_u8(vld1_u8(pc.add(i)));
            let lo = vcvtq_f32_u32(vmovl_u16(vget_low_u16(c16)));
            let hi = vcvtq_f32_u32(vmovl_u16(vget_high_u16(c16)));
            acc0 = vfmaq_f32(acc0, vld1q_f32(pw.add(i)), lo);
            acc1 = vfmaq_f32(acc1, vld1q_f32(pw.add(i + 4)), hi);
            i += 8;
        }
        let mut s = vaddvq_f32(vaddq_f32(acc0, acc1));
        while i < n {
            s += *pw.add(i) * *pc.add(i) as f32;
            i += 1;
        }
        s
    }

    pub unsafe fn l2sq(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut acc0 = vdupq_n_f32(0.0);
        let mut i = 0;
        while i + 4 <= n {
            let d = vsubq_f32(vld1q_f32(pa.add(i)), vld1q_f32(pb.add(i)));
            acc0 = vfmaq_f32(acc0, d, d);
            i += 4;
        }
        let mut s = vaddvq_f32(acc0);
        while i < n {
            let d = *pa.add(i) - *pb.add(i);
            s += d * d;
            i += 1;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rnd(seed: &mut u64) -> f32 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    fn simd_matches_scalar_for_all_lengths() {
        let mut s = 0x9E3779B97F4A7C15u64;
        for n in [0usize, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 384, 385, 1536] {
            let a: Vec<f32> = (0..n).map(|_| rnd(&mut s)).collect();
            let b: Vec<f32> = (0..n).map(|_| rnd(&mut s)).collect();
            let (d, sd) = (dot(&a, &b), scalar_dot(&a, &b));
            assert!((d - sd).abs() <= 1e-4 * (1.0 + sd.abs()), "dot n={n} {d} vs {sd}");
            let (l, sl) = (l2sq(&a, &b), scalar_l2sq(&a, &b));
            assert!((l - sl).abs() <= 1e-4 * (1.0 + sl.abs()), "l2 n={n} {l} vs {sl}");
            let c: Vec<u8> = (0..n).map(|_| ((rnd(&mut s) + 1.0) * 127.9) as u8).collect();
            let (q, sq) = (dot_u8(&a, &c), scalar_dot_u8(&a, &c));
            assert!((q - sq).abs() <= 1e-4 * (1.0 + sq.abs()) * 255.0, "dot_u8 n={n} {q} vs {sq}");
        }
    }

    #[test]
    fn metrics_and_scores() {
        let mut a = vec![3.0, 4.0];
        assert!(normalize(&mut a));
        assert!((a[0] - 0.6).abs() < 1e-6);
        assert!((Metric::Cosine.distance(&a, &a)).abs() < 1e-6);
        assert_eq!(Metric::L2.distance(&[0.0, 0.0], &[3.0, 4.0]), 25.0);
        assert_eq!(Metric::Dot.distance(&[1.0, 2.0], &[3.0, 4.0]), -11.0);
        assert_eq!(Metric::Dot.score(-11.0), 11.0);
        assert_eq!(Metric::parse("L2"), Some(Metric::L2));
        assert!(!normalize(&mut [0.0, 0.0]));
    }
}
