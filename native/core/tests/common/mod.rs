//! Shared helpers for the engine's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// A fresh temp directory.
pub fn tmp(name: &str) -> PathBuf {
    hektor_core::store::fsutil::test_dir(name)
}

/// xorshift64* PRNG, deterministic.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn gauss(&mut self) -> f32 {
        let u1 = self.uniform().max(1e-7);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `n` clustered, L2-normalised vectors of dimension `dim` (like sentence embeddings).
pub fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut r = Rng(seed | 1);
    let centers: Vec<Vec<f32>> = (0..clusters).map(|_| (0..dim).map(|_| r.gauss()).collect()).collect();
    (0..n)
        .map(|_| {
            let c = &centers[r.below(clusters)];
            let mut v: Vec<f32> = c.iter().map(|x| x + 1.2 * r.gauss()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect()
}

/// A deterministic test embedder: lowercase words hashed (FNV-1a) into 32 buckets, plus
/// a small constant so no vector is zero; counts tokens as whitespace-separated words.
pub struct Words;

impl hektor_core::rag::models::Embedder for Words {
    fn embed(&self, texts: &[&str]) -> hektor_core::Result<Vec<Vec<f32>>> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; 32];
                v[31] = 0.01;
                for w in t.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                    let h = w.to_lowercase().bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
                    v[(h % 31) as usize] += 1.0;
                }
                v
            })
            .collect())
    }
    fn dimension(&self) -> Option<usize> {
        Some(32)
    }
    fn count_tokens(&self, text: &str) -> Option<usize> {
        Some(text.split_whitespace().count())
    }
    fn describe(&self) -> String {
        "words".into()
    }
}
