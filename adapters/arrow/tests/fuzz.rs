//! Hostile input for the `arrow` source: property tests over mutated IPC files and streams
//! (written by arrow's `FileWriter` / `StreamWriter` from the fixture batches of
//! `tests/common`), plus regression tests for absurd declared lengths. Every input must
//! give records or hektor errors: no panic escaping, no huge allocation.

#[path = "../../api/tests/fuzz_support/mod.rs"]
mod support;
mod common;

use std::sync::OnceLock;

use arrow::array::RecordBatch;
use arrow::ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow::ipc::CompressionType;
use common::{rich_batch, rich_mapping};
use hektor_adapters_api::{AdapterErrorCode, FieldMapping, SourceSpec};
use proptest::prelude::*;
use serde_json::json;
use support::*;

#[global_allocator]
static ALLOC: Counting = Counting;

fn batches() -> Vec<RecordBatch> {
    vec![rich_batch(0, 4), rich_batch(4, 3)]
}

fn file(compression: Option<CompressionType>) -> Vec<u8> {
    let options = IpcWriteOptions::default().try_with_compression(compression).unwrap();
    let b = batches();
    let mut w = FileWriter::try_new_with_options(Vec::new(), &b[0].schema(), options).unwrap();
    for x in &b {
        w.write(x).unwrap();
    }
    w.finish().unwrap();
    w.into_inner().unwrap()
}

fn stream(compression: Option<CompressionType>) -> Vec<u8> {
    let options = IpcWriteOptions::default().try_with_compression(compression).unwrap();
    let b = batches();
    let mut w = StreamWriter::try_new_with_options(Vec::new(), &b[0].schema(), options).unwrap();
    for x in &b {
        w.write(x).unwrap();
    }
    w.finish().unwrap();
    w.into_inner().unwrap()
}

/// IPC files (plain, LZ4, ZSTD) and streams (plain, LZ4).
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        vec![
            file(None),
            file(Some(CompressionType::LZ4_FRAME)),
            file(Some(CompressionType::ZSTD)),
            stream(None),
            stream(Some(CompressionType::LZ4_FRAME)),
        ]
    })
}

fn read(dir: &TempDir, bytes: &[u8], mapping: FieldMapping) -> Outcome {
    let path = dir.write("f.arrow", bytes);
    let spec = SourceSpec { kind: "arrow".into(), location: loc(&path), options: json!({}), mapping };
    drain(|| hektor_source_arrow::open(&spec), 3, 100_000)
}

fn all_columns() -> FieldMapping {
    FieldMapping { metadata: vec!["*".into()], ..rich_mapping() }
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn mutated_files(seed in 0..5usize, edits in edits(6), star in any::<bool>()) {
        let dir = TempDir::new("arrow");
        read(&dir, &mutate(&seeds()[seed], &edits), if star { all_columns() } else { rich_mapping() });
    }

    /// Edits inside the record batches only (header and footer intact), where the
    /// decoders and the converters meet the damage.
    #[test]
    fn mutated_bodies(seed in 0..5usize, edits in edits(3), from in 0.1f64..0.9) {
        let dir = TempDir::new("arrow-body");
        let bytes = &seeds()[seed];
        let split = (bytes.len() as f64 * from) as usize;
        let end = if seed < 3 { bytes.len() * 9 / 10 } else { bytes.len() };
        let mut out = bytes[..split].to_vec();
        out.extend(mutate(&bytes[split..end], &edits));
        out.extend_from_slice(&bytes[end..]);
        read(&dir, &out, all_columns());
    }

    /// An IPC file cut anywhere is an error (the footer is at the end).
    #[test]
    fn truncated_files_are_errors(seed in 0..3usize, cut in any::<usize>()) {
        let dir = TempDir::new("arrow-cut");
        let bytes = &seeds()[seed];
        let cut = cut % bytes.len();
        let out = read(&dir, &bytes[..cut], rich_mapping());
        prop_assert!(out.end.as_ref().is_some_and(|e| e.code == AdapterErrorCode::Parse), "cut at {cut}: {out:?}");
    }
}

/// Replaces every aligned occurrence of `old` (little-endian i64) in `bytes[range]`.
fn patch_i64(bytes: &mut [u8], range: std::ops::Range<usize>, old: i64, new: i64) -> usize {
    let mut n = 0;
    let mut i = range.start;
    while i + 8 <= range.end {
        if bytes[i..i + 8] == old.to_le_bytes() {
            bytes[i..i + 8].copy_from_slice(&new.to_le_bytes());
            n += 1;
        }
        i += 1;
    }
    n
}

#[test]
fn absurd_declared_lengths_are_errors_without_the_allocation() {
    let _x = exclusive();
    let dir = TempDir::new("arrow-len");
    let huge = 1i64 << 40;
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();

    // stream: the first message's metadata length, then a record batch's body length
    let s = stream(None);
    let mut m = s.clone();
    m[4..8].copy_from_slice(&0x7fff_ffffi32.to_le_bytes());
    cases.push(("stream metadata length 2^31-1".into(), m));
    let schema_len = 8 + i32::from_le_bytes(s[4..8].try_into().unwrap()) as usize;
    let meta_len = i32::from_le_bytes(s[schema_len + 4..schema_len + 8].try_into().unwrap()) as usize;
    let meta = &s[schema_len + 8..schema_len + 8 + meta_len];
    let body = arrow::ipc::root_as_message(meta).unwrap().bodyLength();
    for (what, new) in [("2^40", huge), ("-1", -1), ("i64::MAX", i64::MAX)] {
        let mut m = s.clone();
        assert_eq!(patch_i64(&mut m, schema_len + 8..schema_len + 8 + meta_len, body, new), 1);
        cases.push((format!("stream body length {what}"), m));
    }

    // file: the footer's block body lengths and metadata lengths
    let f = file(None);
    let footer_len = i32::from_le_bytes(f[f.len() - 10..f.len() - 6].try_into().unwrap()) as usize;
    let footer = f.len() - 10 - footer_len..f.len() - 10;
    let fb = arrow::ipc::root_as_footer(&f[footer.clone()]).unwrap();
    let block = fb.recordBatches().unwrap().get(0);
    for (what, new) in [("2^40", huge), ("-1", -1)] {
        let mut m = f.clone();
        assert!(patch_i64(&mut m, footer.clone(), block.bodyLength(), new) >= 1);
        cases.push((format!("file block body length {what}"), m));
        let mut m = f.clone();
        assert!(patch_i64(&mut m, footer.clone(), block.offset(), new) >= 1);
        cases.push((format!("file block offset {what}"), m));
    }
    let mut m = f.clone();
    let at = f.len() - 10;
    m[at..at + 4].copy_from_slice(&0x7fff_fff0i32.to_le_bytes());
    cases.push(("file footer length 2^31".into(), m));

    for (what, bytes) in cases {
        let (out, peak) = heap_peak(|| read(&dir, &bytes, rich_mapping()));
        let e = out.end.as_ref().unwrap_or_else(|| panic!("{what}: no error ({out:?})"));
        assert_eq!(e.code, AdapterErrorCode::Parse, "{what}: {e}");
        eprintln!("arrow {what}: {e}; heap peak {} MiB", peak / MIB);
        assert!(peak <= 100 * MIB, "{what}: heap peak {peak}");
    }
}

/// Patches the uncompressed-length prefix of the first compressed buffer of the record
/// (or dictionary) batch at `msg` (the offset of its length word) in `bytes`.
fn patch_first_compressed_buffer(bytes: &mut [u8], msg: usize, value: i64) {
    let start = if bytes[msg..msg + 4] == [0xff; 4] { msg + 4 } else { msg };
    let size = i32::from_le_bytes(bytes[start..start + 4].try_into().unwrap()) as usize;
    let meta = bytes[start + 4..start + 4 + size].to_vec();
    let message = arrow::ipc::root_as_message(&meta).unwrap();
    let rb = message.header_as_record_batch().or_else(|| message.header_as_dictionary_batch().and_then(|d| d.data())).expect("a batch");
    assert!(rb.compression().is_some());
    let body = start + 4 + size;
    let body = body.next_multiple_of(8);
    let b = rb.buffers().unwrap().iter().find(|b| b.length() >= 8).unwrap();
    let at = body + b.offset() as usize;
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// Found by `mutated_files`: arrow's reader reserves the uncompressed length an LZ4/ZSTD
/// buffer declares (8 bytes, little-endian) before decompressing; a flipped high byte made
/// it ask for ~100 TB and abort the process ("memory allocation of 111555003969125 bytes
/// failed", in `zstd::bulk::Decompressor::decompress` under `FileReader::try_new`).
#[test]
fn regression_compressed_buffer_declaring_a_huge_length_is_err_limit() {
    let _x = exclusive();
    let dir = TempDir::new("arrow-zstd");
    // file: the first record batch block of the footer
    let f = file(Some(CompressionType::ZSTD));
    let footer_len = i32::from_le_bytes(f[f.len() - 10..f.len() - 6].try_into().unwrap()) as usize;
    let fb = arrow::ipc::root_as_footer(&f[f.len() - 10 - footer_len..f.len() - 10]).unwrap();
    let block = *fb.recordBatches().unwrap().get(0);
    // stream: the message after the schema
    let s = stream(Some(CompressionType::LZ4_FRAME));
    let schema_len = 8 + i32::from_le_bytes(s[4..8].try_into().unwrap()) as usize;
    for (what, bytes, msg) in [("file", f.clone(), block.offset() as usize), ("stream", s.clone(), schema_len)] {
        for declared in [111_555_003_969_125i64, 1 << 50, i64::MAX] {
            let mut m = bytes.clone();
            patch_first_compressed_buffer(&mut m, msg, declared);
            let (out, peak) = heap_peak(|| read(&dir, &m, all_columns()));
            let e = out.end.as_ref().unwrap_or_else(|| panic!("{what}: no error"));
            assert_eq!(e.code, AdapterErrorCode::Limit, "{what} {declared}: {e}");
            assert!(peak < 16 * MIB, "heap peak {peak}");
        }
        eprintln!("arrow {what}: compressed buffer declaring 2^50 bytes: ERR_LIMIT");
    }
    // a small wrong length is arrow's to report (ERR_PARSE), and the intact files still read
    let mut m = f.clone();
    patch_first_compressed_buffer(&mut m, block.offset() as usize, 3);
    assert!(read(&dir, &m, all_columns()).failed());
    let ok = read(&dir, &f, all_columns());
    assert_eq!((ok.ok, ok.end.map(|e| e.code)), (7, None));
    let ok = read(&dir, &s, all_columns());
    assert_eq!((ok.ok, ok.end.map(|e| e.code)), (7, None));
}
