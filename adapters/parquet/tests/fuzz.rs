//! Hostile input for the `parquet` source: property tests over mutated files written by
//! parquet's `ArrowWriter` (the fixture batches of `../arrow/tests/common`, several codecs),
//! plus regression tests for absurd lengths in the footer. Every input must give records
//! or hektor errors: no panic escaping, no huge allocation.

#[path = "../../api/tests/fuzz_support/mod.rs"]
mod support;
#[path = "../../arrow/tests/common/mod.rs"]
mod common;

use std::sync::OnceLock;

use common::{rich_batch, rich_mapping};
use hektor_adapters_api::{AdapterErrorCode, FieldMapping, SourceSpec};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use proptest::prelude::*;
use serde_json::json;
use support::*;

#[global_allocator]
static ALLOC: Counting = Counting;

fn write(compression: Compression, dictionary: bool) -> Vec<u8> {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(4))
        .set_compression(compression)
        .set_dictionary_enabled(dictionary)
        .build();
    let b = [rich_batch(0, 4), rich_batch(4, 3)];
    let mut w = ArrowWriter::try_new(Vec::new(), b[0].schema(), Some(props)).unwrap();
    for x in &b {
        w.write(x).unwrap();
    }
    w.into_inner().unwrap()
}

fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        vec![
            write(Compression::UNCOMPRESSED, false),
            write(Compression::SNAPPY, true),
            write(Compression::ZSTD(ZstdLevel::default()), true),
        ]
    })
}

fn read(dir: &TempDir, bytes: &[u8], mapping: FieldMapping) -> Outcome {
    let path = dir.write("f.parquet", bytes);
    let spec = SourceSpec { kind: "parquet".into(), location: loc(&path), options: json!({}), mapping };
    drain(|| hektor_source_parquet::open(&spec), 3, 100_000)
}

fn all_columns() -> FieldMapping {
    FieldMapping { metadata: vec!["*".into()], ..rich_mapping() }
}

proptest! {
    #![proptest_config(config(800))]

    #[test]
    fn mutated_files(seed in 0..3usize, edits in edits(6), star in any::<bool>()) {
        let dir = TempDir::new("parquet");
        read(&dir, &mutate(&seeds()[seed], &edits), if star { all_columns() } else { rich_mapping() });
    }

    /// Edits in the pages only (footer intact).
    #[test]
    fn mutated_pages(seed in 0..3usize, edits in edits(3), from in 0.0f64..1.0) {
        let dir = TempDir::new("parquet-pages");
        let bytes = &seeds()[seed];
        let footer = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap()) as usize;
        let end = bytes.len() - 8 - footer;
        let split = 4 + ((end - 4) as f64 * from) as usize;
        let mut out = bytes[..split].to_vec();
        out.extend(mutate(&bytes[split..end], &edits));
        out.extend_from_slice(&bytes[end..]);
        read(&dir, &out, all_columns());
    }

    /// Edits in the footer (thrift metadata) only.
    #[test]
    fn mutated_footers(seed in 0..3usize, edits in edits(3)) {
        let dir = TempDir::new("parquet-footer");
        let bytes = &seeds()[seed];
        let footer = u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap()) as usize;
        let start = bytes.len() - 8 - footer;
        let mut meta = mutate(&bytes[start..bytes.len() - 8], &edits);
        let mut out = bytes[..start].to_vec();
        out.append(&mut meta);
        out.extend_from_slice(&(out.len() as u32 - start as u32).to_le_bytes());
        out.extend_from_slice(b"PAR1");
        read(&dir, &out, all_columns());
    }

    /// A file cut anywhere is an error (the footer is at the end).
    #[test]
    fn truncated_files_are_errors(seed in 0..3usize, cut in any::<usize>()) {
        let dir = TempDir::new("parquet-cut");
        let bytes = &seeds()[seed];
        let cut = cut % bytes.len();
        let out = read(&dir, &bytes[..cut], rich_mapping());
        prop_assert!(out.end.as_ref().is_some_and(|e| e.code == AdapterErrorCode::Parse), "cut at {cut}: {out:?}");
    }
}

#[test]
fn absurd_lengths_are_errors_without_the_allocation() {
    let _x = exclusive();
    let dir = TempDir::new("parquet-len");
    let f = &seeds()[0];
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut m = f.clone();
    let n = m.len();
    m[n - 8..n - 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    cases.push(("footer length 4 GiB", m));
    // the first page header (thrift compact: 0x15 type, 0x15 uncompressed size, 0x15
    // compressed size, ...) declaring pages of 2^31-1 bytes
    for (what, field) in [("uncompressed page size 2^31-1", 1), ("compressed page size 2^31-1", 2)] {
        let mut m = f.clone();
        let mut at = 4;
        for _ in 0..field {
            assert_eq!(m[at], 0x15);
            at += 1;
            while m[at] & 0x80 != 0 {
                at += 1;
            }
            at += 1;
        }
        assert_eq!(m[at], 0x15);
        let start = at + 1;
        let mut end = start;
        while m[end] & 0x80 != 0 {
            end += 1;
        }
        m.splice(start..=end, [0xfe, 0xff, 0xff, 0xff, 0x0f]);
        cases.push((what, m));
    }
    for (what, bytes) in cases {
        let (out, peak) = heap_peak(|| read(&dir, &bytes, rich_mapping()));
        let e = out.end.as_ref().or(out.row_errors.first()).unwrap_or_else(|| panic!("{what}: no error"));
        assert_eq!(e.code, AdapterErrorCode::Parse, "{what}: {e}");
        eprintln!("parquet {what}: {e}; heap peak {} MiB", peak / MIB);
        assert!(peak <= 80 * MIB, "{what}: heap peak {peak}");
    }
}
