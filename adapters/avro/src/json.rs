//! JSON renderings of Avro scalars shared by the converter: 64-bit integers that survive
//! JavaScript, floats without binary noise, binary as base64, exact decimals.

pub(crate) use hektor_adapters_api::json::{base64, double, float, int, MAX_SAFE_INTEGER};
use num_bigint::BigInt;
use serde_json::Value;

/// The decimal `unscaled × 10^-scale`: a JSON number when it round-trips exactly through
/// an `f64` (that is, its shortest `f64` rendering is the same digits), otherwise a string
/// with every digit, so no precision is ever lost silently.
/// Beyond this many leading zeros a decimal is written with an exponent (`"12E-1000000"`),
/// so a schema's huge `scale` cannot make a byte of data into megabytes of zeros.
const MAX_PLAIN_ZEROS: usize = 1_000;

pub(crate) fn decimal(unscaled: &BigInt, scale: usize) -> Value {
    let digits = unscaled.to_string();
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", digits.as_str()),
    };
    if scale > digits.len() + MAX_PLAIN_ZEROS {
        return Value::String(format!("{sign}{digits}E-{scale}"));
    }
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
