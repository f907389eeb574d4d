//! 8-bit scalar quantization (`quantization: 'sq8'`).
//!
//! Each dimension `d` is mapped onto 256 levels between the smallest and largest value
//! seen in a training sample: `x ≈ lo[d] + scale[d] * code`, `scale[d] = (hi[d] - lo[d]) / 255`
//! (values outside the trained range are clamped). A code row holds `dim` bytes padded
//! to a multiple of 4, followed by the squared norm of the reconstructed vector as a
//! little-endian `f32` (needed by the `l2` metric): 388 bytes for 384 dimensions
//! instead of 1,536.
//!
//! The graph is traversed with *asymmetric* distances: the query stays in `f32` and
//! `q · x̂ = Σ q[d]·lo[d] + Σ (q[d]·scale[d])·code[d]`, so one query costs one pass over
//! the code bytes ([`super::distance::dot_u8`], SIMD). The caller re-ranks the beam's
//! candidates with exact distances on the full-precision vectors, so the scores it
//! reports are never approximations.

use super::distance::{dot_u8, Metric};
use super::store::{CodeStore, VectorStore};
use crate::error::Result;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

/// A trained scalar quantizer (persisted in the manifest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sq8 {
    /// Per-dimension offset (the smallest trained value).
    pub lo: Vec<f32>,
    /// Per-dimension step between two levels (0 for a constant dimension).
    pub scale: Vec<f32>,
}

/// A query prepared for asymmetric distances to code rows.
pub struct Sq8Query {
    metric: Metric,
    /// `q[d] * scale[d]`.
    w: Vec<f32>,
    /// `Σ q[d] * lo[d]`.
    bias: f32,
    /// `|q|²` (for `l2`).
    q_norm2: f32,
}

impl Sq8 {
    /// Bytes of one code row for `dim` dimensions.
    pub fn row_bytes(dim: usize) -> usize {
        dim.div_ceil(4) * 4 + 4
    }

    /// Learns per-dimension ranges from `rows` (index-form vectors of length `dim`).
    /// With no rows every range is `[0, 0]`.
    pub fn train<'a>(dim: usize, rows: impl Iterator<Item = &'a [f32]>) -> Sq8 {
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        for r in rows {
            for ((l, h), &x) in lo.iter_mut().zip(hi.iter_mut()).zip(r) {
                if x.is_finite() {
                    *l = l.min(x);
                    *h = h.max(x);
                }
            }
        }
        let (lo, scale) = lo
            .into_iter()
            .zip(hi)
            .map(|(l, h)| if l.is_finite() && h > l { (l, (h - l) / 255.0) } else if l.is_finite() { (l, 0.0) } else { (0.0, 0.0) })
            .unzip();
        Sq8 { lo, scale }
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.lo.len()
    }

    /// True when the parameters are usable for vectors of `dim` dimensions.
    pub fn is_valid(&self, dim: usize) -> bool {
        self.lo.len() == dim
            && self.scale.len() == dim
            && self.lo.iter().all(|x| x.is_finite())
            && self.scale.iter().all(|x| x.is_finite() && *x >= 0.0)
    }

    /// Writes the code row of `v` into `out` (`row_bytes(dim)` bytes).
    pub fn encode(&self, v: &[f32], out: &mut [u8]) {
        let dim = self.dim();
        debug_assert_eq!(out.len(), Self::row_bytes(dim));
        let mut norm2 = 0f32;
        for d in 0..dim {
            let (l, s) = (self.lo[d], self.scale[d]);
            let c = if s > 0.0 { ((v[d] - l) / s).round().clamp(0.0, 255.0) } else { 0.0 };
            out[d] = c as u8;
            let x = l + s * c;
            norm2 += x * x;
        }
        let n = out.len();
        out[dim..n - 4].fill(0);
        out[n - 4..].copy_from_slice(&norm2.to_le_bytes());
    }

    /// Prepares `q` (index form) for [`Sq8Query::distance`].
    pub fn query(&self, metric: Metric, q: &[f32]) -> Sq8Query {
        let w = q.iter().zip(&self.scale).map(|(a, s)| a * s).collect();
        let bias = q.iter().zip(&self.lo).map(|(a, l)| a * l).sum();
        let q_norm2 = q.iter().map(|a| a * a).sum();
        Sq8Query { metric, w, bias, q_norm2 }
    }
}

impl Sq8Query {
    /// Approximate metric distance between the query and a code row.
    #[inline]
    pub fn distance(&self, row: &[u8]) -> f32 {
        let dim = self.w.len();
        let ip = self.bias + dot_u8(&self.w, &row[..dim]);
        match self.metric {
            Metric::Cosine => 1.0 - ip,
            Metric::Dot => -ip,
            Metric::L2 => {
                let n = row.len();
                let x_norm2 = f32::from_le_bytes([row[n - 4], row[n - 3], row[n - 2], row[n - 1]]);
                (self.q_norm2 - 2.0 * ip + x_norm2).max(0.0)
            }
        }
    }
}

/// A collection's quantized vectors: the quantizer and one memory-mapped code row per
/// slot (file `codes-<g>.sq8`, beside `vectors-<g>.f32`, same slot layout).
pub struct Codes {
    /// The quantizer.
    pub sq8: Sq8,
    store: CodeStore,
    /// Slots below this have their code row written.
    encoded: AtomicU32,
}

impl Codes {
    /// Opens (or, when `writable`, creates) the code file at `path`; rows below
    /// `encoded` are taken as written.
    pub fn open(path: &Path, sq8: Sq8, encoded: u32, writable: bool) -> Result<Codes> {
        let store = CodeStore::open(path, Sq8::row_bytes(sq8.dim()), writable)?;
        if (store.capacity() as u64) < encoded as u64 {
            return Err(crate::error::Error::corrupt(path, "code file is shorter than the manifest says"));
        }
        Ok(Codes { sq8, store, encoded: AtomicU32::new(encoded) })
    }

    /// Slots below this have a code row.
    pub fn encoded(&self) -> u32 {
        self.encoded.load(Ordering::Acquire)
    }

    /// Writes the code rows of `slots` (all at or above [`encoded`](Self::encoded) and
    /// not yet visible to searches), in parallel, then moves the watermark to `upto`.
    pub fn encode(&self, vectors: &VectorStore, slots: &[u32], upto: u32) -> Result<()> {
        // all rows' disk space first: a full disk fails here, before any row is written
        if let (Some(&first), Some(&last)) = (slots.iter().min(), slots.iter().max()) {
            self.store.allocate(first as usize, last as usize + 1)?;
        }
        let width = Sq8::row_bytes(self.sq8.dim());
        slots.par_chunks(1024).try_for_each(|part| {
            let mut row = vec![0u8; width];
            part.iter().try_for_each(|&s| {
                self.sq8.encode(vectors.get(s), &mut row);
                self.store.set(s, &row)
            })
        })?;
        self.encoded.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }

    /// Approximate distance of a prepared query to `slot`'s code row.
    #[inline]
    pub fn distance(&self, q: &Sq8Query, slot: u32) -> f32 {
        q.distance(self.store.get(slot))
    }

    /// Starts loading `slot`'s code row into the cache.
    #[inline]
    pub fn prefetch(&self, slot: u32) {
        self.store.prefetch(slot, 4);
    }

    /// Flushes written rows to disk.
    pub fn flush(&self) -> Result<()> {
        self.store.flush()
    }

    /// The code file.
    pub fn path(&self) -> &Path {
        self.store.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                (0..dim)
                    .map(|_| {
                        s ^= s << 13;
                        s ^= s >> 7;
                        s ^= s << 17;
                        ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn approximate_distances_are_close_for_every_metric() {
        let dim = 37; // not a multiple of 4 or 16: padding and kernel tails
        let data = rows(200, dim, 7);
        let q8 = Sq8::train(dim, data.iter().map(|r| &r[..]));
        assert!(q8.is_valid(dim));
        let mut row = vec![0u8; Sq8::row_bytes(dim)];
        assert_eq!(row.len(), 44);
        for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
            let q = &rows(1, dim, 99)[0];
            let pq = q8.query(metric, q);
            for v in &data {
                q8.encode(v, &mut row);
                let (exact, approx) = (metric.distance(q, v), pq.distance(&row));
                // one level is 2/255 wide: the error of a dot product over 37 dims stays small
                assert!((exact - approx).abs() < 0.05 * (1.0 + exact.abs()), "{metric:?}: {exact} vs {approx}");
            }
        }
    }

    #[test]
    fn out_of_range_and_constant_dimensions() {
        let q8 = Sq8::train(2, [&[0.0f32, 1.0][..], &[1.0, 1.0][..]].into_iter());
        assert_eq!(q8.scale[1], 0.0);
        let mut row = vec![0u8; Sq8::row_bytes(2)];
        q8.encode(&[5.0, 1.0], &mut row);
        assert_eq!(row[0], 255, "clamped to the trained maximum");
        q8.encode(&[-5.0, 1.0], &mut row);
        assert_eq!(row[0], 0);
        let empty = Sq8::train(3, std::iter::empty());
        assert!(empty.is_valid(3));
        assert!(!empty.is_valid(4));
    }
}
