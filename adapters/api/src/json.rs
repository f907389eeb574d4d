//! JSON renderings of typed scalars shared by the binary-format sources (avro, protobuf):
//! 64-bit integers that survive JavaScript, floats without binary noise, bytes as base64.

use base64::Engine;
use serde_json::{Number, Value};

/// The largest integer a JavaScript number holds exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A JSON number, or a decimal string when `v` is outside ±(2^53 - 1) and a JavaScript
/// number would silently round it.
pub fn int(v: i64) -> Value {
    if v.unsigned_abs() <= MAX_SAFE_INTEGER {
        Value::Number(v.into())
    } else {
        Value::String(v.to_string())
    }
}

/// A JSON number for a finite `f64`; `"NaN"`, `"Infinity"` or `"-Infinity"` otherwise (as
/// the Avro and protobuf JSON encodings spell them), since JSON has no such numbers.
pub fn double(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".into()),
        None if v > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// Like [`double`] for an `f32`, widened through its shortest decimal form so that `0.1f32`
/// reads back as `0.1` rather than `0.10000000149011612`.
pub fn float(v: f32) -> Value {
    if !v.is_finite() {
        return double(f64::from(v));
    }
    let mut buf = ryu::Buffer::new();
    let widened = buf.format_finite(v).parse::<f64>().unwrap_or(f64::from(v));
    double(widened)
}

/// Standard base64 (with padding), the rendering of `bytes` fields.
pub fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// [`int`] for unsigned 64-bit values.
pub fn uint(v: u64) -> Value {
    if v <= MAX_SAFE_INTEGER {
        Value::Number(v.into())
    } else {
        Value::String(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_beyond_2_53_become_strings() {
        assert_eq!(int(-9_007_199_254_740_991), json!(-9_007_199_254_740_991i64));
        assert_eq!(int(9_007_199_254_740_992), json!("9007199254740992"));
        assert_eq!(uint(u64::MAX), json!("18446744073709551615"));
    }

    #[test]
    fn floats() {
        assert_eq!(float(0.1), json!(0.1));
        assert_eq!(double(f64::INFINITY), json!("Infinity"));
    }
}
