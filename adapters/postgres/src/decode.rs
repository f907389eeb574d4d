//! PostgreSQL binary values to JSON, and vector columns straight to `Vec<f32>`.
//!
//! Each result column gets a [`Decoder`] when the query is prepared, so a type hektor
//! cannot read is reported before any row is fetched, naming the column.

use base64::Engine as _;
use chrono::{Duration, NaiveDate, NaiveDateTime, SecondsFormat};
use fallible_iterator::FallibleIterator;
use postgres_protocol::types as pg;
use serde_json::{Number, Value};
use std::error::Error;
use tokio_postgres::types::{FromSql, Kind, Type};

/// A decoding failure (the caller adds the row and column).
pub type DecodeError = Box<dyn Error + Sync + Send>;

/// How one column's binary values are read.
#[derive(Clone, Debug, PartialEq)]
pub enum Decoder {
    /// `bool`.
    Bool,
    /// `int2`.
    Int2,
    /// `int4`.
    Int4,
    /// `int8`.
    Int8,
    /// `oid`, `xid`, `cid`, `regclass`, ... (u32).
    Oid,
    /// `float4`.
    Float4,
    /// `float8`.
    Float8,
    /// `numeric`.
    Numeric,
    /// `money` (i64 cents, returned as a number of units).
    Money,
    /// `text`, `varchar`, `char(n)`, `name`, `xml`, `citext`, enums: UTF-8 text.
    Text,
    /// The one-byte `"char"`.
    Char,
    /// `json`.
    Json,
    /// `jsonb`.
    Jsonb,
    /// `uuid`.
    Uuid,
    /// `date`.
    Date,
    /// `time`.
    Time,
    /// `timetz`.
    TimeTz,
    /// `timestamp`.
    Timestamp,
    /// `timestamptz`.
    TimestampTz,
    /// `interval`.
    Interval,
    /// `bytea`.
    Bytea,
    /// `inet`.
    Inet,
    /// `cidr`.
    Cidr,
    /// `macaddr` / `macaddr8`.
    MacAddr,
    /// `bit` / `varbit`.
    Bit,
    /// pgvector `vector`.
    Vector,
    /// pgvector `halfvec`.
    HalfVec,
    /// pgvector `sparsevec` (densified).
    SparseVec,
    /// A one- or multi-dimensional array of the inner decoder's type.
    Array(Box<Decoder>),
}

impl Decoder {
    /// The decoder for `ty`, or `None` when hektor cannot read the type.
    pub fn for_type(ty: &Type) -> Option<Decoder> {
        use Decoder as D;
        let d = match *ty {
            Type::BOOL => D::Bool,
            Type::INT2 => D::Int2,
            Type::INT4 => D::Int4,
            Type::INT8 => D::Int8,
            Type::OID | Type::XID | Type::CID | Type::REGCLASS | Type::REGPROC | Type::REGTYPE => D::Oid,
            Type::FLOAT4 => D::Float4,
            Type::FLOAT8 => D::Float8,
            Type::NUMERIC => D::Numeric,
            Type::MONEY => D::Money,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::XML => D::Text,
            Type::CHAR => D::Char,
            Type::JSON => D::Json,
            Type::JSONB => D::Jsonb,
            Type::UUID => D::Uuid,
            Type::DATE => D::Date,
            Type::TIME => D::Time,
            Type::TIMETZ => D::TimeTz,
            Type::TIMESTAMP => D::Timestamp,
            Type::TIMESTAMPTZ => D::TimestampTz,
            Type::INTERVAL => D::Interval,
            Type::BYTEA => D::Bytea,
            Type::INET => D::Inet,
            Type::CIDR => D::Cidr,
            Type::MACADDR | Type::MACADDR8 => D::MacAddr,
            Type::BIT | Type::VARBIT => D::Bit,
            _ => match ty.kind() {
                Kind::Array(elem) => D::Array(Box::new(Decoder::for_type(elem)?)),
                Kind::Domain(base) => Decoder::for_type(base)?,
                Kind::Enum(_) => D::Text,
                _ => match ty.name() {
                    "vector" => D::Vector,
                    "halfvec" => D::HalfVec,
                    "sparsevec" => D::SparseVec,
                    "citext" => D::Text,
                    _ => return None,
                },
            },
        };
        Some(d)
    }

    /// True for the types whose values decode straight to a float vector: `real[]`,
    /// `double precision[]`, and pgvector's `vector`, `halfvec` and `sparsevec`.
    pub fn is_vector(&self) -> bool {
        match self {
            Decoder::Vector | Decoder::HalfVec | Decoder::SparseVec => true,
            Decoder::Array(inner) => matches!(**inner, Decoder::Float4 | Decoder::Float8),
            _ => false,
        }
    }
}

/// Decoding settings.
#[derive(Clone, Copy, Debug, Default)]
pub struct DecodeOptions {
    /// `numeric` as exact strings rather than numbers.
    pub numeric_as_string: bool,
}

/// Any column's raw binary value, borrowed from the row.
pub struct Raw<'a>(pub &'a [u8]);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, DecodeError> {
        Ok(Raw(raw))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

fn float(x: f64) -> Value {
    // NaN and infinities have no JSON number: keep PostgreSQL's spelling.
    Number::from_f64(x).map(Value::Number).unwrap_or_else(|| {
        Value::String(if x.is_nan() { "NaN".into() } else if x > 0.0 { "Infinity".into() } else { "-Infinity".into() })
    })
}

/// Decodes one non-null value.
pub fn to_json(d: &Decoder, raw: &[u8], opts: DecodeOptions) -> Result<Value, DecodeError> {
    Ok(match d {
        Decoder::Bool => Value::Bool(pg::bool_from_sql(raw)?),
        Decoder::Int2 => Value::from(pg::int2_from_sql(raw)?),
        Decoder::Int4 => Value::from(pg::int4_from_sql(raw)?),
        Decoder::Int8 => Value::from(pg::int8_from_sql(raw)?),
        Decoder::Oid => Value::from(pg::oid_from_sql(raw)?),
        Decoder::Float4 => float(pg::float4_from_sql(raw)? as f64),
        Decoder::Float8 => float(pg::float8_from_sql(raw)?),
        Decoder::Numeric => {
            let s = numeric_to_string(raw)?;
            if opts.numeric_as_string {
                Value::String(s)
            } else {
                match s.parse::<f64>() {
                    Ok(x) if x.is_finite() => float(x),
                    _ => Value::String(s),
                }
            }
        }
        Decoder::Money => float(pg::int8_from_sql(raw)? as f64 / 100.0),
        Decoder::Text => Value::String(pg::text_from_sql(raw)?.to_string()),
        Decoder::Char => Value::String(char::from(pg::char_from_sql(raw)? as u8).to_string()),
        Decoder::Json => serde_json::from_slice(raw)?,
        Decoder::Jsonb => match raw.split_first() {
            Some((1, rest)) => serde_json::from_slice(rest)?,
            _ => return Err("unsupported jsonb version".into()),
        },
        Decoder::Uuid => Value::String(uuid_string(&pg::uuid_from_sql(raw)?)),
        Decoder::Date => Value::String(date_string(pg::date_from_sql(raw)?)),
        Decoder::Time => Value::String(time_string(pg::time_from_sql(raw)?)),
        Decoder::TimeTz => {
            if raw.len() != 12 {
                return Err("invalid timetz length".into());
            }
            let t = pg::time_from_sql(&raw[..8])?;
            // PostgreSQL stores the zone as seconds *west* of UTC.
            let west = pg::int4_from_sql(&raw[8..])?;
            Value::String(format!("{}{}", time_string(t), offset_string(-west)))
        }
        Decoder::Timestamp => Value::String(timestamp_string(pg::timestamp_from_sql(raw)?, false)),
        Decoder::TimestampTz => Value::String(timestamp_string(pg::timestamp_from_sql(raw)?, true)),
        Decoder::Interval => {
            if raw.len() != 16 {
                return Err("invalid interval length".into());
            }
            let micros = pg::int8_from_sql(&raw[..8])?;
            let days = pg::int4_from_sql(&raw[8..12])?;
            let months = pg::int4_from_sql(&raw[12..])?;
            Value::String(interval_string(months, days, micros))
        }
        Decoder::Bytea => Value::String(base64::engine::general_purpose::STANDARD.encode(pg::bytea_from_sql(raw))),
        Decoder::Inet | Decoder::Cidr => {
            let inet = pg::inet_from_sql(raw)?;
            let full = if inet.addr().is_ipv4() { 32 } else { 128 };
            if *d == Decoder::Inet && inet.netmask() == full {
                Value::String(inet.addr().to_string())
            } else {
                Value::String(format!("{}/{}", inet.addr(), inet.netmask()))
            }
        }
        Decoder::MacAddr => Value::String(raw.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")),
        Decoder::Bit => {
            let bits = pg::varbit_from_sql(raw)?;
            let bytes = bits.bytes();
            Value::String((0..bits.len()).map(|i| if bytes[i / 8] & (0x80 >> (i % 8)) != 0 { '1' } else { '0' }).collect())
        }
        Decoder::Vector | Decoder::HalfVec | Decoder::SparseVec => {
            Value::Array(to_vector(d, raw)?.into_iter().map(|x| float(x as f64)).collect())
        }
        Decoder::Array(inner) => {
            let array = pg::array_from_sql(raw)?;
            let dims: Vec<usize> = array.dimensions().map(|d| Ok(d.len.max(0) as usize)).collect()?;
            let mut values = Vec::with_capacity(dims.iter().product::<usize>().min(1 << 20));
            let mut it = array.values();
            while let Some(v) = it.next()? {
                values.push(match v {
                    None => Value::Null,
                    Some(b) => to_json(inner, b, opts)?,
                });
            }
            reshape(values, &dims)
        }
    })
}

/// Folds the flat element list of a multi-dimensional array into nested arrays.
fn reshape(values: Vec<Value>, dims: &[usize]) -> Value {
    if dims.len() <= 1 {
        return Value::Array(values);
    }
    let inner: usize = dims[1..].iter().product();
    let mut out = Vec::with_capacity(dims[0]);
    let mut it = values.into_iter();
    for _ in 0..dims[0] {
        let chunk: Vec<Value> = it.by_ref().take(inner).collect();
        out.push(reshape(chunk, &dims[1..]));
    }
    Value::Array(out)
}

/// Decodes a vector column natively (no JSON numbers in between).
pub fn to_vector(d: &Decoder, raw: &[u8]) -> Result<Vec<f32>, DecodeError> {
    match d {
        Decoder::Vector => {
            let dim = header_u16(raw)?;
            let body = raw.get(4..4 + 4 * dim).ok_or("truncated vector value")?;
            Ok(body.chunks_exact(4).map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect())
        }
        Decoder::HalfVec => {
            let dim = header_u16(raw)?;
            let body = raw.get(4..4 + 2 * dim).ok_or("truncated halfvec value")?;
            Ok(body.chunks_exact(2).map(|c| f16_to_f32(u16::from_be_bytes([c[0], c[1]]))).collect())
        }
        Decoder::SparseVec => {
            let int = |i: usize| raw.get(i..i + 4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])).ok_or("truncated sparsevec value");
            let dim = usize::try_from(int(0)?).map_err(|_| "negative sparsevec dimension")?;
            let nnz = usize::try_from(int(4)?).map_err(|_| "negative sparsevec count")?;
            if dim > 1 << 24 || nnz > dim {
                return Err("invalid sparsevec header".into());
            }
            let mut out = vec![0f32; dim];
            for k in 0..nnz {
                let idx = usize::try_from(int(12 + 4 * k)?).map_err(|_| "negative sparsevec index")?;
                let bits = int(12 + 4 * nnz + 4 * k)? as u32;
                *out.get_mut(idx).ok_or("sparsevec index out of range")? = f32::from_bits(bits);
            }
            Ok(out)
        }
        Decoder::Array(inner) if matches!(**inner, Decoder::Float4 | Decoder::Float8) => {
            let array = pg::array_from_sql(raw)?;
            if array.dimensions().count()? > 1 {
                return Err("a vector must be a one-dimensional array".into());
            }
            let mut out = Vec::new();
            let mut it = array.values();
            while let Some(v) = it.next()? {
                let b = v.ok_or("a vector must not contain NULL elements")?;
                out.push(if **inner == Decoder::Float4 { pg::float4_from_sql(b)? } else { pg::float8_from_sql(b)? as f32 });
            }
            Ok(out)
        }
        _ => Err("not a vector type".into()),
    }
}

fn header_u16(raw: &[u8]) -> Result<usize, DecodeError> {
    match raw {
        [a, b, _, _, ..] => Ok(u16::from_be_bytes([*a, *b]) as usize),
        _ => Err("truncated vector header".into()),
    }
}

/// IEEE 754 half precision to single precision.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // subnormal: renormalise
            let shift = f.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | (((f << shift) & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 112) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// The exact decimal text of a binary `numeric` (`NaN`, `Infinity` and `-Infinity` spelled
/// as PostgreSQL does).
pub fn numeric_to_string(raw: &[u8]) -> Result<String, DecodeError> {
    let word = |i: usize| raw.get(2 * i..2 * i + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or("truncated numeric");
    let ndigits = word(0)? as usize;
    let weight = word(1)? as i16 as i32;
    let sign = word(2)?;
    let dscale = word(3)? as usize;
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        0x0000 | 0x4000 => {}
        _ => return Err("invalid numeric sign".into()),
    }
    let digits = (0..ndigits).map(|i| word(4 + i)).collect::<Result<Vec<u16>, _>>()?;
    let digit = |i: i32| if i >= 0 && (i as usize) < digits.len() { digits[i as usize] } else { 0 };
    let mut s = String::with_capacity(8 + 4 * ndigits + dscale);
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for i in 0..=weight {
            if i == 0 {
                s.push_str(&digit(0).to_string());
            } else {
                s.push_str(&format!("{:04}", digit(i)));
            }
        }
    }
    if dscale > 0 {
        s.push('.');
        let mut frac = String::with_capacity(dscale + 4);
        let mut i = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", digit(i)));
            i += 1;
        }
        frac.truncate(dscale);
        s.push_str(&frac);
    }
    Ok(s)
}

fn uuid_string(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
}

fn date_string(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        d => match epoch().date().checked_add_signed(Duration::days(d as i64)) {
            Some(date) => date.format("%Y-%m-%d").to_string(),
            None => d.to_string(),
        },
    }
}

fn time_string(micros: i64) -> String {
    let (secs, us) = (micros.div_euclid(1_000_000), micros.rem_euclid(1_000_000));
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if us == 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        let frac = format!("{us:06}");
        format!("{h:02}:{m:02}:{s:02}.{}", frac.trim_end_matches('0'))
    }
}

fn offset_string(east_secs: i32) -> String {
    let sign = if east_secs < 0 { '-' } else { '+' };
    let a = east_secs.unsigned_abs();
    if a.is_multiple_of(60) {
        format!("{sign}{:02}:{:02}", a / 3600, (a / 60) % 60)
    } else {
        format!("{sign}{:02}:{:02}:{:02}", a / 3600, (a / 60) % 60, a % 60)
    }
}

fn timestamp_string(micros: i64, utc: bool) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        us => match epoch().checked_add_signed(Duration::microseconds(us)) {
            Some(t) => {
                let s = t.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true);
                if utc {
                    s
                } else {
                    s.trim_end_matches('Z').to_string()
                }
            }
            None => us.to_string(),
        },
    }
}

/// ISO 8601 duration, as PostgreSQL's `IntervalStyle = iso_8601` writes it.
fn interval_string(months: i32, days: i32, micros: i64) -> String {
    let mut s = String::from("P");
    let (years, months) = (months / 12, months % 12);
    if years != 0 {
        s.push_str(&format!("{years}Y"));
    }
    if months != 0 {
        s.push_str(&format!("{months}M"));
    }
    if days != 0 {
        s.push_str(&format!("{days}D"));
    }
    if micros != 0 {
        s.push('T');
        let neg = micros < 0;
        let a = micros.unsigned_abs();
        let (h, m, sec, us) = (a / 3_600_000_000, (a / 60_000_000) % 60, (a / 1_000_000) % 60, a % 1_000_000);
        let sg = if neg { "-" } else { "" };
        if h != 0 {
            s.push_str(&format!("{sg}{h}H"));
        }
        if m != 0 {
            s.push_str(&format!("{sg}{m}M"));
        }
        if sec != 0 || us != 0 {
            if us == 0 {
                s.push_str(&format!("{sg}{sec}S"));
            } else {
                let frac = format!("{us:06}");
                s.push_str(&format!("{sg}{sec}.{}S", frac.trim_end_matches('0')));
            }
        }
    }
    if s == "P" {
        s.push_str("T0S");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn intervals_and_times() {
        assert_eq!(interval_string(14, 3, 4 * 3_600_000_000 + 5 * 60_000_000 + 6_500_000), "P1Y2M3DT4H5M6.5S");
        assert_eq!(interval_string(0, 0, -90_000_000), "PT-1M-30S");
        assert_eq!(interval_string(0, 0, 0), "PT0S");
        assert_eq!(time_string(3_723_000_100), "01:02:03.0001");
        assert_eq!(offset_string(-5 * 3600 - 1800), "-05:30");
        assert_eq!(date_string(0), "2000-01-01");
        assert_eq!(timestamp_string(1_500_000, true), "2000-01-01T00:00:01.500Z");
        assert_eq!(timestamp_string(i64::MAX, false), "infinity");
    }
}
