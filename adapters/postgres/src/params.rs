//! Query parameters from JSON: each value is sent in PostgreSQL's text form and the server
//! converts it to the type it inferred for `$n`, so any type with a text input works
//! (numeric, date, timestamptz, uuid, inet, pgvector's `vector`, arrays, jsonb, ...).

use bytes::{BufMut, BytesMut};
use serde_json::Value;
use std::error::Error;
use tokio_postgres::types::{to_sql_checked, Format, IsNull, Kind, ToSql, Type};

/// One bound parameter.
#[derive(Debug)]
pub struct JsonParam(pub Value);

impl ToSql for JsonParam {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        if self.0.is_null() {
            return Ok(IsNull::Yes);
        }
        match (ty.kind(), &self.0) {
            // json/jsonb take JSON text, including for a bare string
            _ if is_json(ty) => out.put_slice(serde_json::to_string(&self.0)?.as_bytes()),
            (Kind::Array(elem), Value::Array(items)) => array_literal(items, is_json(elem), out),
            (_, v) => scalar_text(v, out),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

fn is_json(ty: &Type) -> bool {
    *ty == Type::JSON || *ty == Type::JSONB
}

fn scalar_text(v: &Value, out: &mut BytesMut) {
    match v {
        Value::String(s) => out.put_slice(s.as_bytes()),
        Value::Bool(b) => out.put_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.put_slice(n.to_string().as_bytes()),
        // arrays for non-array types (pgvector's `[1,2,3]`) and objects: their JSON text
        other => out.put_slice(other.to_string().as_bytes()),
    }
}

/// Writes a PostgreSQL array literal: `{1,"a \"b\"",NULL,{2,3}}`.
fn array_literal(items: &[Value], json_elems: bool, out: &mut BytesMut) {
    out.put_u8(b'{');
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        match v {
            Value::Null => out.put_slice(b"NULL"),
            Value::Array(inner) if !json_elems => array_literal(inner, json_elems, out),
            v => {
                let mut text = BytesMut::new();
                if json_elems {
                    text.put_slice(v.to_string().as_bytes());
                } else {
                    scalar_text(v, &mut text);
                }
                out.put_u8(b'"');
                for &b in text.iter() {
                    if b == b'"' || b == b'\\' {
                        out.put_u8(b'\\');
                    }
                    out.put_u8(b);
                }
                out.put_u8(b'"');
            }
        }
    }
    out.put_u8(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(v: Value, ty: &Type) -> String {
        let mut out = BytesMut::new();
        JsonParam(v).to_sql(ty, &mut out).unwrap();
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn literals() {
        assert_eq!(text(json!(["a\"b", null, 3, [true]]), &Type::TEXT_ARRAY), r#"{"a\"b",NULL,"3",{"true"}}"#);
        assert_eq!(text(json!("x"), &Type::JSONB), r#""x""#);
        assert_eq!(text(json!([{"a": 1}]), &Type::JSONB_ARRAY), r#"{"{\"a\":1}"}"#);
        assert_eq!(text(json!([1.5, 2]), &Type::TEXT), "[1.5,2]");
        assert_eq!(text(json!(42), &Type::INT4), "42");
    }
}
