//! Property tests of the filter compiler over arbitrary JSON (proptest): every document
//! compiles or is refused with `ERR_INVALID_ARG`, never a panic; a compiled filter
//! evaluates any metadata without panicking; documents nested past [`MAX_DEPTH`] are
//! refused.

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

use super::{Filter, MAX_DEPTH};
use crate::error::ErrorCode;

/// Keys biased towards operators (known, unsupported and misspelt), dotted paths and
/// numeric segments.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$not", "$and", "$or", "$nor",
            "$regex", "$elemMatch", "$size", "$", "$EQ", "$in ",
        ]).prop_map(str::to_string),
        4 => prop::sample::select(vec!["a", "b", "a.b", "a.0", "0", "a..b", ".a", "a.", "", "tags", "n.n.n"]).prop_map(str::to_string),
        1 => "[a-z$.0-9]{0,12}",
        1 => any::<String>(),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| Value::Number(i.into())),
        any::<u64>().prop_map(|u| Value::Number(u.into())),
        any::<f64>().prop_filter_map("finite", Number::from_f64).prop_map(Value::Number),
        prop::sample::select(vec![0.0, -0.0, 1e308, -1e-308, 0.5]).prop_filter_map("finite", Number::from_f64).prop_map(Value::Number),
        "[a-c]{0,3}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(8, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5).prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn arbitrary_documents_compile_or_are_invalid_args(doc in json(), meta in json()) {
        match Filter::parse(&doc) {
            Ok(f) => {
                f.matches(Some(&meta));
                f.matches(None);
                f.is_empty();
            }
            Err(e) => {
                prop_assert_eq!(e.code(), ErrorCode::InvalidArg, "{}", e);
                prop_assert!(!e.message().is_empty() && e.message().len() < 2_000, "{}", e.message());
            }
        }
    }

    /// Any top-level object (operators at random depths).
    #[test]
    fn arbitrary_objects(kv in prop::collection::vec((key(), json()), 0..6), meta in json()) {
        let doc = Value::Object(kv.into_iter().collect());
        if let Ok(f) = Filter::parse(&doc) {
            f.matches(Some(&meta));
        }
    }

    /// Nesting past the limit, through any mix of wrappers, is refused.
    #[test]
    fn deep_documents_are_refused(wrappers in prop::collection::vec(0..6u8, MAX_DEPTH + 1..MAX_DEPTH * 4)) {
        let mut v = serde_json::json!({"a": 1});
        for w in &wrappers {
            v = match w {
                0 => serde_json::json!({ "$and": [v] }),
                1 => serde_json::json!({ "$or": [v, {"b": 2}] }),
                2 => serde_json::json!({ "$nor": [v] }),
                3 => serde_json::json!({ "$not": v }),
                4 => serde_json::json!({ "$and": [{}, v] }),
                _ => serde_json::json!({ "$or": [v] }),
            };
        }
        let e = Filter::parse(&v).expect_err("too deep");
        prop_assert_eq!(e.code(), ErrorCode::InvalidArg);
        prop_assert!(e.message().contains("deeper than"), "{}", e.message());
    }
}
