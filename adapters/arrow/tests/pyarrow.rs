//! Files written by pyarrow (the reference implementation): IPC file and stream, Feather v2
//! with LZ4, ZSTD and no compression, and a genuine Feather v1 file. `fixtures/pyarrow/gen.py`
//! wrote them; the Parquet crate's tests read the `t.parquet` written beside them.

mod common;

use common::{check_pyarrow_record as check, pyarrow_fixture as fixture, pyarrow_mapping as mapping};
use hektor_adapters_api::{AdapterErrorCode, FieldMapping, SourceSpec};
use serde_json::json;

fn spec(kind: &str, file: &str, mapping: FieldMapping) -> SourceSpec {
    SourceSpec { kind: kind.into(), location: fixture(file).to_string_lossy().into_owned(), options: json!({}), mapping }
}

#[test]
fn pyarrow_ipc_files_streams_and_feather_v2() {
    for (kind, file, total) in [
        ("arrow", "t.arrow", Some(50)),
        ("arrow", "t.arrows", None),
        ("feather", "t-lz4.feather", Some(50)),
        ("feather", "t-zstd.feather", Some(50)),
        ("feather", "t-plain.feather", Some(50)),
    ] {
        let mut src = hektor_source_arrow::open(&spec(kind, file, mapping())).unwrap();
        assert_eq!(src.progress().total_rows, total, "{file}");
        let mut i = 0;
        while let Some(b) = src.next_batch(16).unwrap() {
            assert!(b.len() <= 16);
            for r in b.rows {
                check(&r.unwrap(), i);
                i += 1;
            }
        }
        assert_eq!(i, 50, "{file}");
        let p = src.progress();
        assert_eq!(p.rows, 50);
        assert!(p.bytes > 0 && Some(p.bytes) <= p.total_bytes, "{file}: {p:?}");
    }
}

#[test]
fn pyarrow_feather_v1_is_refused() {
    let e = match hektor_source_arrow::open(&spec("feather", "v1.feather", mapping())) {
        Ok(_) => panic!("Feather v1 opened"),
        Err(e) => e,
    };
    assert_eq!(e.code, AdapterErrorCode::Parse);
    assert_eq!(e.message, "Feather v1 is not supported; re-save with pyarrow.feather.write_feather(version=2)");
    assert!(e.position.source.ends_with("v1.feather"));
}
