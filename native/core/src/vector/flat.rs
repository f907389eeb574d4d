//! Exact (brute-force) top-k search with the SIMD kernels, parallel over slot ranges.

use super::graph::Scored;
use rayon::prelude::*;
use std::collections::BinaryHeap;
use std::ops::Range;

/// Slots per parallel task; ranges smaller than two tasks run on the calling thread.
const TASK: u32 = 16_384;

/// The `k` slots of `range` closest to the query, best first.
///
/// `dist(slot)` is the query's distance to a slot, `accept(slot)` says whether a slot
/// may be returned (live, has a vector, passes the filter); accepted slots farther than
/// `max_dist` are skipped.
pub fn top_k(
    range: Range<u32>,
    k: usize,
    max_dist: Option<f32>,
    dist: &(dyn Fn(u32) -> f32 + Sync),
    accept: &(dyn Fn(u32) -> bool + Sync),
) -> Vec<Scored> {
    if k == 0 || range.is_empty() {
        return Vec::new();
    }
    let limit = max_dist.unwrap_or(f32::INFINITY);
    let scan = |r: Range<u32>| {
        let mut heap: BinaryHeap<Scored> = BinaryHeap::with_capacity(k + 1);
        for s in r {
            if !accept(s) {
                continue;
            }
            let d = dist(s);
            if d > limit || d.is_nan() {
                continue;
            }
            if heap.len() < k {
                heap.push(Scored { dist: d, slot: s });
            } else if d < heap.peek().unwrap().dist {
                heap.pop();
                heap.push(Scored { dist: d, slot: s });
            }
        }
        heap.into_vec()
    };
    let mut all = if range.end - range.start < 2 * TASK {
        scan(range)
    } else {
        let starts: Vec<u32> = range.clone().step_by(TASK as usize).collect();
        starts
            .into_par_iter()
            .map(|s| scan(s..(s + TASK).min(range.end)))
            .reduce(Vec::new, |mut a, b| {
                a.extend(b);
                a
            })
    };
    all.sort_unstable();
    all.truncate(k);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_top_k_serial_and_parallel_agree() {
        let n = 100_000u32;
        let d = |s: u32| ((s as f32) * 0.618).fract();
        let acc = |s: u32| s % 3 != 0;
        let a = top_k(0..n, 7, None, &d, &acc);
        let mut want: Vec<Scored> = (0..n).filter(|&s| acc(s)).map(|s| Scored { dist: d(s), slot: s }).collect();
        want.sort_unstable();
        want.truncate(7);
        assert_eq!(a, want);
        let b = top_k(0..1000, 3, Some(0.01), &d, &acc);
        assert!(b.iter().all(|x| x.dist <= 0.01));
    }
}
