//! Bounded memory: a 60 MB JSON document (records behind a pointer) and a 100k-line JSONL
//! file stream in bounded batches while the peak RSS grows by far less than the file.
//! One test function, so nothing else runs in this process meanwhile.

mod common;

use std::io::{BufWriter, Write};

use common::*;
use serde_json::json;

/// Peak resident set (VmHWM) in KiB, after resetting it to the current RSS when the kernel
/// allows (`clear_refs` 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_kib(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn large_inputs_stream_with_bounded_memory() {
    // 60 MB+: {"meta": {...}, "data": {"items": [ {...}, ... ]}}, written element by element.
    let path = tmp("large.json");
    let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
    w.write_all(br#"{"meta": {"generator": "test", "skip": ["#).unwrap();
    for i in 0..20_000 {
        write!(w, "{}{i}", if i > 0 { "," } else { "" }).unwrap();
    }
    w.write_all(br#"]}, "data": {"items": ["#).unwrap();
    let n = 120_000;
    for i in 0..n {
        if i > 0 {
            w.write_all(b",\n").unwrap();
        }
        let rec = json!({
            "id": format!("r{i}"),
            "text": format!("record {i}: {}", "lorem ipsum dolor sit amet ".repeat(6)),
            "emb": (0..16).map(|k| ((i * 31 + k) % 97) as f64 / 97.0).collect::<Vec<_>>(),
            "meta": { "n": i, "even": i % 2 == 0 }
        });
        serde_json::to_writer(&mut w, &rec).unwrap();
    }
    w.write_all(b"]}}").unwrap();
    w.flush().unwrap();
    drop(w);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 50_000_000, "{size} bytes");

    reset_peak();
    let before = status_kib("VmRSS:");
    let m = map("id", &["text"], Some("emb"), &["meta.n"]);
    let mut src = hektor_source_json::open(&spec("json", &path, json!({ "pointer": "/data/items" }), m)).unwrap();
    let mut count = 0u64;
    while let Some(b) = src.next_batch(1000).unwrap() {
        assert!(b.len() <= 1000);
        for r in &b.rows {
            let r = r.as_ref().unwrap();
            assert_eq!(r.vector.as_ref().unwrap().len(), 16);
        }
        count += b.len() as u64;
        assert_eq!(src.progress().rows, count);
    }
    assert_eq!(count, n as u64);
    let p = src.progress();
    assert_eq!(p.total_bytes, Some(size));
    assert!(p.bytes > size - 1024, "read {} of {size}", p.bytes);
    if let (Some(before), Some(peak)) = (before, status_kib("VmHWM:")) {
        let grew = peak.saturating_sub(before);
        eprintln!("json: {size} bytes, RSS before {before} KiB, peak {peak} KiB (+{grew} KiB)");
        assert!(grew < 40 * 1024, "peak RSS grew by {grew} KiB for a {size}-byte file");
    }

    // The same records as JSON Lines, gzip-compressed.
    let lines = tmp("large.jsonl.gz");
    let mut enc = flate2::write::GzEncoder::new(BufWriter::new(std::fs::File::create(&lines).unwrap()), flate2::Compression::fast());
    for i in 0..n {
        let rec = json!({ "id": i, "text": format!("record {i}: {}", "lorem ipsum ".repeat(20)), "emb": [i as f64, 1.0] });
        serde_json::to_writer(&mut enc, &rec).unwrap();
        enc.write_all(b"\n").unwrap();
    }
    enc.finish().unwrap().flush().unwrap();
    reset_peak();
    let before = status_kib("VmRSS:");
    let mut src = hektor_source_json::open(&spec("jsonl", &lines, json!({}), map("id", &["text"], Some("emb"), &[]))).unwrap();
    let mut count = 0u64;
    while let Some(b) = src.next_batch(4096).unwrap() {
        assert!(b.len() <= 4096);
        assert!(b.rows.iter().all(|r| r.is_ok()));
        count += b.len() as u64;
    }
    assert_eq!(count, n as u64);
    let p = src.progress();
    assert_eq!(Some(p.bytes), p.total_bytes);
    if let (Some(before), Some(peak)) = (before, status_kib("VmHWM:")) {
        let grew = peak.saturating_sub(before);
        eprintln!("jsonl.gz: RSS before {before} KiB, peak {peak} KiB (+{grew} KiB)");
        assert!(grew < 40 * 1024, "peak RSS grew by {grew} KiB");
    }
}
