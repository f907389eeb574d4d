//! Reads an HDF5 file's vectors (and optional ids) through the source and reports rows/s
//! and MB/s; writes a synthetic file first when given `--make N D`.
//!
//! ```text
//! cargo run --release -p hektor-source-hdf5 --example throughput -- /tmp/v.h5 --make 1000000 128
//! cargo run --release -p hektor-source-hdf5 --example throughput -- data.h5 /train [/ids]
//! ```
use std::time::Instant;

use hektor_adapters_api::{FieldMapping, SourceSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or("usage: throughput FILE [--make N D | VECTORS [IDS]]")?.clone();
    let (vectors, ids) = if args.get(1).map(String::as_str) == Some("--make") {
        let n: usize = args.get(2).ok_or("N")?.parse()?;
        let d: usize = args.get(3).ok_or("D")?.parse()?;
        let t = Instant::now();
        let f = hdf5::File::create(&path)?;
        let v = f.new_dataset::<f32>().shape((n, d)).chunk((4096.min(n.max(1)), d)).shuffle().deflate(1).create("train")?;
        let ids = f.new_dataset::<i64>().shape(n).chunk(65536.min(n.max(1))).create("ids")?;
        for start in (0..n).step_by(65536) {
            let end = (start + 65536).min(n);
            let block: Vec<f32> = (start * d..end * d).map(|x| ((x * 7919) % 1000) as f32 / 1000.0).collect();
            v.write_slice(ndarray_view(&block, end - start, d), (start..end, ..))?;
            let idv: Vec<i64> = (start as i64..end as i64).collect();
            ids.write_slice(&idv, start..end)?;
        }
        eprintln!("wrote {n} x {d} in {:.1}s", t.elapsed().as_secs_f64());
        ("/train".to_string(), Some("/ids".to_string()))
    } else {
        (args.get(1).cloned().unwrap_or_else(|| "/train".into()), args.get(2).cloned())
    };
    let spec = SourceSpec {
        kind: "hdf5".into(),
        location: path.clone(),
        options: serde_json::json!({ "vectors": vectors, "ids": ids }),
        mapping: FieldMapping::default(),
    };
    let t = Instant::now();
    let mut src = hektor_source_hdf5::open(&spec)?;
    let (mut rows, mut floats) = (0usize, 0usize);
    while let Some(b) = src.next_batch(1024)? {
        for r in b.rows {
            floats += r?.vector.map_or(0, |v| v.len());
            rows += 1;
        }
    }
    let s = t.elapsed().as_secs_f64();
    let mb = (floats * 4) as f64 / 1e6;
    println!("{rows} rows, {mb:.0} MB of f32 in {s:.2}s: {:.0} rows/s, {:.0} MB/s", rows as f64 / s, mb / s);
    Ok(())
}

/// A row-major `rows x d` view of `flat`, as the writer wants it.
fn ndarray_view(flat: &[f32], rows: usize, d: usize) -> ndarray::ArrayView2<'_, f32> {
    ndarray::ArrayView2::from_shape((rows, d), flat).expect("shape")
}
