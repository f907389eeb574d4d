//! Prints the records of an hdf5 source as JSON lines: a quick look at how a file maps.
//!
//! ```text
//! cargo run -p hektor-source-hdf5 --example dump -- data.h5 '{"vectors": "/emb", "ids": "/ids"}' [LIMIT]
//! ```
use hektor_adapters_api::{FieldMapping, SourceSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, options) = match (args.first(), args.get(1)) {
        (Some(p), Some(o)) => (p.clone(), serde_json::from_str(o)?),
        _ => return Err("usage: dump FILE OPTIONS_JSON [LIMIT]".into()),
    };
    let limit: usize = args.get(2).map(|l| l.parse()).transpose()?.unwrap_or(10);
    let spec = SourceSpec { kind: "hdf5".into(), location: path, options, mapping: FieldMapping::default() };
    let mut src = hektor_source_hdf5::open(&spec)?;
    let mut shown = 0;
    while let Some(batch) = src.next_batch(limit.clamp(1, 1024))? {
        for row in batch.rows {
            if shown == limit {
                eprintln!("{:?}", src.progress());
                return Ok(());
            }
            match row {
                Ok(r) => println!("{}", serde_json::json!({ "id": r.id, "text": r.text, "vector": r.vector, "metadata": r.metadata })),
                Err(e) => println!("error {}: {e}", e.code.as_str()),
            }
            shown += 1;
        }
    }
    eprintln!("{:?}", src.progress());
    Ok(())
}
