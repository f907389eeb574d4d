//! A decoded [`DynamicMessage`] as a JSON row, and the mapped vector taken out of it.
//!
//! Field names are the `.proto` names. Fields without presence (proto3 scalars, repeated,
//! map) are always present, with their default when unset, so every row has the same
//! columns; fields with presence (messages, `optional`, oneof members, proto2 scalars) appear
//! only when set. Well-known types (`google.protobuf.*`) use the protobuf JSON mapping
//! (`Timestamp` as RFC 3339, `Duration` as `"1.5s"`, wrappers as their value, `Struct` as an
//! object), through prost-reflect's serde support.

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, ReflectMessage, SerializeOptions, Value};
use hektor_adapters_api::json;
use serde_json::{Map, Value as Json};

/// The row for `msg`, consuming it.
pub(crate) fn message(mut msg: DynamicMessage) -> Json {
    let desc = msg.descriptor();
    if desc.full_name().starts_with("google.protobuf.") {
        return well_known(&msg);
    }
    let mut out = Map::new();
    for f in desc.fields() {
        let v = match msg.take_field(&f) {
            Some(v) => v,
            None if f.supports_presence() => continue,
            None => Value::default_value_for_field(&f),
        };
        out.insert(f.name().to_string(), field(v, &f));
    }
    Json::Object(out)
}

fn field(v: Value, f: &FieldDescriptor) -> Json {
    match v {
        Value::List(items) => {
            let kind = f.kind();
            Json::Array(items.into_iter().map(|x| scalar(x, &kind)).collect())
        }
        Value::Map(entries) => {
            let value_kind = match f.kind() {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other,
            };
            let mut out = Map::new();
            for (k, x) in entries {
                out.insert(map_key(k), scalar(x, &value_kind));
            }
            Json::Object(out)
        }
        other => scalar(other, &f.kind()),
    }
}

fn map_key(k: MapKey) -> String {
    match k {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(i) => i.to_string(),
        MapKey::I64(i) => i.to_string(),
        MapKey::U32(i) => i.to_string(),
        MapKey::U64(i) => i.to_string(),
        MapKey::String(s) => s,
    }
}

fn scalar(v: Value, kind: &Kind) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(b),
        Value::I32(i) => Json::from(i),
        Value::U32(i) => Json::from(i),
        Value::I64(i) => json::int(i),
        Value::U64(i) => json::uint(i),
        Value::F32(f) => json::float(f),
        Value::F64(f) => json::double(f),
        Value::String(s) => Json::String(s),
        Value::Bytes(b) => json::base64(&b),
        Value::EnumNumber(n) => match kind {
            Kind::Enum(e) => match e.get_value(n) {
                Some(v) => Json::String(v.name().to_string()),
                // A number this schema does not know (open enums keep it).
                None => Json::from(n),
            },
            _ => Json::from(n),
        },
        Value::Message(m) => message(m),
        // Lists and maps only occur as whole fields, handled by `field`.
        Value::List(items) => Json::Array(items.into_iter().map(|x| scalar(x, kind)).collect()),
        Value::Map(entries) => Json::Object(entries.into_iter().map(|(k, x)| (map_key(k), scalar(x, kind))).collect()),
    }
}

/// A `google.protobuf.*` message in the protobuf JSON mapping, 64-bit integers by our rule.
fn well_known(msg: &DynamicMessage) -> Json {
    let options = SerializeOptions::new().stringify_64_bit_integers(false).use_proto_field_name(true);
    match msg.serialize_with_options(serde_json::value::Serializer, &options) {
        Ok(mut v) => {
            safe_integers(&mut v);
            v
        }
        // Out-of-range timestamps and the like: fall back to the plain field mapping.
        Err(_) => {
            let mut out = Map::new();
            for (f, v) in msg.fields() {
                out.insert(f.name().to_string(), field(v.clone(), &f));
            }
            Json::Object(out)
        }
    }
}

fn safe_integers(v: &mut Json) {
    match v {
        Json::Number(n) => {
            let unsafe_int =
                n.as_i64().map(|i| i.unsigned_abs() > json::MAX_SAFE_INTEGER).or_else(|| n.as_u64().map(|u| u > json::MAX_SAFE_INTEGER));
            if unsafe_int == Some(true) {
                *v = Json::String(n.to_string());
            }
        }
        Json::Array(a) => a.iter_mut().for_each(safe_integers),
        Json::Object(o) => o.values_mut().for_each(safe_integers),
        _ => {}
    }
}

/// Takes the vector out of `msg` by `path` (singular message fields, then a repeated
/// float/double field); `None` when a message on the way or the list is unset or empty.
pub(crate) fn take_vector(msg: &mut DynamicMessage, path: &[FieldDescriptor]) -> Option<Vec<f32>> {
    let (last, parents) = path.split_last()?;
    let mut cur = msg;
    for f in parents {
        if !cur.has_field(f) {
            return None;
        }
        cur = cur.get_field_mut(f).as_message_mut()?;
    }
    match cur.take_field(last)? {
        Value::List(items) if !items.is_empty() => Some(
            items
                .iter()
                .map(|x| match *x {
                    Value::F32(f) => f,
                    Value::F64(d) => d as f32,
                    _ => f32::NAN,
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Removes the vector field from the row JSON (it is passed to the mapping natively).
pub(crate) fn remove_path(row: &mut Json, path: &[FieldDescriptor]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut cur = row;
    for f in parents {
        match cur.get_mut(f.name()) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Json::Object(o) = cur {
        o.remove(last.name());
    }
}
