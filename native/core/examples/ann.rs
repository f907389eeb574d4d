//! Engine-only ANN benchmark (no N-API): builds a collection from TEXMEX files
//! (`base.fvecs`, `query.fvecs`, `gt.ivecs`, as written by the shared `gen_dataset.py`)
//! and sweeps `ef`, printing recall@10 and single-thread QPS.
//!
//! `cargo run --release --example ann -- DATA_DIR [WORK_DIR] [--sq8]`
//! With an existing WORK_DIR/db it reopens instead of building; `--sq8` uses (and
//! builds) a collection with `quantization: 'sq8'` beside the full-precision one.

use hektor_core::{CollectionConfig, Database, OpenOptionsDb, Quantization, Record, SearchQuery, Select};
use std::path::PathBuf;
use std::time::Instant;

fn read_vecs(path: &PathBuf) -> (Vec<f32>, usize) {
    let buf = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let d = i32::from_le_bytes(buf[0..4].try_into().unwrap()) as usize;
    let row = 4 * (d + 1);
    let n = buf.len() / row;
    let mut out = Vec::with_capacity(n * d);
    for i in 0..n {
        for j in 0..d {
            let o = i * row + 4 + 4 * j;
            out.push(f32::from_le_bytes(buf[o..o + 4].try_into().unwrap()));
        }
    }
    (out, d)
}

fn main() {
    let mut args: Vec<String> = std::env::args().collect();
    let sq8 = args.iter().any(|a| a == "--sq8");
    args.retain(|a| a != "--sq8");
    let (name, quantization) = if sq8 { ("bench-sq8", Quantization::Sq8) } else { ("bench", Quantization::None) };
    let data = PathBuf::from(args.get(1).expect("usage: ann DATA_DIR [WORK_DIR]"));
    let work = PathBuf::from(args.get(2).cloned().unwrap_or_else(|| std::env::temp_dir().join("hektor-ann").display().to_string()));
    let (base, dim) = read_vecs(&data.join("base.fvecs"));
    let (queries, _) = read_vecs(&data.join("query.fvecs"));
    let (gt_raw, gtk) = read_vecs(&data.join("gt.ivecs"));
    let gt: Vec<i32> = gt_raw.iter().map(|x| x.to_bits() as i32).collect();
    let n = base.len() / dim;
    let nq = queries.len() / dim;
    let dbdir = work.join("db");
    let fresh = !dbdir.join(name).exists();
    let db = Database::open(&dbdir, OpenOptionsDb::default()).unwrap();
    let col = if fresh {
        let col = db.create_collection(name, CollectionConfig { dimension: Some(dim), quantization, ..Default::default() }).unwrap();
        let t = Instant::now();
        for s in (0..n).step_by(10_000) {
            let recs = (s..(s + 10_000).min(n))
                .map(|i| Record { id: i.to_string(), vector: Some(base[i * dim..(i + 1) * dim].to_vec()), ..Default::default() })
                .collect();
            col.upsert(recs).unwrap();
        }
        col.flush().unwrap();
        println!("build: {n} x {dim} in {:.1} s", t.elapsed().as_secs_f64());
        col
    } else {
        let t = Instant::now();
        let c = db.collection(name).unwrap();
        println!("reopen: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
        c
    };
    let none = Select { text: false, metadata: false, vector: false };
    for ef in [10, 16, 24, 32, 48, 64, 96, 128] {
        let t = Instant::now();
        let mut hit = 0;
        for qi in 0..nq {
            let q = SearchQuery { vector: Some(queries[qi * dim..(qi + 1) * dim].to_vec()), k: 10, ef: Some(ef), select: none, ..Default::default() };
            let res = col.search(&q).unwrap();
            let g = &gt[qi * gtk..qi * gtk + 10];
            hit += res.iter().filter(|h| g.contains(&h.id.parse::<i32>().unwrap())).count();
        }
        let secs = t.elapsed().as_secs_f64();
        println!("ef={ef:4} recall@10={:.4} qps={:.0}", hit as f64 / (nq * 10) as f64, nq as f64 / secs);
    }
    // searchBatch scaling: the same 1,000 queries (ef 16) on a pool of 1 thread, then of every core
    let batch: Vec<SearchQuery> = (0..nq)
        .map(|qi| SearchQuery { vector: Some(queries[qi * dim..(qi + 1) * dim].to_vec()), k: 10, ef: Some(16), select: none, ..Default::default() })
        .collect();
    let mut base_qps = 0.0;
    for threads in [1, std::thread::available_parallelism().map_or(1, |n| n.get())] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let t = Instant::now();
        let mut done = 0;
        while t.elapsed().as_secs_f64() < 3.0 {
            pool.install(|| col.search_batch(&batch, &hektor_core::Cancel::new())).unwrap();
            done += nq;
        }
        let qps = done as f64 / t.elapsed().as_secs_f64();
        if threads == 1 {
            base_qps = qps;
        }
        println!("searchBatch ef=16 threads={threads} qps={qps:.0} scaling={:.2}", qps / base_qps);
    }
}
