//! Redis values to JSON rows: hash fields (with optional type inference), JSON strings,
//! RedisJSON documents; vectors from JSON text or little-endian float32 bytes.

use crate::options::VectorEncoding;
use base64::Engine as _;
use serde_json::{Map, Number, Value};

/// A hash field value as JSON: UTF-8 text (numbers and booleans inferred when asked),
/// or base64 for binary values.
pub fn field_value(bytes: &[u8], infer: bool) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) if infer => infer_scalar(s),
        Ok(s) => Value::String(s.to_string()),
        Err(_) => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
    }
}

/// `"42"` -> 42, `"-3.5"` -> -3.5, `"true"`/`"false"` -> booleans; anything else stays a
/// string, including forms that would not survive a round trip (`"007"`, `"1e3"`, `"+1"`,
/// `" 1"`, integers beyond i64).
pub fn infer_scalar(s: &str) -> Value {
    match s {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let canonical_int = !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && (int == "0" || !int.starts_with('0'));
    if !canonical_int {
        return Value::String(s.to_string());
    }
    match frac {
        None => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(s.to_string())),
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number).unwrap_or_else(|| Value::String(s.to_string()))
        }
        Some(_) => Value::String(s.to_string()),
    }
}

/// Decodes a vector held in a hash field.
pub fn hash_vector(bytes: &[u8], encoding: VectorEncoding) -> Result<Vec<f32>, String> {
    match encoding {
        VectorEncoding::Json => serde_json::from_slice::<Vec<f32>>(bytes).map_err(|e| format!("vector field is not a JSON array of numbers ({e}); set vectorEncoding: 'f32le' for raw float32 bytes")),
        VectorEncoding::F32le => {
            if !bytes.len().is_multiple_of(4) {
                return Err(format!("vector field has {} bytes, not a multiple of 4 (float32)", bytes.len()));
            }
            Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        }
    }
}

/// A JSON document as a row: objects as they are, anything else as `{ "value": v }`.
pub fn json_row(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            m
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inference_keeps_what_would_not_round_trip() {
        for (s, v) in [("42", json!(42)), ("-7", json!(-7)), ("0", json!(0)), ("3.50", json!(3.5)), ("-0.25", json!(-0.25)), ("true", json!(true))] {
            assert_eq!(infer_scalar(s), v, "{s}");
        }
        for s in ["007", "1e3", "+1", " 1", "1.", ".5", "99999999999999999999", "True", "", "-", "1.2.3", "0x10", "NaN"] {
            assert_eq!(infer_scalar(s), json!(s), "{s}");
        }
        assert_eq!(field_value(&[0xff, 0x00], true), json!("/wA="));
        assert_eq!(field_value(b"12", false), json!("12"));
    }

    #[test]
    fn vectors() {
        let bytes: Vec<u8> = [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(hash_vector(&bytes, VectorEncoding::F32le).unwrap(), vec![1.5, -2.0]);
        assert!(hash_vector(&bytes[..5], VectorEncoding::F32le).is_err());
        assert_eq!(hash_vector(b"[1, 2.5]", VectorEncoding::Json).unwrap(), vec![1.0, 2.5]);
        assert!(hash_vector(&bytes, VectorEncoding::Json).unwrap_err().contains("f32le"));
    }
}
