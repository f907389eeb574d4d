//! Typing of text values: inference of numbers and booleans, and vectors written as text.
//!
//! This file is identical in the csv and xml source crates (a candidate for `adapters/api`).

use std::str::FromStr;

use serde_json::{Number, Value};

/// The JSON value a piece of text most likely stands for: `true`/`false` (any case) become
/// booleans; text in JSON number syntax becomes a number when that loses nothing (integers
/// beyond 64 bits, infinite floats stay text); everything else stays a string. Leading
/// zeros (`"007"`, `"02134"`), a leading `+`, `NaN` and `inf` stay text, so codes and zip
/// codes survive.
pub fn infer(s: &str) -> Value {
    match number_syntax(s.as_bytes()) {
        Some(true) => {
            if let Ok(i) = s.parse::<i64>() {
                return Value::Number(i.into());
            }
            if let Ok(u) = s.parse::<u64>() {
                return Value::Number(u.into());
            }
            Value::String(s.to_string())
        }
        Some(false) => match s.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Value::Number(n),
            None => Value::String(s.to_string()),
        },
        None => match parse_bool(s) {
            Some(b) => Value::Bool(b),
            None => Value::String(s.to_string()),
        },
    }
}

/// `true`/`false` in any case (inference); [`parse_bool_loose`] accepts more spellings.
fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The spellings of a boolean accepted where a column is declared boolean: `true/false`,
/// `t/f`, `yes/no`, `y/n`, `1/0` (any case).
#[allow(dead_code)] // the csv crate's typed columns use it; the xml crate does not
pub fn parse_bool_loose(s: &str) -> Option<bool> {
    let t = s.trim();
    for (word, b) in [
        ("true", true),
        ("false", false),
        ("t", true),
        ("f", false),
        ("yes", true),
        ("no", false),
        ("y", true),
        ("n", false),
        ("1", true),
        ("0", false),
    ] {
        if t.eq_ignore_ascii_case(word) {
            return Some(b);
        }
    }
    None
}

/// `Some(true)` for a JSON integer, `Some(false)` for a JSON number with a fraction or an
/// exponent, `None` for anything else (RFC 8259 grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`).
fn number_syntax(b: &[u8]) -> Option<bool> {
    let mut i = usize::from(b.first() == Some(&b'-'));
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        _ => return None,
    }
    let mut integer = true;
    if b.get(i) == Some(&b'.') {
        integer = false;
        i += 1;
        let start = i;
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        integer = false;
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    (i == b.len()).then_some(integer)
}

/// Parses a vector written as text: a JSON-style list (`[0.1, 0.2]`), or numbers separated
/// by `separator`, or, without a separator, by commas when there is one, else by
/// whitespace (`0.1 0.2`). An empty list is an empty vector. The error names the bad element.
pub fn parse_vector<T: FromStr + Copy + Into<f64>>(s: &str, separator: Option<&str>) -> Result<Vec<T>, String> {
    let mut t = s.trim();
    if let Some(inner) = t.strip_prefix('[') {
        t = inner.strip_suffix(']').ok_or_else(|| "a vector that starts with '[' must end with ']'".to_string())?.trim();
    }
    let mut out = Vec::with_capacity(t.len() / 8 + 1);
    let mut push = |(i, part): (usize, &str)| -> Result<(), String> {
        let p = part.trim();
        let x: T = p.parse().map_err(|_| format!("vector element {i} ('{}') is not a number", clip(p)))?;
        if !x.into().is_finite() {
            return Err(format!("vector element {i} ('{}') is not finite", clip(p)));
        }
        out.push(x);
        Ok(())
    };
    if t.is_empty() {
        return Ok(Vec::new());
    }
    match separator {
        Some(sep) if !sep.trim().is_empty() => t.split(sep).enumerate().try_for_each(&mut push)?,
        _ if separator.is_none() && t.contains(',') => t.split(',').enumerate().try_for_each(&mut push)?,
        _ => t.split_ascii_whitespace().enumerate().try_for_each(&mut push)?,
    }
    Ok(out)
}

/// At most 40 characters of `s`, for messages.
pub fn clip(s: &str) -> String {
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(40).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inference_keeps_codes_as_text() {
        assert_eq!(infer("42"), json!(42));
        assert_eq!(infer("-7"), json!(-7));
        assert_eq!(infer("0"), json!(0));
        assert_eq!(infer("2.5"), json!(2.5));
        assert_eq!(infer("1e3"), json!(1000.0));
        assert_eq!(infer("18446744073709551615"), json!(18446744073709551615u64));
        assert_eq!(infer("123456789012345678901234567890"), json!("123456789012345678901234567890"));
        assert_eq!(infer("007"), json!("007"));
        assert_eq!(infer("+1"), json!("+1"));
        assert_eq!(infer("1."), json!("1."));
        assert_eq!(infer(".5"), json!(".5"));
        assert_eq!(infer("NaN"), json!("NaN"));
        assert_eq!(infer("1e999"), json!("1e999"));
        assert_eq!(infer("TRUE"), json!(true));
        assert_eq!(infer("false"), json!(false));
        assert_eq!(infer("yes"), json!("yes"));
        assert_eq!(infer(" 1"), json!(" 1"));
    }

    #[test]
    fn vectors_as_text() {
        let v = |s: &str, sep: Option<&str>| parse_vector::<f32>(s, sep);
        assert_eq!(v("[0.5, 1, -2e-1]", None).unwrap(), vec![0.5, 1.0, -0.2]);
        assert_eq!(v(" 0.5  1\t2 ", None).unwrap(), vec![0.5, 1.0, 2.0]);
        assert_eq!(v("0.5;1", Some(";")).unwrap(), vec![0.5, 1.0]);
        assert_eq!(v("0.5 1", Some(" ")).unwrap(), vec![0.5, 1.0]);
        assert_eq!(v("[]", None).unwrap(), Vec::<f32>::new());
        assert!(v("[1, x]", None).unwrap_err().contains("element 1 ('x')"));
        assert!(v("[1, 2", None).is_err());
        assert!(v("1,inf", None).is_err());
        assert_eq!(parse_vector::<f64>("0.1", None).unwrap(), vec![0.1]);
        assert_eq!(parse_bool_loose("Yes"), Some(true));
        assert_eq!(parse_bool_loose("0"), Some(false));
        assert_eq!(parse_bool_loose("maybe"), None);
    }
}
