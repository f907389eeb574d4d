//! JSON renderings of Avro scalars shared by the converter: 64-bit integers that survive
//! JavaScript, floats without binary noise, binary as base64, exact decimals.

use base64::Engine;
use num_bigint::BigInt;
use serde_json::{Number, Value};

/// The largest integer a JavaScript number holds exactly (2^53 - 1).
pub(crate) const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A JSON number, or a decimal string when `v` is outside ±(2^53 - 1) and a JavaScript
/// number would silently round it.
pub(crate) fn int(v: i64) -> Value {
    if v.unsigned_abs() <= MAX_SAFE_INTEGER {
        Value::Number(v.into())
    } else {
        Value::String(v.to_string())
    }
}

/// A JSON number for a finite `f64`; `"NaN"`, `"Infinity"` or `"-Infinity"` otherwise (as
/// the Avro and protobuf JSON encodings spell them), since JSON has no such numbers.
pub(crate) fn double(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".into()),
        None if v > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// Like [`double`] for an `f32`, widened through its shortest decimal form so that `0.1f32`
/// reads back as `0.1` rather than `0.10000000149011612`.
pub(crate) fn float(v: f32) -> Value {
    if !v.is_finite() {
        return double(f64::from(v));
    }
    let mut buf = ryu::Buffer::new();
    let widened = buf.format_finite(v).parse::<f64>().unwrap_or(f64::from(v));
    double(widened)
}

/// Standard base64 (with padding) of `bytes`, the rendering of `bytes` and `fixed`.
pub(crate) fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The decimal `unscaled × 10^-scale`: a JSON number when it round-trips exactly through
/// an `f64` (that is, its shortest `f64` rendering is the same digits), otherwise a string
/// with every digit, so no precision is ever lost silently.
pub(crate) fn decimal(unscaled: &BigInt, scale: usize) -> Value {
    let digits = unscaled.to_string();
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", digits.as_str()),
    };
    let text = if scale == 0 {
        format!("{sign}{digits}")
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        format!("{sign}{int}.{frac}")
    } else {
        format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
    };
    decimal_text(text)
}

/// A decimal given as plain text (`-12.50`): a number when its digits survive an `f64`.
pub(crate) fn decimal_text(text: String) -> Value {
    let normal = match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.'),
        false => text.as_str(),
    };
    let normal = if normal == "-0" { "0" } else { normal };
    if let Ok(i) = normal.parse::<i64>() {
        if i.unsigned_abs() <= MAX_SAFE_INTEGER {
            return Value::Number(i.into());
        }
    }
    if let Ok(f) = normal.parse::<f64>() {
        // Rust prints the shortest digits that read back as `f`, never in exponent form.
        if f.is_finite() && f.to_string() == normal {
            return double(f);
        }
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_beyond_2_53_become_strings() {
        assert_eq!(int(9_007_199_254_740_991), json!(9_007_199_254_740_991u64));
        assert_eq!(int(-9_007_199_254_740_992), json!("-9007199254740992"));
        assert_eq!(int(i64::MIN), json!(i64::MIN.to_string()));
    }

    #[test]
    fn floats() {
        assert_eq!(float(0.1), json!(0.1));
        assert_eq!(float(f32::NAN), json!("NaN"));
        assert_eq!(double(f64::NEG_INFINITY), json!("-Infinity"));
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal(&BigInt::from(1234), 2), json!(12.34));
        assert_eq!(decimal(&BigInt::from(-5), 3), json!(-0.005));
        assert_eq!(decimal(&BigInt::from(1250), 2), json!(12.5));
        assert_eq!(decimal(&BigInt::from(42), 0), json!(42));
        assert_eq!(decimal(&BigInt::from(0), 2), json!(0));
        let big: BigInt = "123456789012345678901234567890".parse().unwrap();
        assert_eq!(decimal(&big, 4), json!("12345678901234567890123456.7890"));
        assert_eq!(decimal_text("12345678901234567890".into()), json!("12345678901234567890"));
    }
}
