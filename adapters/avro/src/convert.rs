//! Runs a compiled [`Resolution`] over one decoded Avro datum: the row as JSON, plus the
//! mapped vector decoded straight into `Vec<f32>`.

use crate::json;
use crate::resolve::{FieldSource, IntRender, Plan, Resolution};
use crate::time;
use apache_avro::types::Value;
use num_bigint::BigInt;
use serde_json::{Map, Value as Json};

/// Why a datum could not be converted, and where in it (a dotted path, innermost last).
#[derive(Debug)]
pub(crate) struct ConvertError {
    /// Path segments, outermost first.
    pub path: Vec<String>,
    /// What went wrong.
    pub message: String,
}

impl ConvertError {
    fn new(message: impl Into<String>) -> Self {
        ConvertError { path: Vec::new(), message: message.into() }
    }
    fn within(mut self, segment: impl Into<String>) -> Self {
        self.path.insert(0, segment.into());
        self
    }
}

type Result<T> = std::result::Result<T, ConvertError>;

/// Converts `datum` (decoded with the writer schema) into the reader-shaped JSON row and the
/// vector, if one is mapped and present. A datum that is not a record becomes
/// `{"value": ...}` so that it can still be mapped.
pub(crate) fn convert(res: &Resolution, datum: Value) -> Result<(Json, Option<Vec<f32>>)> {
    let mut vector = None;
    let row = run(&res.plans, res.root, datum, &mut vector)?;
    let row = match row {
        Json::Object(_) => row,
        other => {
            let mut m = Map::new();
            m.insert("value".into(), other);
            Json::Object(m)
        }
    };
    Ok((row, vector))
}

fn integer(v: &Value) -> Option<i64> {
    Some(match *v {
        Value::Int(i) | Value::Date(i) | Value::TimeMillis(i) => i64::from(i),
        Value::Long(l)
        | Value::TimeMicros(l)
        | Value::TimestampMillis(l)
        | Value::TimestampMicros(l)
        | Value::TimestampNanos(l)
        | Value::LocalTimestampMillis(l)
        | Value::LocalTimestampMicros(l)
        | Value::LocalTimestampNanos(l) => l,
        _ => return None,
    })
}

fn render_integer(i: i64, how: IntRender) -> Json {
    match how {
        IntRender::Number => json::int(i),
        IntRender::Date => Json::String(time::date(i)),
        IntRender::Time(unit) => Json::String(time::time_of_day(i, unit)),
        IntRender::Timestamp(unit, utc) => Json::String(time::timestamp(i, unit, utc)),
    }
}

fn variant(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Boolean(_) => "boolean",
        Value::Int(_) => "int",
        Value::Long(_) => "long",
        Value::Float(_) => "float",
        Value::Double(_) => "double",
        Value::Bytes(_) => "bytes",
        Value::String(_) => "string",
        Value::Fixed(..) => "fixed",
        Value::Enum(..) => "enum",
        Value::Union(..) => "union",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Record(_) => "record",
        Value::Decimal(_) | Value::BigDecimal(_) => "decimal",
        Value::Uuid(_) => "uuid",
        Value::Duration(_) => "duration",
        _ => "date/time",
    }
}

fn plan_name(p: &Plan) -> &'static str {
    match p {
        Plan::Null => "null",
        Plan::Boolean => "boolean",
        Plan::Integer(_) => "an integer",
        Plan::Float => "a float",
        Plan::String => "a string",
        Plan::Bytes => "bytes",
        Plan::Uuid => "a uuid",
        Plan::Decimal { .. } | Plan::BigDecimal => "a decimal",
        Plan::Duration => "a duration",
        Plan::Enum { .. } => "an enum",
        Plan::Array(_) | Plan::Vector => "an array",
        Plan::Map(_) => "a map",
        Plan::Record(_) => "a record",
        Plan::Union(_) => "a union",
    }
}

fn run(plans: &[Plan], id: usize, v: Value, vector: &mut Option<Vec<f32>>) -> Result<Json> {
    let plan = &plans[id];
    let v = match (plan, v) {
        (Plan::Union(branches), Value::Union(i, inner)) => {
            return match branches.get(i as usize) {
                Some(Ok(p)) => run(plans, *p, *inner, vector),
                Some(Err(msg)) => Err(ConvertError::new(msg.clone())),
                None => Err(ConvertError::new(format!("union branch {i} does not exist in the file's schema"))),
            };
        }
        // A union value under a non-union plan cannot come from the decoder; read through it.
        (_, Value::Union(_, inner)) => return run(plans, id, *inner, vector),
        (_, v) => v,
    };
    let mismatch = |v: &Value| ConvertError::new(format!("unexpected {} value where the schema has {}", variant(v), plan_name(plan)));
    Ok(match (plan, v) {
        (Plan::Null, _) => Json::Null,
        (Plan::Boolean, Value::Boolean(b)) => Json::Bool(b),
        (Plan::Integer(how), v) => render_integer(integer(&v).ok_or_else(|| mismatch(&v))?, *how),
        (Plan::Float, Value::Float(f)) => json::float(f),
        (Plan::Float, Value::Double(d)) => json::double(d),
        (Plan::Float, v) => json::double(integer(&v).ok_or_else(|| mismatch(&v))? as f64),
        (Plan::String, Value::String(s)) => Json::String(s),
        (Plan::String, Value::Bytes(b)) => {
            Json::String(String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
        }
        (Plan::String | Plan::Uuid, Value::Uuid(u)) => Json::String(u.to_string()),
        (Plan::Uuid, Value::String(s)) => Json::String(s),
        (Plan::Uuid, Value::Fixed(_, b) | Value::Bytes(b)) => match apache_avro::Uuid::from_slice(&b) {
            Ok(u) => Json::String(u.to_string()),
            Err(_) => json::base64(&b),
        },
        (Plan::Bytes, Value::Bytes(b) | Value::Fixed(_, b)) => json::base64(&b),
        (Plan::Bytes, Value::String(s)) => json::base64(s.as_bytes()),
        (Plan::Bytes, Value::Uuid(u)) => json::base64(u.as_bytes()),
        (Plan::Bytes, Value::Duration(d)) => json::base64(&<[u8; 12]>::from(d)),
        (Plan::Bytes, Value::Decimal(d)) => json::base64(&BigInt::from(d).to_signed_bytes_be()),
        (Plan::Decimal { scale }, Value::Decimal(d)) => json::decimal(&BigInt::from(d), *scale),
        (Plan::Decimal { scale }, Value::Bytes(b) | Value::Fixed(_, b)) => json::decimal(&BigInt::from_signed_bytes_be(&b), *scale),
        (Plan::BigDecimal, Value::BigDecimal(b)) => json::decimal_text(b.to_string()),
        (Plan::Duration, Value::Duration(d)) => duration(d),
        (Plan::Duration, Value::Fixed(_, b)) => match <[u8; 12]>::try_from(b.as_slice()) {
            Ok(a) => duration(apache_avro::Duration::from(a)),
            Err(_) => json::base64(&b),
        },
        (Plan::Enum { symbols, identity }, Value::Enum(i, symbol)) => {
            if *identity {
                Json::String(symbol)
            } else {
                match symbols.get(i as usize) {
                    Some(Some(s)) => Json::String(s.clone()),
                    _ => {
                        return Err(ConvertError::new(format!(
                            "enum symbol '{symbol}' is not in the reader schema, which has no enum default"
                        )))
                    }
                }
            }
        }
        (Plan::Array(p), Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, x) in items.into_iter().enumerate() {
                out.push(run(plans, *p, x, vector).map_err(|e| e.within(i.to_string()))?);
            }
            Json::Array(out)
        }
        (Plan::Map(p), Value::Map(entries)) => {
            let mut out = Map::new();
            for (k, x) in entries {
                let j = run(plans, *p, x, vector).map_err(|e| e.within(k.clone()))?;
                out.insert(k, j);
            }
            Json::Object(out)
        }
        (Plan::Record(fields), Value::Record(mut written)) => {
            let mut out = Map::new();
            for f in fields {
                match &f.source {
                    FieldSource::Writer { index, plan } => {
                        let x = match written.get_mut(*index) {
                            Some((_, x)) => std::mem::replace(x, Value::Null),
                            None => return Err(ConvertError::new(format!("record has no field #{index}")).within(f.name.clone())),
                        };
                        let j = run(plans, *plan, x, vector).map_err(|e| e.within(f.name.clone()))?;
                        if !f.is_vector {
                            out.insert(f.name.clone(), j);
                        }
                    }
                    FieldSource::Default(d) if !f.is_vector => {
                        out.insert(f.name.clone(), d.clone());
                    }
                    FieldSource::Default(_) => {}
                }
            }
            Json::Object(out)
        }
        (Plan::Vector, Value::Array(items)) => {
            *vector = Some(floats(&items)?);
            Json::Null
        }
        (_, v) => return Err(mismatch(&v)),
    })
}

/// The vector: every element of an array of float or double (ints accepted), as `f32`.
fn floats(items: &[Value]) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, x) in items.iter().enumerate() {
        out.push(match *x {
            Value::Float(f) => f,
            Value::Double(d) => d as f32,
            Value::Int(n) => n as f32,
            Value::Long(n) => n as f32,
            _ => return Err(ConvertError::new(format!("vector element {i} is {}, not a number", variant(x)))),
        });
    }
    Ok(out)
}

fn duration(d: apache_avro::Duration) -> Json {
    let mut m = Map::new();
    m.insert("months".into(), Json::from(u32::from(d.months())));
    m.insert("days".into(), Json::from(u32::from(d.days())));
    m.insert("millis".into(), Json::from(u32::from(d.millis())));
    Json::Object(m)
}
