//! Fusion of a vector result list and a text result list into one ranking.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How hybrid search combines its two lists.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Fusion {
    /// Reciprocal rank fusion: `sum 1 / (k + rank)` over the lists a hit appears in
    /// (ranks from 1). `k` defaults to 60.
    Rrf {
        /// The RRF constant.
        #[serde(default = "default_rrf_k")]
        k: f32,
    },
    /// `alpha * vector + (1 - alpha) * text` on min-max normalised scores.
    Weighted {
        /// Weight of the vector score, in `[0, 1]`.
        alpha: f32,
    },
}

fn default_rrf_k() -> f32 {
    60.0
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Rrf { k: 60.0 }
    }
}

/// A candidate of the fused list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fused {
    /// Slot.
    pub slot: u32,
    /// Fused score (higher is better).
    pub score: f32,
}

/// Fuses two ranked lists of `(slot, score)` (each best first).
///
/// For weighted fusion `vector_scores`/`text_scores` give every candidate's component
/// score where known (a candidate found by one list only can still have a score for
/// the other, computed directly); missing components count as the minimum (0 after
/// normalisation). Ties break by slot for determinism.
pub fn fuse(
    vector: &[(u32, f32)],
    text: &[(u32, f32)],
    fusion: Fusion,
    vector_scores: &HashMap<u32, f32>,
    text_scores: &HashMap<u32, f32>,
) -> Vec<Fused> {
    let mut order: Vec<u32> = Vec::new();
    let mut seen = HashMap::new();
    for &(s, _) in vector.iter().chain(text) {
        if seen.insert(s, ()).is_none() {
            order.push(s);
        }
    }
    let mut out: Vec<Fused> = match fusion {
        Fusion::Rrf { k } => {
            let mut score: HashMap<u32, f32> = HashMap::new();
            for list in [vector, text] {
                for (rank, &(s, _)) in list.iter().enumerate() {
                    *score.entry(s).or_default() += 1.0 / (k + rank as f32 + 1.0);
                }
            }
            order.iter().map(|&s| Fused { slot: s, score: score[&s] }).collect()
        }
        Fusion::Weighted { alpha } => {
            let (nv, nt) = (MinMax::over(&order, vector_scores), MinMax::over(&order, text_scores));
            order.iter().map(|&s| Fused { slot: s, score: alpha * nv.norm(vector_scores, s) + (1.0 - alpha) * nt.norm(text_scores, s) }).collect()
        }
    };
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.slot.cmp(&b.slot)));
    out
}

/// Min-max normalisation of one component over the candidate set.
struct MinMax {
    lo: f32,
    hi: f32,
}

impl MinMax {
    fn over(order: &[u32], scores: &HashMap<u32, f32>) -> MinMax {
        let mut m = MinMax { lo: f32::INFINITY, hi: f32::NEG_INFINITY };
        for v in order.iter().filter_map(|s| scores.get(s)) {
            m.lo = m.lo.min(*v);
            m.hi = m.hi.max(*v);
        }
        m
    }
    /// Normalised score of `slot`: 0 when unknown, 1 when all known scores are equal.
    fn norm(&self, scores: &HashMap<u32, f32>, slot: u32) -> f32 {
        match scores.get(&slot) {
            None => 0.0,
            Some(_) if self.hi <= self.lo => 1.0,
            Some(&v) => (v - self.lo) / (self.hi - self.lo),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrf_matches_formula() {
        let v = [(1, 0.9), (2, 0.8), (3, 0.1)];
        let t = [(3, 12.0), (1, 5.0)];
        let f = fuse(&v, &t, Fusion::default(), &HashMap::new(), &HashMap::new());
        let s = |slot| f.iter().find(|x| x.slot == slot).unwrap().score;
        assert!((s(1) - (1.0 / 61.0 + 1.0 / 62.0)).abs() < 1e-7);
        assert!((s(3) - (1.0 / 63.0 + 1.0 / 61.0)).abs() < 1e-7);
        assert!((s(2) - 1.0 / 62.0).abs() < 1e-7);
        assert_eq!(f.iter().map(|x| x.slot).collect::<Vec<_>>(), vec![1, 3, 2]);
    }

    #[test]
    fn weighted_normalises() {
        let v = [(1, 0.9), (2, 0.5)];
        let t = [(2, 10.0), (3, 4.0)];
        let vs: HashMap<u32, f32> = [(1, 0.9), (2, 0.5), (3, 0.7)].into();
        let ts: HashMap<u32, f32> = [(2, 10.0), (3, 4.0)].into();
        let f = fuse(&v, &t, Fusion::Weighted { alpha: 0.5 }, &vs, &ts);
        let s = |slot| f.iter().find(|x| x.slot == slot).unwrap().score;
        assert!((s(1) - 0.5).abs() < 1e-6); // v=1, t missing=0
        assert!((s(2) - 0.5).abs() < 1e-6); // v=0, t=1
        assert!((s(3) - (0.5 * 0.5 + 0.0)).abs() < 1e-6); // v=.5, t=0
    }
}
