//! Arrow arrays to JSON values, a whole column at a time.
//!
//! | Arrow type | JSON |
//! | --- | --- |
//! | Null | `null` |
//! | Boolean | `true` / `false` |
//! | Int8..Int64, UInt8..UInt64 | integer (exact: `u64`/`i64`) |
//! | Float16, Float32 | number, shortest decimal that round-trips the value (`0.1f32` is `0.1`, not `0.10000000149011612`) |
//! | Float64 | number |
//! | NaN, +/-Infinity | `null` (JSON has no such numbers) |
//! | Decimal(p, s), s <= 0 and p - s <= 18 | integer |
//! | Decimal(p, s), p <= 15 | number (15 significant digits survive a trip through f64) |
//! | other Decimal | string with the exact decimal text, e.g. `"12345678901234567890.25"` (a number would lose digits) |
//! | Utf8, LargeUtf8, Utf8View | string |
//! | Binary, LargeBinary, BinaryView, FixedSizeBinary | base64 string (standard alphabet, padded) |
//! | FixedSizeBinary(16) with extension `arrow.uuid` | `"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"` |
//! | Date32, Date64 | `"YYYY-MM-DD"` |
//! | Timestamp without time zone | `"YYYY-MM-DDTHH:MM:SS[.fff[fff[fff]]]"` (wall-clock time, no offset) |
//! | Timestamp with a time zone | the same instant in UTC with a `Z` suffix (no time zone database needed) |
//! | Timestamp out of the calendar's range | integer in the column's unit |
//! | Time32, Time64 | `"HH:MM:SS[.fff]"` |
//! | Duration, Interval | ISO-8601 duration string (`"PT1.5S"`, `"P1Y2M"`) |
//! | List, LargeList, FixedSizeList, ListView, LargeListView | array |
//! | Struct | object |
//! | Map | object; keys are turned into strings (a later duplicate key wins) |
//! | Dictionary, RunEndEncoded | the decoded value |
//! | Union | the value of the selected member |
//!
//! A null slot is `null` at any depth.

use arrow::array::{Array, ArrayRef, AsArray, GenericListArray, OffsetSizeTrait};
use arrow::compute::cast;
use arrow::datatypes::*;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Number, Value};
use std::io::Write as _;

/// Converts every slot of `array` to a JSON value, in order (`result.len() == array.len()`).
///
/// `field` describes the array (its extension metadata picks UUID formatting for
/// `arrow.uuid` columns); the type mapping is in the [module docs](self).
pub fn array_to_json(array: &dyn Array, field: &Field) -> Result<Vec<Value>, ArrowError> {
    let n = array.len();
    Ok(match array.data_type() {
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => {
            let a = array.as_boolean();
            (0..n).map(|i| if a.is_null(i) { Value::Null } else { Value::Bool(a.value(i)) }).collect()
        }
        DataType::Int8 => primitive::<Int8Type>(array, Value::from),
        DataType::Int16 => primitive::<Int16Type>(array, Value::from),
        DataType::Int32 => primitive::<Int32Type>(array, Value::from),
        DataType::Int64 => primitive::<Int64Type>(array, Value::from),
        DataType::UInt8 => primitive::<UInt8Type>(array, Value::from),
        DataType::UInt16 => primitive::<UInt16Type>(array, Value::from),
        DataType::UInt32 => primitive::<UInt32Type>(array, Value::from),
        DataType::UInt64 => primitive::<UInt64Type>(array, Value::from),
        DataType::Float16 => primitive::<Float16Type>(array, |v| f32_to_json(v.to_f32())),
        DataType::Float32 => primitive::<Float32Type>(array, f32_to_json),
        DataType::Float64 => primitive::<Float64Type>(array, |v| Number::from_f64(v).map_or(Value::Null, Value::Number)),
        DataType::Decimal32(p, s) => decimal::<Decimal32Type>(array, *p, *s),
        DataType::Decimal64(p, s) => decimal::<Decimal64Type>(array, *p, *s),
        DataType::Decimal128(p, s) => decimal::<Decimal128Type>(array, *p, *s),
        DataType::Decimal256(p, s) => decimal::<Decimal256Type>(array, *p, *s),
        DataType::Utf8 => strings(array.as_string::<i32>().iter()),
        DataType::LargeUtf8 => strings(array.as_string::<i64>().iter()),
        DataType::Utf8View => strings(array.as_string_view().iter()),
        DataType::Binary => binaries(array.as_binary::<i32>().iter()),
        DataType::LargeBinary => binaries(array.as_binary::<i64>().iter()),
        DataType::BinaryView => binaries(array.as_binary_view().iter()),
        DataType::FixedSizeBinary(16) if field.extension_type_name() == Some("arrow.uuid") => {
            array.as_fixed_size_binary().iter().map(|v| v.map_or(Value::Null, |b| Value::String(uuid(b)))).collect()
        }
        DataType::FixedSizeBinary(_) => binaries(array.as_fixed_size_binary().iter()),
        DataType::Date32 => {
            let epoch = NaiveDate::default(); // 1970-01-01
            primitive::<Date32Type>(array, |d| match epoch.checked_add_signed(chrono::Duration::days(d as i64)) {
                Some(date) => Value::String(date.format("%Y-%m-%d").to_string()),
                None => Value::from(d),
            })
        }
        DataType::Date64 => primitive::<Date64Type>(array, |ms| match DateTime::from_timestamp_millis(ms) {
            Some(t) => Value::String(t.date_naive().format("%Y-%m-%d").to_string()),
            None => Value::from(ms),
        }),
        DataType::Timestamp(unit, tz) => {
            let utc = tz.is_some();
            match unit {
                TimeUnit::Second => timestamps::<TimestampSecondType>(array, utc, |v| DateTime::from_timestamp(v, 0)),
                TimeUnit::Millisecond => timestamps::<TimestampMillisecondType>(array, utc, DateTime::from_timestamp_millis),
                TimeUnit::Microsecond => timestamps::<TimestampMicrosecondType>(array, utc, DateTime::from_timestamp_micros),
                TimeUnit::Nanosecond => timestamps::<TimestampNanosecondType>(array, utc, |v| Some(DateTime::from_timestamp_nanos(v))),
            }
        }
        DataType::Time32(_) | DataType::Time64(_) | DataType::Duration(_) | DataType::Interval(_) => formatted(array)?,
        DataType::List(_) => list(array.as_list::<i32>())?,
        DataType::LargeList(_) => list(array.as_list::<i64>())?,
        DataType::ListView(f) => array_to_json(cast(array, &DataType::List(f.clone()))?.as_ref(), field)?,
        DataType::LargeListView(f) => array_to_json(cast(array, &DataType::LargeList(f.clone()))?.as_ref(), field)?,
        DataType::FixedSizeList(child, size) => {
            let a = array.as_fixed_size_list();
            let size = (*size).max(0) as usize;
            let values = a.values();
            let want = n.saturating_mul(size).min(values.len());
            let mut items = array_to_json(values.slice(0, want).as_ref(), child)?.into_iter();
            (0..n)
                .map(|i| {
                    let row: Vec<Value> = items.by_ref().take(size).collect();
                    if a.is_null(i) {
                        Value::Null
                    } else {
                        Value::Array(row)
                    }
                })
                .collect()
        }
        DataType::Struct(fields) => {
            let a = array.as_struct();
            let mut columns = Vec::with_capacity(fields.len());
            for (f, c) in fields.iter().zip(a.columns()) {
                columns.push((f.name(), array_to_json(c.as_ref(), f)?.into_iter()));
            }
            (0..n)
                .map(|i| {
                    let mut obj = Map::new();
                    for (name, values) in columns.iter_mut() {
                        if let Some(v) = values.next() {
                            obj.insert((*name).clone(), v);
                        }
                    }
                    if a.is_null(i) {
                        Value::Null
                    } else {
                        Value::Object(obj)
                    }
                })
                .collect()
        }
        DataType::Map(entries_field, _) => {
            let a = array.as_map();
            let offsets = a.value_offsets();
            let (start, end) = (offsets[0].max(0) as usize, offsets[n].max(0) as usize);
            let entries = a.entries().slice(start, end.saturating_sub(start));
            let (kf, vf) = match entries_field.data_type() {
                DataType::Struct(f) if f.len() == 2 => (f[0].clone(), f[1].clone()),
                other => return Err(ArrowError::InvalidArgumentError(format!("map entries must be a struct of key and value, found {other}"))),
            };
            let mut keys = array_to_json(entries.column(0).as_ref(), &kf)?.into_iter();
            let mut values = array_to_json(entries.column(1).as_ref(), &vf)?.into_iter();
            offsets
                .windows(2)
                .enumerate()
                .map(|(i, w)| {
                    let len = (w[1] - w[0]).max(0) as usize;
                    let mut obj = Map::new();
                    for (k, v) in keys.by_ref().take(len).zip(values.by_ref().take(len)) {
                        obj.insert(key_string(k), v);
                    }
                    if a.is_null(i) {
                        Value::Null
                    } else {
                        Value::Object(obj)
                    }
                })
                .collect()
        }
        DataType::Dictionary(_, value_type) => {
            let values_field = Field::new(field.name(), (**value_type).clone(), true).with_metadata(field.metadata().clone());
            array_to_json(cast(array, value_type)?.as_ref(), &values_field)?
        }
        DataType::RunEndEncoded(_, values) => array_to_json(cast(array, values.data_type())?.as_ref(), values)?,
        DataType::Union(fields, _) => {
            let a = array.as_union();
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                let type_id = a.type_id(i);
                let member = fields.iter().find(|(id, _)| *id == type_id).map(|(_, f)| f.clone());
                let v = a.value(i);
                out.push(match member {
                    Some(f) => array_to_json(v.as_ref(), &f)?.pop().unwrap_or(Value::Null),
                    None => Value::Null,
                });
            }
            out
        }
    })
}

fn primitive<T: ArrowPrimitiveType>(array: &dyn Array, f: impl Fn(T::Native) -> Value) -> Vec<Value> {
    let a = array.as_primitive::<T>();
    if a.null_count() == 0 {
        a.values().iter().map(|v| f(*v)).collect()
    } else {
        a.iter().map(|v| v.map_or(Value::Null, &f)).collect()
    }
}

/// The shortest decimal that reads back as the same `f32`, as a JSON number (`null` for
/// NaN and infinities).
pub fn f32_to_json(v: f32) -> Value {
    if !v.is_finite() {
        return Value::Null;
    }
    // `{:e}` prints the shortest round-tripping digits; at most ~15 bytes for an f32
    let mut buf = [0u8; 32];
    let mut w = &mut buf[..];
    let shortest = match write!(w, "{v:e}") {
        Ok(()) => {
            let len = 32 - w.len();
            std::str::from_utf8(&buf[..len]).ok().and_then(|s| s.parse::<f64>().ok())
        }
        Err(_) => None,
    };
    Number::from_f64(shortest.unwrap_or(v as f64)).map_or(Value::Null, Value::Number)
}

fn decimal<T: DecimalType>(array: &dyn Array, precision: u8, scale: i8) -> Vec<Value> {
    let integer = scale <= 0 && (precision as i32 - scale as i32) <= 18;
    let number = precision <= 15;
    primitive::<T>(array, |v| {
        let text = T::format_decimal(v, precision, scale);
        if integer {
            if let Ok(i) = text.parse::<i64>() {
                return Value::from(i);
            }
        } else if number {
            if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
                return Value::Number(n);
            }
        }
        Value::String(text)
    })
}

fn timestamps<T: ArrowPrimitiveType<Native = i64>>(array: &dyn Array, utc: bool, to_dt: impl Fn(i64) -> Option<DateTime<Utc>>) -> Vec<Value> {
    primitive::<T>(array, |v| match to_dt(v) {
        Some(t) => Value::String(iso_datetime(t.naive_utc(), utc)),
        None => Value::from(v),
    })
}

fn strings<'a>(it: impl Iterator<Item = Option<&'a str>>) -> Vec<Value> {
    it.map(|v| v.map_or(Value::Null, |s| Value::String(s.to_owned()))).collect()
}

fn binaries<'a>(it: impl Iterator<Item = Option<&'a [u8]>>) -> Vec<Value> {
    it.map(|v| v.map_or(Value::Null, |b| Value::String(base64::engine::general_purpose::STANDARD.encode(b)))).collect()
}

fn uuid(b: &[u8]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(char::from_digit((byte >> 4) as u32, 16).unwrap_or('0'));
        s.push(char::from_digit((byte & 15) as u32, 16).unwrap_or('0'));
    }
    s
}

/// ISO-8601 date and time with as many fraction digits as needed (0, 3, 6 or 9), and a
/// `Z` suffix when `utc`.
fn iso_datetime(t: NaiveDateTime, utc: bool) -> String {
    let mut s = t.format("%Y-%m-%dT%H:%M:%S%.f").to_string();
    if utc {
        s.push('Z');
    }
    s
}

fn formatted(array: &dyn Array) -> Result<Vec<Value>, ArrowError> {
    let options = FormatOptions::default();
    let f = ArrayFormatter::try_new(array, &options)?;
    Ok((0..array.len()).map(|i| if array.is_null(i) { Value::Null } else { Value::String(f.value(i).to_string()) }).collect())
}

fn list<O: OffsetSizeTrait>(a: &GenericListArray<O>) -> Result<Vec<Value>, ArrowError> {
    let offsets = a.value_offsets();
    let n = a.len();
    let start = offsets[0].as_usize();
    let end = offsets[n].as_usize();
    let child = match a.data_type() {
        DataType::List(f) | DataType::LargeList(f) => f.clone(),
        other => return Err(ArrowError::InvalidArgumentError(format!("not a list: {other}"))),
    };
    let values: ArrayRef = a.values().slice(start, end.saturating_sub(start));
    let mut items = array_to_json(values.as_ref(), &child)?.into_iter();
    Ok(offsets
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let len = (w[1] - w[0]).as_usize();
            let row: Vec<Value> = items.by_ref().take(len).collect();
            if a.is_null(i) {
                Value::Null
            } else {
                Value::Array(row)
            }
        })
        .collect())
}

fn key_string(k: Value) -> String {
    match k {
        Value::String(s) => s,
        Value::Null => "null".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_shortest() {
        assert_eq!(f32_to_json(0.1), serde_json::json!(0.1));
        assert_eq!(f32_to_json(-3.25e-20), serde_json::json!(-3.25e-20));
        assert_eq!(f32_to_json(f32::NAN), Value::Null);
        assert_eq!(f32_to_json(16_777_216.0), serde_json::json!(16777216.0));
    }

    #[test]
    fn datetime_fraction_digits() {
        let t = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap().naive_utc();
        assert_eq!(iso_datetime(t, true), "2023-11-14T22:13:20.123Z");
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap().naive_utc();
        assert_eq!(iso_datetime(t, false), "2023-11-14T22:13:20");
    }

    #[test]
    fn uuid_text() {
        let b: Vec<u8> = (0u8..16).collect();
        assert_eq!(uuid(&b), "00010203-0405-0607-0809-0a0b0c0d0e0f");
    }
}
