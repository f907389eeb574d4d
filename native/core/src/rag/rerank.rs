//! Rerankers that need no model: maximal marginal relevance and reciprocal rank fusion.

use crate::vector::distance::dot;

/// Maximal marginal relevance: picks `k` candidates, each maximising
/// `lambda * sim(query, c) - (1 - lambda) * max sim(c, picked)` (cosine on normalised
/// vectors). Returns candidate indices in pick order. Candidates without a vector keep
/// their relevance and never penalise others.
pub fn mmr(query: &[f32], candidates: &[Option<&[f32]>], relevance: &[f32], lambda: f32, k: usize) -> Vec<usize> {
    let n = candidates.len();
    let mut picked: Vec<usize> = Vec::with_capacity(k.min(n));
    let mut max_sim = vec![f32::NEG_INFINITY; n];
    let rel: Vec<f32> = (0..n).map(|i| candidates[i].map_or(relevance[i], |v| dot(query, v))).collect();
    let mut free: Vec<bool> = vec![true; n];
    while picked.len() < k.min(n) {
        let mut best: Option<(usize, f32)> = None;
        for i in (0..n).filter(|&i| free[i]) {
            let penalty = if picked.is_empty() || max_sim[i] == f32::NEG_INFINITY { 0.0 } else { max_sim[i] };
            let s = lambda * rel[i] - (1.0 - lambda) * penalty;
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((i, s));
            }
        }
        let (i, _) = best.unwrap();
        free[i] = false;
        picked.push(i);
        if let Some(v) = candidates[i] {
            for j in 0..n {
                if let (true, Some(w)) = (free[j], candidates[j]) {
                    max_sim[j] = max_sim[j].max(dot(v, w));
                }
            }
        }
    }
    picked
}

/// Reciprocal rank fusion of several rankings of the same candidates (each ranking is a
/// list of candidate indices, best first): `sum 1 / (k + rank)`. Returns indices best first.
pub fn rrf(rankings: &[Vec<usize>], n: usize, k: f32) -> Vec<usize> {
    let mut score = vec![0f32; n];
    for r in rankings {
        for (rank, &i) in r.iter().enumerate() {
            if i < n {
                score[i] += 1.0 / (k + rank as f32 + 1.0);
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmr_prefers_diversity() {
        let q = [1.0, 0.0];
        let a = [1.0, 0.0];
        let a2 = [0.999, 0.0447];
        let b = [0.6, 0.8];
        let cands = [Some(&a[..]), Some(&a2[..]), Some(&b[..])];
        // pure relevance: the near-duplicate comes second
        assert_eq!(mmr(&q, &cands, &[0.0; 3], 1.0, 3), vec![0, 1, 2]);
        // with diversity: the different one comes second
        assert_eq!(mmr(&q, &cands, &[0.0; 3], 0.3, 2), vec![0, 2]);
    }

    #[test]
    fn rrf_orders_by_fused_rank() {
        // 1 is second in both lists, 0 and 2 first in one and absent from the other
        assert_eq!(rrf(&[vec![0, 1], vec![2, 1]], 3, 60.0)[0], 1);
        assert_eq!(rrf(&[vec![2, 0, 1]], 3, 60.0), vec![2, 0, 1]);
    }
}
