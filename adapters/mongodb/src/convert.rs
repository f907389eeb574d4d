//! BSON to plain JSON (relaxed extended JSON without the `$` wrappers), straight from the
//! raw bytes of each document, and BSON arrays or vectors to `Vec<f32>`.

use base64::Engine as _;
use mongodb::bson::raw::{RawArray, RawBsonRef, RawDocument};
use mongodb::bson::spec::BinarySubtype;
use serde_json::{Map, Number, Value};

/// A conversion failure (malformed BSON); the caller adds the position.
pub type ConvertError = String;

fn float(x: f64) -> Value {
    Number::from_f64(x).map(Value::Number).unwrap_or_else(|| {
        Value::String(if x.is_nan() { "NaN".into() } else if x > 0.0 { "Infinity".into() } else { "-Infinity".into() })
    })
}

/// Converts a raw document to a JSON object.
pub fn document(doc: &RawDocument) -> Result<Map<String, Value>, ConvertError> {
    let mut map = Map::new();
    for item in doc.iter() {
        let (key, value) = item.map_err(|e| e.to_string())?;
        map.insert(key.to_string(), value_of(value)?);
    }
    Ok(map)
}

fn array(arr: &RawArray) -> Result<Vec<Value>, ConvertError> {
    arr.into_iter().map(|v| value_of(v.map_err(|e| e.to_string())?)).collect()
}

/// Converts a raw BSON document to the JSON object a mapping sees (`ERR_PARSE` on
/// malformed BSON).
pub fn document_to_json(doc: &RawDocument) -> Result<Value, hektor_adapters_api::AdapterError> {
    document(doc).map(Value::Object).map_err(|m| hektor_adapters_api::AdapterError::new(hektor_adapters_api::AdapterErrorCode::Parse, m, Default::default()))
}

/// Converts one BSON value.
pub fn value_of(v: RawBsonRef<'_>) -> Result<Value, ConvertError> {
    Ok(match v {
        RawBsonRef::Double(x) => float(x),
        RawBsonRef::String(s) | RawBsonRef::Symbol(s) | RawBsonRef::JavaScriptCode(s) => Value::String(s.to_string()),
        RawBsonRef::JavaScriptCodeWithScope(c) => Value::String(c.code.to_string()),
        RawBsonRef::Array(a) => Value::Array(array(a)?),
        RawBsonRef::Document(d) => Value::Object(document(d)?),
        RawBsonRef::Boolean(b) => Value::Bool(b),
        RawBsonRef::Null | RawBsonRef::Undefined => Value::Null,
        RawBsonRef::RegularExpression(r) => Value::String(format!("/{}/{}", r.pattern, r.options)),
        RawBsonRef::Int32(i) => Value::from(i),
        RawBsonRef::Int64(i) => Value::from(i),
        RawBsonRef::Timestamp(t) => serde_json::json!({"t": t.time, "i": t.increment}),
        RawBsonRef::Binary(b) => match b.subtype {
            BinarySubtype::Uuid | BinarySubtype::UuidOld if b.bytes.len() == 16 => Value::String(uuid_string(b.bytes)),
            BinarySubtype::Vector => Value::Array(binary_vector(b.bytes)?.into_iter().map(|x| float(x as f64)).collect()),
            _ => Value::String(base64::engine::general_purpose::STANDARD.encode(b.bytes)),
        },
        RawBsonRef::ObjectId(o) => Value::String(o.to_hex()),
        RawBsonRef::DateTime(d) => match d.try_to_rfc3339_string() {
            Ok(s) => Value::String(s),
            Err(_) => Value::from(d.timestamp_millis()),
        },
        RawBsonRef::Decimal128(d) => Value::String(d.to_string()),
        RawBsonRef::MaxKey => Value::String("MaxKey".into()),
        RawBsonRef::MinKey => Value::String("MinKey".into()),
        RawBsonRef::DbPointer(_) => Value::Null,
    })
}

fn uuid_string(b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Decodes a vector field natively: a BSON array of numbers (double, int32, int64,
/// decimal128 excluded), or a BSON binary vector (subtype 9: float32, int8, packed bits).
/// `Ok(None)` for null; `Err` says what is wrong.
pub fn vector(v: RawBsonRef<'_>) -> Result<Option<Vec<f32>>, String> {
    match v {
        RawBsonRef::Null | RawBsonRef::Undefined => Ok(None),
        RawBsonRef::Array(a) => {
            let mut out = Vec::new();
            for (i, item) in a.into_iter().enumerate() {
                out.push(match item.map_err(|e| e.to_string())? {
                    RawBsonRef::Double(x) => x as f32,
                    RawBsonRef::Int32(x) => x as f32,
                    RawBsonRef::Int64(x) => x as f32,
                    other => return Err(format!("vector element {i} is a {:?}, not a number", other.element_type())),
                });
            }
            Ok(Some(out))
        }
        RawBsonRef::Binary(b) if b.subtype == BinarySubtype::Vector => binary_vector(b.bytes).map(Some),
        other => Err(format!("vector must be an array of numbers, found a {:?}", other.element_type())),
    }
}

/// BSON binary vector (subtype 9): a dtype byte, a padding byte, then the elements.
fn binary_vector(bytes: &[u8]) -> Result<Vec<f32>, String> {
    let [dtype, padding, body @ ..] = bytes else { return Err("truncated binary vector".into()) };
    match *dtype {
        0x27 => {
            if !body.len().is_multiple_of(4) {
                return Err("float32 binary vector length is not a multiple of 4".into());
            }
            Ok(body.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        }
        0x03 => Ok(body.iter().map(|&b| b as i8 as f32).collect()),
        0x10 => {
            let bits = (body.len() * 8).checked_sub(*padding as usize).ok_or("invalid packed-bit padding")?;
            Ok((0..bits).map(|i| if body[i / 8] & (0x80 >> (i % 8)) != 0 { 1.0 } else { 0.0 }).collect())
        }
        d => Err(format!("unknown binary vector dtype 0x{d:02x}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{doc, Binary, RawDocumentBuf};

    #[test]
    fn binary_vectors() {
        let mut f = vec![0x27, 0];
        for x in [1.5f32, -2.0] {
            f.extend_from_slice(&x.to_le_bytes());
        }
        assert_eq!(binary_vector(&f).unwrap(), vec![1.5, -2.0]);
        assert_eq!(binary_vector(&[0x03, 0, 0xff, 2]).unwrap(), vec![-1.0, 2.0]);
        assert_eq!(binary_vector(&[0x10, 6, 0b1010_0000]).unwrap(), vec![1.0, 0.0]);
        assert!(binary_vector(&[0x27]).is_err());
        assert!(binary_vector(&[0x27, 0, 1, 2, 3]).is_err());
        let d = RawDocumentBuf::from_document(&doc! {"v": Binary { subtype: BinarySubtype::Vector, bytes: f }}).unwrap();
        assert_eq!(vector(d.get("v").unwrap().unwrap()).unwrap(), Some(vec![1.5, -2.0]));
    }
}
