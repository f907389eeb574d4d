//! Enforcement of a collection's [`Limits`] on the records of one upsert.
//!
//! Every check is iterative (an explicit stack, never recursion), so metadata nested
//! arbitrarily deep is refused with `ERR_LIMIT` instead of overflowing the stack, and
//! it stops at the first record over a cap. Nothing is written when a check fails.

use super::config::Limits;
use crate::error::{Error, ErrorCode, Result};
use crate::store::Record;
use serde_json::Value;

/// Checks a batch of the caller's records against `limits`: the number of records, then
/// for each record its metadata depth and its size. The error is `ERR_LIMIT` with the
/// collection `source`, the record's row and the field (`metadata`, `text`, `vector` or
/// `id`: the largest part of an oversized record).
pub fn check_batch(limits: &Limits, records: &[Record], source: &str) -> Result<()> {
    check_batch_len(limits, records.len(), source)?;
    check_records(limits, records, source)
}

/// Checks the number of records of one write batch against `limits.maxBatchRecords`.
pub fn check_batch_len(limits: &Limits, n: usize, source: &str) -> Result<()> {
    if n > limits.max_batch_records {
        return Err(Error::new(
            ErrorCode::Limit,
            format!("a write batch has {n} records, above limits.maxBatchRecords ({}); split it", limits.max_batch_records),
        )
        .with_source(source));
    }
    Ok(())
}

/// Checks each record's metadata depth and size (see [`check_batch`]), stopping at the
/// first record over a cap.
pub fn check_records(limits: &Limits, records: &[Record], source: &str) -> Result<()> {
    for (row, r) in records.iter().enumerate() {
        check_record(limits, r).map_err(|(field, e)| e.with_row(row as u64).with_field(field).with_source(source))?;
    }
    Ok(())
}

/// Checks a vector dimension against `limits.maxDimension`; `ERR_LIMIT` when above.
pub fn check_dimension(limits: &Limits, dimension: usize) -> Result<()> {
    if dimension > limits.max_dimension {
        return Err(Error::new(
            ErrorCode::Limit,
            format!("vector has {dimension} dimensions, above limits.maxDimension ({})", limits.max_dimension),
        ));
    }
    Ok(())
}

/// Checks one record; on failure returns the field to blame with the error.
fn check_record(limits: &Limits, r: &Record) -> std::result::Result<(), (&'static str, Error)> {
    let max = limits.max_record_bytes;
    let id = r.id.len() as u64;
    let text = r.text.as_ref().map_or(0, |t| t.len() as u64);
    let vector = r.vector.as_ref().map_or(0, |v| v.len() as u64 * 4);
    if let Some(v) = &r.vector {
        check_dimension(limits, v.len()).map_err(|e| ("vector", e))?;
    }
    let fixed = id + text + vector;
    let meta = match &r.metadata {
        Some(m) => {
            // the budget left for metadata: the walk stops as soon as it is exceeded
            let budget = max.saturating_sub(fixed);
            match measure(m, limits.max_metadata_depth, budget) {
                Measure::TooDeep => {
                    return Err((
                        "metadata",
                        Error::new(ErrorCode::Limit, format!("metadata is nested deeper than limits.maxMetadataDepth ({})", limits.max_metadata_depth)),
                    ))
                }
                Measure::TooLarge => max.saturating_add(1),
                Measure::Bytes(n) => n,
            }
        }
        None => 0,
    };
    let total = fixed.saturating_add(meta);
    if total > max {
        let field = [("metadata", meta), ("text", text), ("vector", vector), ("id", id)].into_iter().max_by_key(|&(_, n)| n).map_or("metadata", |(f, _)| f);
        let size = if meta > max { format!("more than {max}") } else { total.to_string() };
        return Err((field, Error::new(ErrorCode::Limit, format!("record is {size} bytes, above limits.maxRecordBytes ({max})"))));
    }
    Ok(())
}

/// Outcome of [`measure`].
#[derive(Debug, PartialEq, Eq)]
enum Measure {
    /// Nested deeper than allowed.
    TooDeep,
    /// Larger than the budget (the walk stopped there).
    TooLarge,
    /// Its size as compact JSON (what `serde_json::to_vec` writes).
    Bytes(u64),
}

/// Size of `v` as compact JSON and check of its nesting (`v` itself is depth 1 when it
/// is an object or array; scalars inside add no depth), without recursion.
fn measure(v: &Value, max_depth: u32, budget: u64) -> Measure {
    let mut total: u64 = 0;
    let mut stack: Vec<(&Value, u32)> = vec![(v, 1)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Null => total += 4,
            Value::Bool(b) => total += if *b { 4 } else { 5 },
            Value::Number(n) => total += n.to_string().len() as u64,
            Value::String(s) => total += json_str_len(s),
            Value::Array(a) => {
                if depth > max_depth {
                    return Measure::TooDeep;
                }
                total += 2 + a.len().saturating_sub(1) as u64;
                stack.extend(a.iter().map(|x| (x, depth + 1)));
            }
            Value::Object(o) => {
                if depth > max_depth {
                    return Measure::TooDeep;
                }
                // braces, commas, and per entry a key and a colon
                total += 2 + o.len().saturating_sub(1) as u64;
                for (k, x) in o {
                    total += json_str_len(k) + 1;
                    stack.push((x, depth + 1));
                }
            }
        }
        if total > budget {
            return Measure::TooLarge;
        }
    }
    Measure::Bytes(total)
}

/// Length of `s` as a JSON string literal (quotes and escapes included), as serde_json writes it.
fn json_str_len(s: &str) -> u64 {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(id: &str, text: Option<String>, vector: Option<Vec<f32>>, metadata: Option<Value>) -> Record {
        Record { id: id.into(), text, vector, metadata }
    }

    /// `{"a": {"a": ... {"a": 1}}}` with `depth` objects, built without recursion.
    fn nested(depth: usize) -> Value {
        let mut v = json!(1);
        for _ in 0..depth {
            // not `json!({"a": v})`, which clones `v` through `to_value` (recursively)
            let mut m = serde_json::Map::new();
            m.insert("a".into(), v);
            v = Value::Object(m);
        }
        v
    }

    #[test]
    fn measure_matches_serde_json() {
        for v in [
            json!({}),
            json!([]),
            json!({"a": 1, "b": [true, false, null, -1.5e300, 12345678901234u64], "c": {"d": "x\"y\\z\n\u{1}é🎉"}}),
            json!({"tags": ["a", "b"], "n": 0.1, "nested": [[], {}, [{"k": ""}]]}),
        ] {
            assert_eq!(measure(&v, 32, u64::MAX), Measure::Bytes(serde_json::to_vec(&v).unwrap().len() as u64), "{v}");
        }
        assert_eq!(measure(&json!({"a": "xxxxxxxxxx"}), 32, 5), Measure::TooLarge);
    }

    #[test]
    fn depth() {
        assert_eq!(measure(&nested(3), 3, u64::MAX), Measure::Bytes(serde_json::to_vec(&nested(3)).unwrap().len() as u64));
        assert_eq!(measure(&nested(4), 3, u64::MAX), Measure::TooDeep);
        assert_eq!(measure(&json!({"a": [[1]]}), 3, u64::MAX), Measure::Bytes(11));
        assert_eq!(measure(&json!({"a": [[[1]]]}), 3, u64::MAX), Measure::TooDeep);
        let l = Limits::default();
        let e = check_batch(&l, &[rec("ok", None, None, Some(nested(32))), rec("deep", None, None, Some(nested(40)))], "c").unwrap_err();
        assert_eq!(e.code(), ErrorCode::Limit);
        assert_eq!(e.location().row, Some(1));
        assert_eq!(e.location().field.as_deref(), Some("metadata"));
        assert_eq!(e.location().source.as_deref(), Some("c"));
        assert!(e.message().contains("maxMetadataDepth"), "{}", e.message());
    }

    #[test]
    fn very_deep_metadata_is_a_clean_error() {
        // 100,000 levels: a recursive walk (or serde_json's serializer) would overflow the
        // stack. Built and dropped on a thread with a large stack, as serde_json's Value
        // drops recursively; the check itself runs on a small one.
        let v = std::thread::Builder::new().stack_size(256 << 20).spawn(|| nested(100_000)).unwrap().join().unwrap();
        let records = vec![rec("x", None, None, Some(v))];
        let records = std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(move || {
                let e = check_batch(&Limits::default(), &records, "c").unwrap_err();
                assert_eq!(e.code(), ErrorCode::Limit);
                records
            })
            .unwrap()
            .join()
            .unwrap();
        std::thread::Builder::new().stack_size(256 << 20).spawn(move || drop(records)).unwrap().join().unwrap();
    }

    #[test]
    fn record_size() {
        let l = Limits { max_record_bytes: 1024, ..Limits::default() };
        let ok = rec("a", Some("x".repeat(1000)), None, Some(json!({"k": 1})));
        check_batch(&l, &[ok.clone()], "c").unwrap();
        let cases = [
            (rec("a", Some("x".repeat(1100)), None, None), "text"),
            (rec("a", None, Some(vec![0.5; 300]), None), "vector"),
            (rec("a", Some("x".repeat(10)), None, Some(json!({"k": "y".repeat(2000)}))), "metadata"),
            (rec(&"i".repeat(1025), None, None, None), "id"),
        ];
        for (r, field) in cases {
            let e = check_batch(&l, &[ok.clone(), ok.clone(), r], "c").unwrap_err();
            assert_eq!(e.code(), ErrorCode::Limit);
            assert_eq!(e.location().row, Some(2));
            assert_eq!(e.location().field.as_deref(), Some(field));
            assert!(e.message().contains("maxRecordBytes"), "{}", e.message());
        }
        // exactly at the cap is fine: 1 (id) + 1023 (text)
        check_batch(&l, &[rec("a", Some("x".repeat(1023)), None, None)], "c").unwrap();
        check_batch(&l, &[rec("a", Some("x".repeat(1024)), None, None)], "c").unwrap_err();
    }

    #[test]
    fn batch_and_dimension() {
        let l = Limits { max_batch_records: 3, max_dimension: 4, ..Limits::default() };
        let r = rec("a", None, Some(vec![1.0; 4]), None);
        check_batch(&l, &vec![r.clone(); 3], "c").unwrap();
        let e = check_batch(&l, &vec![r.clone(); 4], "c").unwrap_err();
        assert_eq!(e.code(), ErrorCode::Limit);
        assert!(e.message().contains("maxBatchRecords"), "{}", e.message());
        let e = check_batch(&l, &[r, rec("b", None, Some(vec![1.0; 5]), None)], "c").unwrap_err();
        assert_eq!(e.code(), ErrorCode::Limit);
        assert_eq!((e.location().row, e.location().field.as_deref()), (Some(1), Some("vector")));
        assert!(check_dimension(&l, 4).is_ok() && check_dimension(&l, 5).is_err());
    }
}
