//! The hdf5 source against files written by the HDF5 library itself (through the `hdf5`
//! crate's writer), plus real files cut short or corrupted by hand.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use hdf5::types::{FixedAscii, VarLenAscii, VarLenUnicode};
use hdf5::H5Type;
use hektor_adapters_api::{AdapterError, FieldMapping, Source, SourceRecord, SourceSpec};
use serde_json::{json, Value};

const N: usize = 10_000;
const D: usize = 64;

/// Held (shared) by every test while it has HDF5 files, and exclusively by the tests that
/// spawn a child process: the HDF5 library opens files without `O_CLOEXEC`, so a child
/// forked while another test has a file open inherits its descriptor and, with it, the
/// file's `flock`, and that test's next open fails with EWOULDBLOCK until the child exits.
static FILES: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Shares [`FILES`] (a panicking test poisons nothing that matters here).
fn files_shared() -> std::sync::RwLockReadGuard<'static, ()> {
    FILES.read().unwrap_or_else(|e| e.into_inner())
}

/// A file in the temp dir, removed when the test ends; holds [`FILES`] shared meanwhile.
struct TempFile(PathBuf, Option<std::sync::RwLockReadGuard<'static, ()>>);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl std::ops::Deref for TempFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempFile {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

/// A fresh path in the temp dir (unique to this process), removed when dropped.
fn tmp(name: &str) -> TempFile {
    let p = std::env::temp_dir().join(format!("hk-hdf5-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    TempFile(p, Some(files_shared()))
}

fn spec(path: &Path, options: Value) -> SourceSpec {
    SourceSpec { kind: "hdf5".into(), location: path.display().to_string(), options, mapping: FieldMapping::default() }
}

fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    hektor_source_hdf5::open(spec)
}

fn open_err(spec: &SourceSpec) -> AdapterError {
    match open(spec) {
        Ok(_) => panic!("expected {} to fail", spec.options),
        Err(e) => e,
    }
}

/// Every record of the source, in batches of `max`, checking each batch's size.
fn drain(src: &mut dyn Source, max: usize) -> Vec<SourceRecord> {
    let mut out = Vec::new();
    while let Some(b) = src.next_batch(max).expect("batch") {
        assert!(!b.is_empty() && b.len() <= max, "batch of {} rows for max {max}", b.len());
        for r in b.rows {
            out.push(r.expect("row"));
        }
    }
    out
}

fn vector(i: usize) -> Vec<f32> {
    (0..D).map(|j| (i * D + j) as f32 * 0.001 - 3.0).collect()
}

#[derive(H5Type, Clone, Copy, Debug, PartialEq)]
#[repr(u8)]
enum Lang {
    En = 0,
    Fr = 1,
    De = 2,
}

/// The corpus of the happy-path tests, in group `/corpus`:
/// - `emb`: 10,000 x 64 float32, chunked (512 x 64), shuffle + gzip;
/// - `ids`: variable-length UTF-8 strings `doc-<i>` (`doc-é<i>` for every 1000th);
/// - `texts`: fixed-length (24 bytes) ASCII `text number <i>`, chunked + lzf;
/// - `year` int32, `score` float64 (NaN at row 5), `ratio` float32, `flag` boolean, `lang` enum, `pos` 2-D int64 N x 2,
///   `label` variable-length ASCII.
fn write_corpus(path: &Path) {
    let f = hdf5::File::create(path).unwrap();
    let g = f.create_group("corpus").unwrap();
    let flat: Vec<f32> = (0..N).flat_map(vector).collect();
    let emb = g.new_dataset::<f32>().shape((N, D)).chunk((512, D)).shuffle().deflate(4).create("emb").unwrap();
    emb.write_raw(&flat).unwrap();

    let ids: Vec<VarLenUnicode> =
        (0..N).map(|i| VarLenUnicode::from_str(&if i % 1000 == 0 { format!("doc-é{i}") } else { format!("doc-{i}") }).unwrap()).collect();
    g.new_dataset_builder().with_data(&ids).create("ids").unwrap();
    let texts: Vec<FixedAscii<24>> = (0..N).map(|i| FixedAscii::from_ascii(&format!("text number {i}")).unwrap()).collect();
    g.new_dataset::<FixedAscii<24>>().shape(N).chunk(1000).lzf().create("texts").unwrap().write_raw(&texts).unwrap();

    let year: Vec<i32> = (0..N).map(|i| 1990 + (i % 30) as i32).collect();
    g.new_dataset_builder().with_data(&year).create("year").unwrap();
    let score: Vec<f64> = (0..N).map(|i| if i == 5 { f64::NAN } else { i as f64 / 4.0 }).collect();
    g.new_dataset_builder().with_data(&score).create("score").unwrap();
    let flag: Vec<bool> = (0..N).map(|i| i % 3 == 0).collect();
    g.new_dataset_builder().with_data(&flag).create("flag").unwrap();
    let lang: Vec<Lang> = (0..N).map(|i| [Lang::En, Lang::Fr, Lang::De][i % 3]).collect();
    g.new_dataset_builder().with_data(&lang).create("lang").unwrap();
    let ratio: Vec<f32> = (0..N).map(|i| i as f32 / 10.0).collect();
    g.new_dataset_builder().with_data(&ratio).create("ratio").unwrap();
    let pos: Vec<i64> = (0..N).flat_map(|i| [i as i64, -(i as i64)]).collect();
    g.new_dataset::<i64>().shape((N, 2)).create("pos").unwrap().write_raw(&pos).unwrap();
    let label: Vec<VarLenAscii> = (0..N).map(|i| VarLenAscii::from_ascii(&format!("L{}", i % 7)).unwrap()).collect();
    f.new_dataset_builder().with_data(&label).create("labels").unwrap();
}

fn corpus_options() -> Value {
    json!({
        "group": "corpus",
        "vectors": "emb",
        "ids": "ids",
        "texts": "texts",
        "metadata": { "year": "year", "score": "score", "ratio": "ratio", "flag": "flag", "lang": "lang", "pos": "pos", "label": "/labels" }
    })
}

#[test]
fn reads_every_field_in_batches_with_the_options_as_mapping() {
    let path = tmp("corpus.h5");
    write_corpus(&path);
    let mut src = open(&spec(&path, corpus_options())).unwrap();
    assert_eq!(src.name(), path.display().to_string());
    let p0 = src.progress();
    assert_eq!((p0.rows, p0.total_rows), (0, Some(N as u64)));
    let total_bytes = p0.total_bytes.unwrap();
    assert!(total_bytes > 0);

    let recs = drain(src.as_mut(), 1000);
    assert_eq!(recs.len(), N);
    let p = src.progress();
    assert_eq!((p.rows, p.bytes, p.total_rows, p.total_bytes), (N as u64, total_bytes, Some(N as u64), Some(total_bytes)));

    for i in [0, 1, 5, 511, 512, 999, 1000, 4321, N - 1] {
        let r = &recs[i];
        let id = if i % 1000 == 0 { format!("doc-é{i}") } else { format!("doc-{i}") };
        assert_eq!(r.id, id);
        assert_eq!(r.text.as_deref(), Some(format!("text number {i}").as_str()));
        assert_eq!(r.vector.as_deref(), Some(vector(i).as_slice()), "vector {i}");
        let m = r.metadata.as_ref().unwrap();
        assert_eq!(m["year"], json!(1990 + (i % 30)));
        assert_eq!(m["score"], if i == 5 { Value::Null } else { json!(i as f64 / 4.0) });
        assert_eq!(m["flag"], json!(i % 3 == 0));
        assert_eq!(m["lang"], json!(["En", "Fr", "De"][i % 3]));
        assert_eq!(m["pos"], json!([i as i64, -(i as i64)]));
        assert_eq!(m["label"], json!(format!("L{}", i % 7)));
        // float32 as its shortest decimal: 0.1f32 is 0.1, not 0.10000000149011612.
        assert_eq!(m["ratio"], json!((i as f32 / 10.0).to_string().parse::<f64>().unwrap()));
        assert_eq!(m.len(), 7, "only the metadata fields: {m:?}");
    }
    // The end stays the end.
    assert!(src.next_batch(10).unwrap().is_none());
}

#[test]
fn explicit_mapping_uses_the_field_names_and_reads_only_what_it_needs() {
    let path = tmp("mapped.h5");
    write_corpus(&path);
    let mut s = spec(&path, corpus_options());
    // The id from a metadata field, the label as text, everything else unmapped as metadata.
    s.mapping = FieldMapping { id: Some("year".into()), text: vec!["label".into(), "text".into()], vector: None, metadata: vec!["*".into()] };
    let mut src = open(&s).unwrap();
    let recs = drain(src.as_mut(), 4096);
    let r = &recs[7];
    assert_eq!(r.id, "1997");
    assert_eq!(r.text.as_deref(), Some("L0\n\ntext number 7"));
    assert_eq!(r.vector.as_deref(), Some(vector(7).as_slice()), "vector filled from the options");
    // (key order depends on serde_json's map: sorted, or insertion order with preserve_order)
    let mut keys: Vec<&String> = r.metadata.as_ref().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["flag", "id", "lang", "pos", "ratio", "score"], "every field not mapped elsewhere");

    // Only the vectors and the label: the other datasets are not read (smaller byte total).
    let mut narrow = spec(&path, corpus_options());
    narrow.mapping = FieldMapping { text: vec!["label".into()], metadata: vec!["lang".into()], ..Default::default() };
    let src2 = open(&narrow).unwrap();
    assert!(src2.progress().total_bytes < src.progress().total_bytes);

    // A name that is no field is refused up front, naming the fields.
    let mut bad = spec(&path, corpus_options());
    bad.mapping.id = Some("doc_id".into());
    let e = open_err(&bad);
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert_eq!(e.position.field.as_deref(), Some("doc_id"));
    assert!(e.message.contains("id, text, vector") || e.message.contains("vector, id, text"), "{}", e.message);
}

#[test]
fn float64_contiguous_vectors_integer_ids_and_no_texts() {
    let path = tmp("f64.h5");
    {
        let f = hdf5::File::create(&path).unwrap();
        let n = 300;
        let flat: Vec<f64> = (0..n * 3).map(|x| x as f64 / 8.0).collect();
        f.new_dataset::<f64>().shape((n, 3)).create("train").unwrap().write_raw(&flat).unwrap();
        let ids: Vec<u64> = (0..n as u64).map(|i| 1_000_000_000_000 + i).collect();
        f.new_dataset_builder().with_data(&ids).create("neighbors_id").unwrap();
    }
    let mut src = open(&spec(&path, json!({ "vectors": "/train", "ids": "neighbors_id" }))).unwrap();
    let recs = drain(src.as_mut(), 128);
    assert_eq!(recs.len(), 300);
    assert_eq!(recs[299].id, "1000000000299");
    assert_eq!(recs[299].vector, Some(vec![897.0 / 8.0, 898.0 / 8.0, 899.0 / 8.0]));
    assert_eq!(recs[0].text, None);
    assert_eq!(recs[0].metadata, None);
}

#[test]
fn float16_vectors_and_generated_ids() {
    let path = tmp("f16.h5");
    {
        let f = hdf5::File::create(&path).unwrap();
        let flat: Vec<half::f16> = (0..20 * 4).map(|x| half::f16::from_f32(x as f32 * 0.5)).collect();
        f.new_dataset::<half::f16>().shape((20, 4)).chunk((8, 4)).deflate(1).create("v").unwrap().write_raw(&flat).unwrap();
    }
    let mut src = open(&spec(&path, json!({ "vectors": "v" }))).unwrap();
    let recs = drain(src.as_mut(), 7);
    assert_eq!(recs[3].vector, Some(vec![6.0, 6.5, 7.0, 7.5]));
    assert_eq!(recs[3].id, format!("{}:3", path.display()));
}

#[test]
fn streams_200k_rows_in_bounded_batches() {
    let path = tmp("big.h5");
    let n = 200_000;
    {
        let f = hdf5::File::create(&path).unwrap();
        let flat: Vec<f32> = (0..n * 8).map(|x| x as f32).collect();
        // 1 MiB chunks, each shared by several batches.
        f.new_dataset::<f32>().shape((n, 8)).chunk((32768, 8)).deflate(1).create("v").unwrap().write_raw(&flat).unwrap();
        let ids: Vec<i32> = (0..n as i32).collect();
        f.new_dataset::<i32>().shape(n).chunk(65536).create("ids").unwrap().write_raw(&ids).unwrap();
    }
    let mut src = open(&spec(&path, json!({ "vectors": "v", "ids": "ids" }))).unwrap();
    let (mut rows, mut batches, mut last_rows) = (0usize, 0usize, 0u64);
    while let Some(b) = src.next_batch(777).unwrap() {
        assert!(b.len() <= 777);
        for (k, r) in b.rows.iter().enumerate() {
            let r = r.as_ref().unwrap();
            let i = rows + k;
            assert_eq!(r.id, i.to_string());
            assert_eq!(r.vector.as_ref().unwrap()[7], (i * 8 + 7) as f32);
        }
        rows += b.len();
        batches += 1;
        let p = src.progress();
        assert!(p.rows > last_rows && p.rows == rows as u64 && p.bytes <= p.total_bytes.unwrap());
        last_rows = p.rows;
    }
    assert_eq!(rows, n);
    assert_eq!(batches, n.div_ceil(777));
}

#[test]
fn empty_datasets_end_at_once() {
    let path = tmp("empty.h5");
    {
        let f = hdf5::File::create(&path).unwrap();
        f.new_dataset::<f32>().shape((0, 4)).create("v").unwrap();
    }
    let mut src = open(&spec(&path, json!({ "vectors": "v" }))).unwrap();
    assert!(src.next_batch(10).unwrap().is_none());
    assert_eq!(src.progress().total_rows, Some(0));
}

#[test]
fn missing_file_and_not_hdf5() {
    let e = open_err(&spec(Path::new("/nonexistent/dir/x.h5"), json!({ "vectors": "v" })));
    assert_eq!(e.code.as_str(), "ERR_NOT_FOUND");
    assert_eq!(e.position.source, "/nonexistent/dir/x.h5");

    let path = tmp("text.h5");
    std::fs::write(&path, "id,text\n1,hello\n").unwrap();
    let e = open_err(&spec(&path, json!({ "vectors": "v" })));
    assert_eq!(e.code.as_str(), "ERR_PARSE");
    assert!(e.message.contains("not an HDF5 file"), "{}", e.message);
    assert_eq!(e.position.source, path.display().to_string());
}

#[test]
fn truncated_file_is_a_parse_error() {
    let path = tmp("cut.h5");
    write_corpus(&path);
    let bytes = std::fs::read(&path).unwrap();
    for keep in [bytes.len() / 2, bytes.len() - 100, 3000] {
        let cut = tmp(&format!("cut-{keep}.h5"));
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let err = match open(&spec(&cut, corpus_options())) {
            Err(e) => e,
            Ok(mut src) => loop {
                match src.next_batch(1000) {
                    Err(e) => break e,
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("a file cut at {keep} of {} bytes read to the end", bytes.len()),
                }
            },
        };
        assert_eq!(err.code.as_str(), "ERR_PARSE", "cut at {keep}: {err}");
        assert_eq!(err.position.source, cut.display().to_string());
        assert!(err.message.contains("truncated"), "cut at {keep}: {}", err.message);
    }
}

#[test]
fn corrupt_chunk_stops_the_stream_at_its_rows() {
    let path = tmp("corrupt.h5");
    write_corpus(&path);
    let (addr, size) = {
        let f = hdf5::File::open(&path).unwrap();
        let ds = f.dataset("corpus/emb").unwrap();
        let c = ds.chunk_info(4).unwrap(); // rows 2048..2560
        assert_eq!(c.offset, [2048, 0]);
        (c.addr as usize, c.size as usize)
    };
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[addr..addr + size.min(64)] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let mut src = open(&spec(&path, corpus_options())).unwrap();
    let mut seen = 0;
    let err = loop {
        match src.next_batch(1000) {
            Ok(Some(b)) => seen += b.len(),
            Ok(None) => panic!("read past a corrupt chunk"),
            Err(e) => break e,
        }
    };
    assert_eq!(seen, 2000, "the batches before the chunk are whole");
    assert_eq!(err.code.as_str(), "ERR_PARSE", "{err}");
    assert_eq!(err.position.row, Some(2000));
    assert_eq!(err.position.field.as_deref(), Some("vector"));
    assert!(err.message.contains("/corpus/emb"), "{}", err.message);
}

#[test]
fn missing_dataset_lists_the_files_datasets() {
    let path = tmp("missing.h5");
    write_corpus(&path);
    let e = open_err(&spec(&path, json!({ "vectors": "/corpus/embeddings", "texts": "/corpus/texts" })));
    assert_eq!(e.code.as_str(), "ERR_NOT_FOUND");
    assert_eq!(e.position.field.as_deref(), Some("vector"));
    assert!(e.message.contains("'/corpus/embeddings'") && e.message.contains("/corpus/emb,"), "{}", e.message);
    assert!(e.message.contains("/labels"), "{}", e.message);

    // A missing intermediate group, and a missing base group.
    let e = open_err(&spec(&path, json!({ "texts": "/nope/deeper/texts" })));
    assert_eq!(e.code.as_str(), "ERR_NOT_FOUND");
    let e = open_err(&spec(&path, json!({ "group": "/nope", "texts": "texts" })));
    assert_eq!(e.code.as_str(), "ERR_NOT_FOUND");
    assert!(e.message.contains("'/nope'"), "{}", e.message);

    // A dataset where the base group is expected.
    let e = open_err(&spec(&path, json!({ "group": "/labels", "texts": "texts" })));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");

    // A metadata field may be called `text` when no `texts` is given (and may hold numbers).
    let mut src = open(&spec(&path, json!({ "group": "corpus", "vectors": "emb", "metadata": { "text": "year" } }))).unwrap();
    let r = src.next_batch(1).unwrap().unwrap().rows.remove(0).unwrap();
    assert_eq!((r.text, r.metadata.unwrap()["text"].clone()), (None, json!(1990)));

    // A group where a dataset is expected.
    let e = open_err(&spec(&path, json!({ "texts": "/corpus" })));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert!(e.message.contains("is a group"), "{}", e.message);
}

#[test]
fn wrong_types_and_shapes_are_invalid_args() {
    let path = tmp("types.h5");
    {
        let f = hdf5::File::create(&path).unwrap();
        f.new_dataset::<f32>().shape((10, 4, 2)).create("cube").unwrap();
        f.new_dataset::<i32>().shape((10, 4)).create("ivec").unwrap();
        f.new_dataset::<f32>().shape(10).create("flat").unwrap();
        f.new_dataset::<f32>().shape((10, 4)).create("v").unwrap();
        f.new_dataset::<i32>().shape(10).create("ints").unwrap();
        f.new_dataset::<f64>().shape(10).create("floats").unwrap();
        f.new_dataset::<f32>().shape((10, 2)).create("pairs").unwrap();
    }
    let check = |options: Value, field: &str, needle: &str| {
        let e = open_err(&spec(&path, options.clone()));
        assert_eq!(e.code.as_str(), "ERR_INVALID_ARG", "{options}: {e}");
        assert_eq!(e.position.field.as_deref(), Some(field), "{options}: {e}");
        assert!(e.message.contains(needle), "{options}: {}", e.message);
    };
    check(json!({ "vectors": "cube" }), "vector", "[10, 4, 2]");
    check(json!({ "vectors": "ivec" }), "vector", "integers");
    check(json!({ "vectors": "flat" }), "vector", "2-D");
    check(json!({ "vectors": "v", "texts": "ints" }), "text", "texts must be strings");
    check(json!({ "vectors": "v", "ids": "floats" }), "id", "ids must be strings or integers");
    check(json!({ "vectors": "v", "ids": "pairs" }), "id", "1-D");
}

#[test]
fn bad_options_and_length_mismatch() {
    let path = tmp("opts.h5");
    {
        let f = hdf5::File::create(&path).unwrap();
        f.new_dataset::<f32>().shape((10, 4)).create("v").unwrap();
        f.new_dataset::<i32>().shape(9).create("ids").unwrap();
    }
    let e = open_err(&spec(&path, json!({ "vectors": "v", "ids": "ids" })));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert!(e.message.contains("'/v' (`vectors`) has 10") && e.message.contains("'/ids' (`ids`) has 9"), "{}", e.message);

    let e = open_err(&spec(&path, json!({ "vectors": "v", "vector": "v" })));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    assert!(e.message.contains("unknown field `vector`"), "{}", e.message);
    let e = open_err(&spec(&path, json!({ "ids": "ids" })));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
    let e = open_err(&spec(&path, json!({ "vectors": "v", "ids": "ids", "metadata": { "id": "ids" } })));
    assert_eq!(e.code.as_str(), "ERR_INVALID_ARG");
}

#[test]
fn invalid_utf8_is_a_row_error_the_others_read() {
    let path = tmp("utf8.h5");
    {
        let f = hdf5::File::create(&path).unwrap();
        let texts: Vec<VarLenAscii> = (0..5)
            .map(|i| {
                if i == 3 {
                    // SAFETY: the value is only handed to the library to write; it is never viewed as a str.
                    unsafe { VarLenAscii::from_ascii_unchecked(b"caf\xe9") }
                } else {
                    VarLenAscii::from_ascii(&format!("t{i}")).unwrap()
                }
            })
            .collect();
        f.new_dataset_builder().with_data(&texts).create("texts").unwrap();
    }
    let mut src = open(&spec(&path, json!({ "texts": "texts" }))).unwrap();
    let b = src.next_batch(10).unwrap().unwrap();
    assert_eq!(b.len(), 5);
    let e = b.rows[3].as_ref().unwrap_err();
    assert_eq!(e.code.as_str(), "ERR_PARSE");
    assert_eq!((e.position.row, e.position.field.as_deref()), (Some(3), Some("text")));
    assert!(e.message.contains("UTF-8"), "{}", e.message);
    assert_eq!(b.rows[4].as_ref().unwrap().text.as_deref(), Some("t4"));
}

#[test]
fn fixed_utf8_strings_cut_inside_a_character_keep_the_whole_ones() {
    let path = tmp("fixedutf8.h5");
    {
        let f = hdf5::File::create(&path).unwrap();
        // numpy's `S<n>` cuts encoded text byte-wise: "caf\xc3" is "café" cut to 4 bytes.
        // SAFETY: the values are only handed to the library to write, never viewed as str.
        let cut = unsafe { FixedAscii::<4>::from_ascii_unchecked(b"caf\xc3") };
        let bad = unsafe { FixedAscii::<4>::from_ascii_unchecked(b"\xffab") };
        f.new_dataset::<FixedAscii<4>>().shape(3).create("s").unwrap().write_raw(&[cut, FixedAscii::<4>::from_ascii("ok").unwrap(), bad]).unwrap();
    }
    let mut src = open(&spec(&path, json!({ "texts": "s" }))).unwrap();
    let b = src.next_batch(10).unwrap().unwrap();
    assert_eq!(b.rows[0].as_ref().unwrap().text.as_deref(), Some("caf"));
    assert_eq!(b.rows[1].as_ref().unwrap().text.as_deref(), Some("ok"));
    let e = b.rows[2].as_ref().unwrap_err();
    assert_eq!((e.code.as_str(), e.position.row), ("ERR_PARSE", Some(2)));
}

#[test]
fn space_padded_fixed_strings_are_trimmed() {
    // Fortran and MATLAB write blank-padded strings (H5T_STR_SPACEPAD): make such a type.
    let path = tmp("spacepad.h5");
    {
        use hdf5_sys::h5t::{H5T_str_t, H5Tcopy, H5Tset_size, H5Tset_strpad};
        let f = hdf5::File::create(&path).unwrap();
        // SAFETY: a copy of the predefined C string type, resized and re-padded; the new id
        // is handed to `Datatype`, which owns and closes it.
        let dtype: hdf5::Datatype = hdf5::sync::sync(|| unsafe {
            let t = H5Tcopy(*hdf5::globals::H5T_C_S1);
            assert!(H5Tset_size(t, 8) >= 0 && H5Tset_strpad(t, H5T_str_t::H5T_STR_SPACEPAD) >= 0);
            hdf5::from_id(t)
        })
        .unwrap();
        let ds = f.new_dataset_builder().empty_as(&dtype).shape(3).create("s").unwrap();
        // The library converts the null padding of these to blanks on the way in.
        let values = ["ab", "abcdefgh", ""].map(|v| FixedAscii::<8>::from_ascii(v).unwrap());
        ds.write_raw(&values).unwrap();
    }
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.windows(16).any(|w| w == b"ab      abcdefgh"), "the file holds blank-padded strings");
    let mut src = open(&spec(&path, json!({ "texts": "s" }))).unwrap();
    let recs = drain(src.as_mut(), 10);
    let texts: Vec<Option<&str>> = recs.iter().map(|r| r.text.as_deref()).collect();
    assert_eq!(texts, [Some("ab"), Some("abcdefgh"), Some("")]);
}

/// Library errors are printed to stderr by HDF5 unless silenced: run the error tests in a
/// child process and look at what it wrote.
#[test]
fn library_errors_never_reach_stderr() {
    if std::env::var_os("HK_HDF5_QUIET_CHILD").is_some() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    // no other test may have an HDF5 file open while the child is forked (see FILES)
    let _alone = FILES.write().unwrap_or_else(|e| e.into_inner());
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "missing_file_and_not_hdf5",
            "truncated_file_is_a_parse_error",
            "missing_dataset_lists_the_files_datasets",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HK_HDF5_QUIET_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("3 passed"), "{stdout}");
    assert!(!stderr.contains("HDF5-DIAG") && !stdout.contains("HDF5-DIAG"), "{stderr}");
}

/// Filter ids only the child process of [`filters_this_build_lacks`] registers: one that
/// passes data through, one that always fails (so writers skip it: filters added by h5py
/// and the `hdf5` crate are optional).
const PASS_FILTER: i32 = 32100;
const FAILING_FILTER: i32 = 32101;

/// Child side of [`filters_this_build_lacks`]: registers both private filters and writes
/// `<path>-applied.h5` through the first and `<path>-skipped.h5` through the second.
#[test]
fn write_with_private_filters_child() {
    let Some(base) = std::env::var_os("HK_HDF5_FILTER_CHILD") else { return };
    use hdf5_sys::h5z::{H5Z_class2_t, H5Zregister, H5Z_CLASS_T_VERS};
    use std::os::raw::c_uint;
    unsafe extern "C" fn pass(_f: c_uint, _n: usize, _cd: *const c_uint, nbytes: usize, _bs: *mut usize, _b: *mut *mut std::ffi::c_void) -> usize {
        nbytes
    }
    unsafe extern "C" fn fail(_f: c_uint, _n: usize, _cd: *const c_uint, _nb: usize, _bs: *mut usize, _b: *mut *mut std::ffi::c_void) -> usize {
        0
    }
    for (id, func) in [(PASS_FILTER, pass as _), (FAILING_FILTER, fail as _)] {
        let class = H5Z_class2_t {
            version: H5Z_CLASS_T_VERS as _,
            id,
            encoder_present: 1,
            decoder_present: 1,
            name: c"hektor-test-filter".as_ptr(),
            can_apply: None,
            set_local: None,
            filter: Some(func),
        };
        // SAFETY: a valid class with a 'static name (the library copies the struct);
        // registered before any dataset uses it.
        let rc = hdf5::sync::sync(|| unsafe { H5Zregister(std::ptr::addr_of!(class).cast()) });
        assert!(rc >= 0);
    }
    let flat: Vec<f32> = (0..40).map(|x| x as f32).collect();
    for (id, suffix) in [(PASS_FILTER, "-applied.h5"), (FAILING_FILTER, "-skipped.h5")] {
        let mut path = base.clone();
        path.push(suffix);
        let f = hdf5::File::create(&path).unwrap();
        f.new_dataset::<f32>().shape((10, 4)).chunk((5, 4)).add_filter(id, &[]).create("v").unwrap().write_raw(&flat).unwrap();
    }
}

#[test]
fn filters_this_build_lacks() {
    // no other test may have an HDF5 file open while the child is forked (see FILES)
    let base = TempFile(std::env::temp_dir().join(format!("hk-hdf5-{}-private-filter", std::process::id())), None);
    let _alone = FILES.write().unwrap_or_else(|e| e.into_inner());
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "write_with_private_filters_child", "--test-threads=1"])
        .env("HK_HDF5_FILTER_CHILD", base.as_os_str())
        .output()
        .unwrap();
    let applied = TempFile(PathBuf::from(format!("{}-applied.h5", base.display())), None);
    let skipped = TempFile(PathBuf::from(format!("{}-skipped.h5", base.display())), None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // Data written through a filter this process lacks: refused when the source opens.
    let e = open_err(&spec(&applied, json!({ "vectors": "v" })));
    assert_eq!(e.code.as_str(), "ERR_PARSE");
    assert_eq!(e.position.field.as_deref(), Some("vector"));
    assert!(e.message.contains("HDF5 filter 32100") && e.message.contains("'/v'"), "{}", e.message);

    // The same optional filter, skipped by the writer: the data reads.
    let mut src = open(&spec(&skipped, json!({ "vectors": "v" }))).unwrap();
    assert_eq!(drain(src.as_mut(), 3)[9].vector, Some(vec![36.0, 37.0, 38.0, 39.0]));
}
