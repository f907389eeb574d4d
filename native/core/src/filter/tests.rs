//! Unit tests of the filter module.

use serde_json::{json, Value};

use super::{Filter, MAX_DEPTH};
use crate::error::ErrorCode;

// ---------------------------------------------------------------- helpers

/// Compiles `filter`, panicking with the error when it is rejected.
fn compile(filter: Value) -> Filter {
    Filter::parse(&filter).unwrap_or_else(|e| panic!("{filter} was rejected: {e}"))
}

/// Whether `filter` matches the metadata `doc`.
fn m(filter: Value, doc: Value) -> bool {
    compile(filter).matches(Some(&doc))
}

/// The message of the error `filter` compiles to; asserts its code.
fn err(filter: Value) -> String {
    match Filter::parse(&filter) {
        Ok(f) => panic!("{filter} was accepted: {f:?}"),
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::InvalidArg, "{e}");
            e.message().to_owned()
        }
    }
}

/// Asserts that the error of `filter` mentions every needle.
fn assert_err(filter: Value, needles: &[&str]) {
    let message = err(filter.clone());
    for needle in needles {
        assert!(message.contains(needle), "error for {filter} is {message:?}, expected it to mention {needle:?}");
    }
}

/// Drops a possibly very deep value without recursion.
fn drop_deep(value: Value) {
    let mut stack = vec![value];
    while let Some(mut v) = stack.pop() {
        match &mut v {
            Value::Array(items) => stack.append(items),
            Value::Object(map) => stack.extend(std::mem::take(map).into_iter().map(|(_, x)| x)),
            _ => {}
        }
    }
}

/// `{key: value}`, built without `json!` (which would re-serialize `value`
/// recursively).
fn obj(key: &str, value: Value) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(key.to_owned(), value);
    Value::Object(map)
}

/// `[value]`, built without `json!`.
fn arr(value: Value) -> Value {
    Value::Array(vec![value])
}

/// Wraps `inner` `n` times with `wrap`, without recursion.
fn nest(mut inner: Value, n: usize, wrap: impl Fn(Value) -> Value) -> Value {
    for _ in 0..n {
        inner = wrap(inner);
    }
    inner
}

// ---------------------------------------------------------------- basics

#[test]
fn empty_filter_matches_everything() {
    let f = compile(json!({}));
    assert!(f.is_empty());
    assert!(f.matches(None));
    assert!(f.matches(Some(&json!({}))));
    assert!(f.matches(Some(&json!({"a": 1}))));
    assert!(Filter::default().is_empty());
    assert!(Filter::default().matches(None));
    assert!(compile(json!({"$and": [{}]})).is_empty());
    assert!(!compile(json!({"a": 1})).is_empty());
    assert!(!compile(json!({"$or": [{"a": 1}]})).is_empty());
}

#[test]
fn filter_is_send_sync_clone_debug() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    check::<Filter>();
    let f = compile(json!({"a": {"$in": [1, 2]}}));
    let g = f.clone();
    assert!(g.matches(Some(&json!({"a": 2}))));
    assert!(format!("{f:?}").contains("Filter"));
}

#[test]
fn implicit_equality_on_scalars() {
    assert!(m(json!({"a": 1}), json!({"a": 1})));
    assert!(m(json!({"a": 1}), json!({"a": 1.0})));
    assert!(m(json!({"a": 1.0}), json!({"a": 1})));
    assert!(m(json!({"a": -3}), json!({"a": -3.0})));
    assert!(!m(json!({"a": 1}), json!({"a": 2})));
    assert!(!m(json!({"a": 1}), json!({"a": "1"})));
    assert!(!m(json!({"a": "1"}), json!({"a": 1})));
    assert!(m(json!({"a": "x"}), json!({"a": "x"})));
    assert!(!m(json!({"a": "x"}), json!({"a": "X"})));
    assert!(m(json!({"a": true}), json!({"a": true})));
    assert!(!m(json!({"a": true}), json!({"a": false})));
    assert!(!m(json!({"a": true}), json!({"a": 1})));
    assert!(!m(json!({"a": 0}), json!({"a": false})));
    assert!(!m(json!({"a": 1}), json!({"b": 1})));
    assert!(m(json!({"a": 18446744073709551615u64}), json!({"a": 18446744073709551615u64})));
    assert!(m(json!({"a": 0.0}), json!({"a": -0.0})));
}

#[test]
fn several_keys_are_anded() {
    let f = json!({"a": 1, "b": "x"});
    assert!(m(f.clone(), json!({"a": 1, "b": "x", "c": 0})));
    assert!(!m(f.clone(), json!({"a": 1, "b": "y"})));
    assert!(!m(f.clone(), json!({"a": 2, "b": "x"})));
    assert!(!m(f, json!({"a": 1})));
}

#[test]
fn eq_and_ne() {
    assert!(m(json!({"a": {"$eq": 5}}), json!({"a": 5})));
    assert!(!m(json!({"a": {"$eq": 5}}), json!({"a": 6})));
    assert!(!m(json!({"a": {"$eq": 5}}), json!({})));
    assert!(m(json!({"a": {"$ne": 5}}), json!({"a": 6})));
    assert!(m(json!({"a": {"$ne": 5}}), json!({"a": "5"})));
    assert!(!m(json!({"a": {"$ne": 5}}), json!({"a": 5.0})));
    // Mongo: $ne matches documents where the field is missing.
    assert!(m(json!({"a": {"$ne": 5}}), json!({})));
    assert!(compile(json!({"a": {"$ne": 5}})).matches(None));
    // $eq with an operator-looking object is a literal.
    assert!(m(json!({"a": {"$eq": {"$gt": 1}}}), json!({"a": {"$gt": 1}})));
    assert!(!m(json!({"a": {"$eq": {"$gt": 1}}}), json!({"a": 5})));
}

#[test]
fn range_operators_on_numbers() {
    let doc = json!({"n": 5});
    assert!(m(json!({"n": {"$gt": 4}}), doc.clone()));
    assert!(!m(json!({"n": {"$gt": 5}}), doc.clone()));
    assert!(m(json!({"n": {"$gte": 5}}), doc.clone()));
    assert!(m(json!({"n": {"$gte": 5.0}}), doc.clone()));
    assert!(!m(json!({"n": {"$gte": 5.01}}), doc.clone()));
    assert!(m(json!({"n": {"$lt": 5.5}}), doc.clone()));
    assert!(!m(json!({"n": {"$lt": 5}}), doc.clone()));
    assert!(m(json!({"n": {"$lte": 5}}), doc.clone()));
    assert!(!m(json!({"n": {"$lte": 4.999}}), doc.clone()));
    assert!(m(json!({"n": {"$gt": -1e300}}), doc.clone()));
    assert!(m(json!({"n": {"$gt": 4.5, "$lt": 5.5}}), doc.clone()));
    assert!(!m(json!({"n": {"$gt": 5, "$lt": 10}}), doc));
    assert!(m(json!({"n": {"$lt": 0}}), json!({"n": -2.5})));
    assert!(m(json!({"n": {"$gt": 1.5}}), json!({"n": 2})));
    assert!(!m(json!({"n": {"$lt": 3}}), json!({"n": u64::MAX - 1})));
    assert!(!m(json!({"n": {"$gt": 3}}), json!({"n": i64::MIN})));
}

#[test]
fn range_operators_on_strings_compare_bytes() {
    let doc = json!({"s": "banana"});
    assert!(m(json!({"s": {"$gt": "apple"}}), doc.clone()));
    assert!(m(json!({"s": {"$lt": "cherry"}}), doc.clone()));
    assert!(m(json!({"s": {"$gte": "banana", "$lte": "banana"}}), doc.clone()));
    assert!(!m(json!({"s": {"$gt": "banana"}}), doc.clone()));
    assert!(m(json!({"s": {"$gt": "ban"}}), doc.clone()));
    assert!(m(json!({"s": {"$lt": "banana!"}}), doc));
    // Byte order: uppercase sorts before lowercase, non-ASCII after ASCII.
    assert!(m(json!({"s": {"$lt": "a"}}), json!({"s": "Z"})));
    assert!(m(json!({"s": {"$gt": "z"}}), json!({"s": "é"})));
    // ISO dates compare chronologically as strings.
    assert!(m(json!({"d": {"$gte": "2024-01-01"}}), json!({"d": "2024-06-30T12:00:00Z"})));
    assert!(!m(json!({"d": {"$gte": "2024-01-01"}}), json!({"d": "2023-12-31"})));
}

#[test]
fn comparisons_across_types_are_false() {
    for op in ["$gt", "$gte", "$lt", "$lte"] {
        assert!(!m(json!({"a": {op: 5}}), json!({"a": "5"})), "{op}");
        assert!(!m(json!({"a": {op: "5"}}), json!({"a": 5})), "{op}");
        assert!(!m(json!({"a": {op: 5}}), json!({"a": true})), "{op}");
        assert!(!m(json!({"a": {op: 5}}), json!({"a": null})), "{op}");
        assert!(!m(json!({"a": {op: 5}}), json!({"a": {"b": 5}})), "{op}");
        assert!(!m(json!({"a": {op: 5}}), json!({})), "{op}");
        assert!(!m(json!({"a": {op: "x"}}), json!({"a": []})), "{op}");
        // ... and their negation is true.
        assert!(m(json!({"a": {"$not": {op: 5}}}), json!({"a": "5"})), "{op}");
    }
}

#[test]
fn range_operators_with_null_follow_mongo() {
    assert!(m(json!({"a": {"$gte": null}}), json!({"a": null})));
    assert!(m(json!({"a": {"$lte": null}}), json!({})));
    assert!(!m(json!({"a": {"$gt": null}}), json!({"a": null})));
    assert!(!m(json!({"a": {"$lt": null}}), json!({})));
    assert!(!m(json!({"a": {"$gte": null}}), json!({"a": 0})));
}

#[test]
fn in_and_nin_small_lists() {
    let f = json!({"a": {"$in": [1, "x", true, null]}});
    assert!(m(f.clone(), json!({"a": 1})));
    assert!(m(f.clone(), json!({"a": 1.0})));
    assert!(m(f.clone(), json!({"a": "x"})));
    assert!(m(f.clone(), json!({"a": true})));
    assert!(m(f.clone(), json!({"a": null})));
    assert!(m(f.clone(), json!({}))); // null in the list matches missing
    assert!(!m(f.clone(), json!({"a": false})));
    assert!(!m(f.clone(), json!({"a": "1"})));
    assert!(!m(f, json!({"a": 2})));

    assert!(!m(json!({"a": {"$in": []}}), json!({"a": 1})));
    assert!(!m(json!({"a": {"$in": [1]}}), json!({})));
    assert!(m(json!({"a": {"$nin": []}}), json!({"a": 1})));
    assert!(m(json!({"a": {"$nin": [1, 2]}}), json!({"a": 3})));
    assert!(!m(json!({"a": {"$nin": [1, 2]}}), json!({"a": 2.0})));
    assert!(m(json!({"a": {"$nin": [1, 2]}}), json!({}))); // Mongo: missing matches $nin
    assert!(!m(json!({"a": {"$nin": [1, null]}}), json!({})));
    assert!(m(json!({"a": {"$in": [false]}}), json!({"a": false})));
    assert!(!m(json!({"a": {"$in": [false]}}), json!({"a": true})));
}

#[test]
fn in_and_nin_large_lists_are_hashed_and_exact() {
    let words: Vec<Value> = (0..1000).map(|i| json!(format!("w{i}"))).collect();
    let numbers: Vec<Value> = (0..1000).map(|i| json!(i * 2)).collect();
    let f = compile(json!({"s": {"$in": words}}));
    assert!(f.matches(Some(&json!({"s": "w0"}))));
    assert!(f.matches(Some(&json!({"s": "w999"}))));
    assert!(!f.matches(Some(&json!({"s": "w1000"}))));
    assert!(!f.matches(Some(&json!({"s": 5}))));
    assert!(f.matches(Some(&json!({"s": ["zz", "w500"]}))));
    let f = compile(json!({"n": {"$in": numbers.clone()}}));
    assert!(f.matches(Some(&json!({"n": 0}))));
    assert!(f.matches(Some(&json!({"n": -0.0}))));
    assert!(f.matches(Some(&json!({"n": 1998.0}))));
    assert!(!f.matches(Some(&json!({"n": 1999}))));
    assert!(!f.matches(Some(&json!({"n": "2"}))));
    assert!(!f.matches(Some(&json!({}))));
    let f = compile(json!({"n": {"$nin": numbers}}));
    assert!(!f.matches(Some(&json!({"n": 4}))));
    assert!(f.matches(Some(&json!({"n": 5}))));
    assert!(f.matches(Some(&json!({}))));
    // Mixed large list with composites and null.
    let mut mixed: Vec<Value> = (0..20).map(|i| json!(i as f64 + 0.5)).collect();
    mixed.extend([json!(null), json!([1, 2]), json!({"k": 1})]);
    let f = compile(json!({"a": {"$in": mixed}}));
    assert!(f.matches(Some(&json!({"a": 3.5}))));
    assert!(!f.matches(Some(&json!({"a": 3}))));
    assert!(f.matches(Some(&json!({"a": [1, 2]}))));
    assert!(f.matches(Some(&json!({"a": {"k": 1.0}}))));
    assert!(f.matches(Some(&json!({}))));
}

#[test]
fn in_with_arrays_in_the_document() {
    // Any element in the list.
    assert!(m(json!({"tags": {"$in": ["a", "b"]}}), json!({"tags": ["c", "b"]})));
    assert!(!m(json!({"tags": {"$in": ["a", "b"]}}), json!({"tags": ["c", "d"]})));
    assert!(!m(json!({"tags": {"$in": ["a"]}}), json!({"tags": []})));
    // $nin: no element in the list.
    assert!(!m(json!({"tags": {"$nin": ["a", "b"]}}), json!({"tags": ["c", "b"]})));
    assert!(m(json!({"tags": {"$nin": ["a", "b"]}}), json!({"tags": ["c", "d"]})));
    assert!(m(json!({"tags": {"$nin": ["a"]}}), json!({"tags": []})));
    // A whole array in the list.
    assert!(m(json!({"tags": {"$in": [["c", "d"]]}}), json!({"tags": ["c", "d"]})));
}

#[test]
fn exists() {
    for yes in [json!(true), json!(1), json!(1.0)] {
        let f = json!({"a": {"$exists": yes}});
        assert!(m(f.clone(), json!({"a": 0})));
        assert!(m(f.clone(), json!({"a": null})));
        assert!(m(f.clone(), json!({"a": []})));
        assert!(m(f.clone(), json!({"a": false})));
        assert!(!m(f.clone(), json!({"b": 1})));
        assert!(!compile(f).matches(None));
    }
    for no in [json!(false), json!(0)] {
        let f = json!({"a": {"$exists": no}});
        assert!(!m(f.clone(), json!({"a": null})));
        assert!(m(f.clone(), json!({"b": 1})));
        assert!(compile(f).matches(None));
    }
    assert!(m(json!({"a.b": {"$exists": true}}), json!({"a": {"b": null}})));
    assert!(!m(json!({"a.b": {"$exists": true}}), json!({"a": {"c": 1}})));
    assert!(m(json!({"a.b": {"$exists": true}}), json!({"a": [{"c": 1}, {"b": 2}]})));
    assert!(m(json!({"a.b": {"$exists": false}}), json!({"a": [{"c": 1}, 5]})));
    assert!(m(json!({"a.b": {"$exists": false}}), json!({"a": 5})));
    assert!(m(json!({"tags.1": {"$exists": true}}), json!({"tags": ["x", "y"]})));
    assert!(!m(json!({"tags.2": {"$exists": true}}), json!({"tags": ["x", "y"]})));
}

#[test]
fn field_level_not() {
    let f = json!({"price": {"$not": {"$gt": 5}}});
    assert!(m(f.clone(), json!({"price": 5})));
    assert!(m(f.clone(), json!({"price": 1})));
    assert!(!m(f.clone(), json!({"price": 6})));
    assert!(m(f.clone(), json!({"price": "cheap"}))); // Mongo: $not matches other types
    assert!(m(f.clone(), json!({}))); // ... and missing fields
    assert!(!m(f, json!({"price": [1, 9]}))); // some element is > 5
                                              // Several operators inside $not: NOT (a AND b).
    let f = json!({"n": {"$not": {"$gte": 2, "$lte": 4}}});
    assert!(m(f.clone(), json!({"n": 1})));
    assert!(!m(f.clone(), json!({"n": 3})));
    assert!(m(f, json!({"n": 5})));
    // Double negation.
    let f = json!({"n": {"$not": {"$not": {"$in": [1, 2]}}}});
    assert!(m(f.clone(), json!({"n": 2})));
    assert!(!m(f.clone(), json!({"n": 3})));
    assert!(!m(f, json!({})));
    // $not combined with a sibling operator.
    let f = json!({"n": {"$not": {"$eq": 3}, "$gt": 1}});
    assert!(m(f.clone(), json!({"n": 2})));
    assert!(!m(f.clone(), json!({"n": 3})));
    assert!(!m(f, json!({"n": 0})));
    // $not of $exists.
    assert!(m(json!({"a": {"$not": {"$exists": true}}}), json!({})));
}

#[test]
fn logical_operators() {
    let or = json!({"$or": [{"a": 1}, {"b": 2}]});
    assert!(m(or.clone(), json!({"a": 1})));
    assert!(m(or.clone(), json!({"b": 2})));
    assert!(m(or.clone(), json!({"a": 1, "b": 2})));
    assert!(!m(or.clone(), json!({"a": 2, "b": 1})));
    assert!(!compile(or).matches(None));

    let and = json!({"$and": [{"a": {"$gt": 1}}, {"a": {"$lt": 5}}]});
    assert!(m(and.clone(), json!({"a": 3})));
    assert!(!m(and.clone(), json!({"a": 5})));
    assert!(!m(and, json!({})));

    let nor = json!({"$nor": [{"a": 1}, {"b": 2}]});
    assert!(!m(nor.clone(), json!({"a": 1})));
    assert!(!m(nor.clone(), json!({"b": 2})));
    assert!(m(nor.clone(), json!({"a": 2, "b": 3})));
    assert!(m(nor.clone(), json!({})));
    assert!(compile(nor).matches(None));

    let not = json!({"$not": {"a": 1, "b": 2}});
    assert!(m(not.clone(), json!({"a": 1})));
    assert!(!m(not.clone(), json!({"a": 1, "b": 2})));
    assert!(compile(not).matches(None));
    assert!(!m(json!({"$not": {}}), json!({"a": 1})));

    // Logical operators combine with field conditions (implicit AND).
    let mixed = json!({"c": "x", "$or": [{"a": 1}, {"b": 2}], "$nor": [{"d": true}]});
    assert!(m(mixed.clone(), json!({"c": "x", "b": 2})));
    assert!(!m(mixed.clone(), json!({"c": "y", "b": 2})));
    assert!(!m(mixed.clone(), json!({"c": "x", "b": 2, "d": true})));
    assert!(!m(mixed, json!({"c": "x"})));

    // Nesting.
    let nested =
        json!({"$or": [{"$and": [{"a": 1}, {"$or": [{"b": 1}, {"c": 1}]}]}, {"$not": {"d": {"$exists": true}}}]});
    assert!(m(nested.clone(), json!({"a": 1, "c": 1, "d": 0})));
    assert!(!m(nested.clone(), json!({"a": 1, "d": 0})));
    assert!(m(nested.clone(), json!({})));
    assert!(!m(nested, json!({"a": 2, "b": 1, "d": null})));

    // Empty documents inside logical operators.
    assert!(m(json!({"$or": [{}, {"a": 1}]}), json!({"a": 2})));
    assert!(!m(json!({"$nor": [{}]}), json!({"a": 2})));
}

// ---------------------------------------------------------------- paths

#[test]
fn dotted_paths_traverse_objects() {
    let doc = json!({"a": {"b": {"c": 3}, "s": "x"}, "top": 1});
    assert!(m(json!({"a.b.c": 3}), doc.clone()));
    assert!(m(json!({"a.b.c": {"$gte": 3}}), doc.clone()));
    assert!(m(json!({"a.s": "x"}), doc.clone()));
    assert!(m(json!({"a.b": {"c": 3}}), doc.clone()));
    assert!(!m(json!({"a.b.c": 4}), doc.clone()));
    assert!(!m(json!({"a.b.d": 3}), doc.clone()));
    assert!(m(json!({"a.b.d": null}), doc.clone()));
    assert!(m(json!({"a.b.d": {"$exists": false}}), doc.clone()));
    // Through a scalar: missing.
    assert!(!m(json!({"top.x": 1}), doc.clone()));
    assert!(m(json!({"top.x": {"$exists": false}}), doc.clone()));
    assert!(m(json!({"a.s.length": null}), doc.clone()));
    // A key that looks like a number is still an object key.
    assert!(m(json!({"o.0": "zero"}), json!({"o": {"0": "zero"}})));
    // Keys are not split when they live in the document: "a.b" is a path.
    assert!(!m(json!({"a.b": 1}), json!({"a.b": 1})));
}

#[test]
fn paths_through_arrays_match_any_element() {
    let doc = json!({"tags": ["x", "y"], "items": [{"price": 1}, {"price": 5}, {"name": "n"}]});
    assert!(m(json!({"tags": "x"}), doc.clone()));
    assert!(m(json!({"tags": "y"}), doc.clone()));
    assert!(!m(json!({"tags": "z"}), doc.clone()));
    assert!(m(json!({"items.price": {"$gt": 3}}), doc.clone()));
    assert!(!m(json!({"items.price": {"$gt": 5}}), doc.clone()));
    assert!(m(json!({"items.price": 1}), doc.clone()));
    assert!(m(json!({"items.name": "n"}), doc.clone()));
    // Each operator is tested on its own (no $elemMatch): 0 < 3 and 5 > 1.
    assert!(m(json!({"a": {"$gt": 1, "$lt": 3}}), json!({"a": [0, 5]})));
    // $ne means "no element equals".
    assert!(!m(json!({"tags": {"$ne": "x"}}), doc.clone()));
    assert!(m(json!({"tags": {"$ne": "z"}}), doc.clone()));
    // Nested arrays of objects.
    let deep = json!({"a": [{"b": [{"c": 1}, {"c": 2}]}, {"b": {"c": 3}}]});
    assert!(m(json!({"a.b.c": 2}), deep.clone()));
    assert!(m(json!({"a.b.c": 3}), deep.clone()));
    assert!(!m(json!({"a.b.c": 4}), deep));
    // Arrays directly inside arrays are not entered implicitly...
    assert!(!m(json!({"a.b": 1}), json!({"a": [[{"b": 1}]]})));
    // ...but the leaf's own elements are compared, including array elements.
    assert!(m(json!({"a": [1, 2]}), json!({"a": [[1, 2], 3]})));
    assert!(!m(json!({"a": 1}), json!({"a": [[1, 2], 3]})));
}

#[test]
fn numeric_segments_index_arrays() {
    let doc = json!({"tags": ["x", "y"], "items": [{"p": 1}, {"p": 5}], "grid": [[1, 2], [3, 4]]});
    assert!(m(json!({"tags.0": "x"}), doc.clone()));
    assert!(!m(json!({"tags.0": "y"}), doc.clone()));
    assert!(m(json!({"tags.1": "y"}), doc.clone()));
    assert!(!m(json!({"tags.2": "y"}), doc.clone()));
    assert!(m(json!({"tags.2": null}), doc.clone()));
    assert!(m(json!({"items.1.p": 5}), doc.clone()));
    assert!(!m(json!({"items.0.p": 5}), doc.clone()));
    assert!(m(json!({"grid.1.0": 3}), doc.clone()));
    assert!(m(json!({"grid.1": [3, 4]}), doc.clone()));
    assert!(m(json!({"grid.0": 2}), doc.clone())); // leaf array elements
                                                   // Non-canonical numbers are plain keys.
    assert!(!m(json!({"tags.00": "x"}), doc.clone()));
    assert!(!m(json!({"tags.-1": "y"}), doc.clone()));
    // Mongo also looks the number up as a key of object elements.
    assert!(m(json!({"a.0": "k"}), json!({"a": [{"0": "k"}]})));
}

#[test]
fn equality_with_arrays_and_objects() {
    let doc = json!({"tags": ["x", "y"], "o": {"a": 1, "b": [1, {"c": null}]}});
    assert!(m(json!({"tags": ["x", "y"]}), doc.clone()));
    assert!(!m(json!({"tags": ["y", "x"]}), doc.clone()));
    assert!(!m(json!({"tags": ["x"]}), doc.clone()));
    assert!(m(json!({"tags": {"$eq": ["x", "y"]}}), doc.clone()));
    assert!(m(json!({"tags": {"$ne": ["x"]}}), doc.clone()));
    assert!(!m(json!({"tags": {"$ne": ["x", "y"]}}), doc.clone()));
    assert!(m(json!({"o": {"b": [1.0, {"c": null}], "a": 1}}), doc.clone()));
    assert!(!m(json!({"o": {"a": 1}}), doc.clone()));
    assert!(!m(json!({"o": {"a": 1, "b": [1, {"c": null}], "z": 0}}), doc.clone()));
    assert!(m(json!({"o.b": {"c": null}}), doc.clone()));
    // An empty object is a literal.
    assert!(m(json!({"e": {}}), json!({"e": {}})));
    assert!(!m(json!({"e": {}}), json!({"e": {"a": 1}})));
    assert!(!m(json!({"e": {}}), json!({})));
    assert!(m(json!({"e": []}), json!({"e": []})));
    assert!(!m(json!({"e": []}), json!({"e": [1]})));
    // A nested literal may contain "$" keys: it is data, not operators.
    assert!(m(json!({"o": {"k": {"$gt": 1}}}), json!({"o": {"k": {"$gt": 1}}})));
}

#[test]
fn null_semantics() {
    let f = json!({"a": null});
    assert!(m(f.clone(), json!({"a": null})));
    assert!(m(f.clone(), json!({})));
    assert!(compile(f.clone()).matches(None));
    assert!(m(f.clone(), json!({"a": [1, null]})));
    assert!(!m(f.clone(), json!({"a": []})));
    assert!(!m(f.clone(), json!({"a": 0})));
    assert!(!m(f, json!({"a": false})));
    let ne = json!({"a": {"$ne": null}});
    assert!(m(ne.clone(), json!({"a": 0})));
    assert!(m(ne.clone(), json!({"a": []})));
    assert!(!m(ne.clone(), json!({"a": null})));
    assert!(!m(ne.clone(), json!({})));
    assert!(!m(ne.clone(), json!({"a": [1, null]})));
    assert!(!compile(ne).matches(None));
    // Dotted paths: "missing" means no value is reached at all.
    let f = json!({"a.b": null});
    assert!(m(f.clone(), json!({"a": {"c": 1}})));
    assert!(m(f.clone(), json!({"a": 5})));
    assert!(m(f.clone(), json!({"a": [{"c": 1}]})));
    assert!(m(f.clone(), json!({"a": [{"b": 2}, {"b": null}]})));
    assert!(!m(f.clone(), json!({"a": [{"b": 2}, {}]})));
    assert!(!m(f, json!({"a": {"b": 2}})));
    assert!(m(json!({"a": {"$in": [null]}}), json!({})));
    assert!(m(json!({"a": {"$eq": null}}), json!({})));
}

#[test]
fn records_without_object_metadata_have_no_fields() {
    for doc in [None, Some(json!(null)), Some(json!(5)), Some(json!("a")), Some(json!([{"a": 1}]))] {
        let doc = doc.as_ref();
        assert!(!compile(json!({"a": 1})).matches(doc));
        assert!(compile(json!({"a": null})).matches(doc));
        assert!(compile(json!({"a": {"$ne": 1}})).matches(doc));
        assert!(compile(json!({"a": {"$exists": false}})).matches(doc));
        assert!(!compile(json!({"a": {"$exists": true}})).matches(doc));
        assert!(!compile(json!({"a": {"$gt": 0}})).matches(doc));
        assert!(compile(json!({"a": {"$nin": [1]}})).matches(doc));
        assert!(!compile(json!({"$or": [{"a": 1}, {"b": 1}]})).matches(doc));
    }
}

// ---------------------------------------------------------------- errors

#[test]
fn non_object_filters_are_rejected() {
    for bad in [json!(null), json!(1), json!("a"), json!([]), json!([{}]), json!(true)] {
        assert_err(bad, &["filter must be an object"]);
    }
    assert_err(json!([1]), &["got array"]);
}

#[test]
fn unknown_and_unsupported_operators_are_rejected() {
    assert_err(json!({"a.b": {"$foo": 1}}), &["unknown filter operator '$foo' at 'a.b'"]);
    assert_err(json!({"$foo": 1}), &["unknown filter operator '$foo'"]);
    assert_err(json!({"name": {"$regex": "^a"}}), &["'$regex'", "'name'", "not supported"]);
    assert_err(json!({"name": {"$regex": "^a", "$options": "i"}}), &["not supported"]);
    assert_err(json!({"tags": {"$elemMatch": {"$eq": 1}}}), &["'$elemMatch'", "'tags'", "not supported"]);
    assert_err(json!({"tags": {"$size": 2}}), &["'$size'", "not supported"]);
    assert_err(json!({"$where": "1"}), &["'$where'", "not supported"]);
    assert_err(json!({"$text": {"$search": "x"}}), &["'$text'", "not supported"]);
    // An unknown operator is an error even next to valid ones.
    assert_err(json!({"a": {"$gt": 1, "$lten": 5}}), &["'$lten'", "'a'"]);
    assert_err(json!({"$and": [{"a": {"$gt": 1}}, {"b": {"$bogus": 1}}]}), &["'$bogus' at 'b'"]);
    assert_err(json!({"a": {"$not": {"$bogus": 1}}}), &["'$bogus' at 'a'"]);
    // Field operators at the top level, logical operators at field level.
    assert_err(json!({"$gt": 1}), &["'$gt'", "must be applied to a field"]);
    assert_err(json!({"a": {"$or": [{"b": 1}]}}), &["'$or' at 'a'", "top level"]);
}

#[test]
fn malformed_operands_are_rejected() {
    assert_err(json!({"tags": {"$in": "x"}}), &["'$in' at 'tags' needs an array"]);
    assert_err(json!({"tags": {"$nin": {"a": 1}}}), &["'$nin' at 'tags' needs an array"]);
    assert_err(json!({"tags": {"$in": null}}), &["'$in' at 'tags' needs an array", "got null"]);
    assert_err(json!({"a": {"$gt": true}}), &["'$gt' at 'a'", "number, string or null", "boolean"]);
    assert_err(json!({"a": {"$lte": [1]}}), &["'$lte' at 'a'", "array"]);
    assert_err(json!({"a": {"$gte": {"x": 1}}}), &["'$gte' at 'a'", "object"]);
    assert_err(json!({"a": {"$exists": "yes"}}), &["'$exists' at 'a'", "\"yes\""]);
    assert_err(json!({"a": {"$exists": 2}}), &["'$exists' at 'a'"]);
    assert_err(json!({"a": {"$exists": null}}), &["'$exists' at 'a'"]);
    assert_err(json!({"p": {"$not": 5}}), &["'$not' at 'p'", "object of operators"]);
    assert_err(json!({"p": {"$not": {}}}), &["'$not' at 'p'"]);
    assert_err(json!({"p": {"$not": {"x": 1}}}), &["'$not' at 'p'"]);
    assert_err(json!({"p": {"$not": {"$gt": 1, "x": 1}}}), &["'$not' at 'p'"]);
    assert_err(json!({"$not": 5}), &["'$not' needs a filter object"]);
    assert_err(json!({"$not": [{"a": 1}]}), &["'$not' needs a filter object", "array"]);
    assert_err(json!({"a": {"$gt": 1, "b": 2}}), &["condition at 'a' mixes operators and fields", "'$gt'", "'b'"]);
}

#[test]
fn malformed_logical_operators_are_rejected() {
    for op in ["$and", "$or", "$nor"] {
        assert_err(json!({op: []}), &[op, "non-empty array"]);
        assert_err(json!({op: {"a": 1}}), &[op, "non-empty array", "object"]);
        assert_err(json!({op: "x"}), &[op, "non-empty array"]);
        assert_err(json!({op: [{"a": 1}, 5]}), &[op, "element 1", "filter object", "number"]);
        assert_err(json!({op: [[]]}), &[op, "element 0"]);
    }
}

#[test]
fn malformed_paths_are_rejected() {
    assert_err(json!({"": 1}), &["empty field path"]);
    assert_err(json!({"a..b": 1}), &["'a..b'", "empty segment"]);
    assert_err(json!({".a": 1}), &["empty segment"]);
    assert_err(json!({"a.": 1}), &["empty segment"]);
    assert_err(json!({"$or": [{"x.": {"$gt": 1}}]}), &["'x.'"]);
}

#[test]
fn errors_format_with_code() {
    let e = Filter::parse(&json!({"a": {"$foo": 1}})).unwrap_err();
    assert!(e.to_string().starts_with("ERR_INVALID_ARG: unknown filter operator '$foo' at 'a'"), "{e}");
}

// ---------------------------------------------------------------- depth

#[test]
fn moderate_nesting_is_accepted() {
    let f = nest(json!({"a": 1}), MAX_DEPTH - 2, |v| obj("$and", arr(v)));
    assert!(m(f.clone(), json!({"a": 1})));
    assert!(!m(f, json!({"a": 2})));
    let f = nest(json!({"a": 1}), 40, |v| obj("$not", v));
    assert!(m(f, json!({"a": 1}))); // an even number of negations
    let path = vec!["k"; MAX_DEPTH].join(".");
    let doc = nest(json!(7), MAX_DEPTH, |v| obj("k", v));
    assert!(m(json!({ path.clone(): 7 }), doc.clone()));
    assert!(!m(json!({ path: 8 }), doc));
}

#[test]
fn depth_bombs_are_rejected_without_overflowing() {
    const HUGE: usize = 200_000;
    let bombs = [
        nest(json!({"a": 1}), HUGE, |v| obj("$and", arr(v))),
        nest(json!({"a": 1}), HUGE, |v| obj("$or", Value::Array(vec![v, json!({"b": 1})]))),
        nest(json!({"a": 1}), HUGE, |v| obj("$not", v)),
        obj("p", nest(json!({"$gt": 1}), HUGE, |v| obj("$not", v))),
        obj("p", nest(json!(1), HUGE, arr)),
        obj("p", nest(json!(1), HUGE, |v| obj("k", v))),
        obj("p", obj("$in", arr(nest(json!(1), HUGE, arr)))),
        obj("p", obj("$eq", nest(json!(1), HUGE, |v| obj("k", v)))),
        obj("p", obj("$exists", nest(json!(1), HUGE, arr))),
        obj("p", obj("$not", nest(json!(1), HUGE, arr))),
    ];
    for bomb in bombs {
        let message = match Filter::parse(&bomb) {
            Ok(_) => panic!("a depth bomb was accepted"),
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::InvalidArg);
                e.message().to_owned()
            }
        };
        assert!(
            message.contains("deeper than the maximum of 64")
                || message.contains("'$exists' at 'p'")
                || message.contains("'$not' at 'p'"),
            "{message}"
        );
        assert!(message.len() < 300, "{message}");
        drop_deep(bomb);
    }
    // Just past the limit.
    let f = nest(json!({"a": 1}), MAX_DEPTH, |v| obj("$and", arr(v)));
    assert_err(f, &["deeper than the maximum of 64"]);
    // Long paths.
    let path = vec!["k"; HUGE].join(".");
    assert_err(json!({ path: 1 }), &["more than 64 segments"]);
    let path = vec!["k"; MAX_DEPTH + 1].join(".");
    assert_err(json!({ path: 1 }), &["more than 64 segments"]);
}

#[test]
fn deep_metadata_is_harmless() {
    let doc = nest(json!(1), 200_000, |v| obj("k", v));
    let path = vec!["k"; MAX_DEPTH].join(".");
    assert!(!compile(json!({ path: 1 })).matches(Some(&doc)));
    // Deep equality recursion is bounded by the (shallow) literal.
    assert!(!compile(json!({"k": {"k": {"k": 1}}})).matches(Some(&doc)));
    assert!(!compile(json!({"k": {"$in": [{"k": 1}]}})).matches(Some(&doc)));
    assert!(compile(json!({"k.k.k": {"$exists": true}})).matches(Some(&doc)));
    drop_deep(doc);
}

// ---------------------------------------------------------------- properties

/// A tiny deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn scalar_pool() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(1),
        json!(2),
        json!(1.0),
        json!(2.5),
        json!(-1),
        json!("x"),
        json!("y"),
        json!(""),
    ]
}

/// A random value: scalar, array of scalars, or small object.
fn random_value(rng: &mut Rng) -> Value {
    let pool = scalar_pool();
    match rng.below(10) {
        0..=5 => rng.pick(&pool),
        6..=8 => Value::Array((0..rng.below(4)).map(|_| rng.pick(&pool)).collect()),
        _ => json!({"b": rng.pick(&pool)}),
    }
}

const FIELDS: [&str; 3] = ["a", "b", "c"];

/// A random document over [`FIELDS`] (each possibly missing), or no metadata.
fn random_doc(rng: &mut Rng) -> Option<Value> {
    if rng.chance(5) {
        return None;
    }
    let mut map = serde_json::Map::new();
    for field in FIELDS {
        if rng.chance(75) {
            map.insert(field.to_owned(), random_value(rng));
        }
    }
    Some(Value::Object(map))
}

/// A random atomic condition `{field: {op: operand}}` on a top-level field.
fn random_atom(rng: &mut Rng) -> (String, String, Value) {
    let field = rng.pick(&FIELDS).to_owned();
    let ops = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"];
    let op = rng.pick(&ops).to_owned();
    let pool = scalar_pool();
    let ordered: Vec<Value> = pool.iter().filter(|v| v.is_number() || v.is_string() || v.is_null()).cloned().collect();
    let operand = match op.as_str() {
        "$gt" | "$gte" | "$lt" | "$lte" => rng.pick(&ordered),
        "$in" | "$nin" => {
            let n = if rng.chance(20) { 12 } else { rng.below(4) };
            Value::Array((0..n).map(|_| rng.pick(&pool)).collect())
        }
        "$exists" => json!(rng.chance(50)),
        _ => {
            if rng.chance(15) {
                random_value(rng)
            } else {
                rng.pick(&pool)
            }
        }
    };
    (field, op, operand)
}

/// Reference numbers-as-f64 deep equality, written independently of the module.
fn ref_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| ref_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| ref_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Reference ordering of two values of the same orderable type.
fn ref_cmp(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(std::cmp::Ordering::Equal),
        _ => None,
    }
}

/// Reference semantics of an atomic condition on a top-level field, straight
/// from the MongoDB manual: candidates are the value and, for arrays, its
/// elements; a missing field acts as null for `$eq`/`$in`/`$gte`/`$lte`;
/// `$ne`/`$nin` are negations.
fn reference(field: &str, op: &str, operand: &Value, doc: Option<&Value>) -> bool {
    let value = doc.and_then(|d| d.get(field));
    let candidates: Vec<&Value> = match value {
        None => vec![],
        Some(v @ Value::Array(items)) => std::iter::once(v).chain(items.iter()).collect(),
        Some(v) => vec![v],
    };
    let missing = value.is_none();
    let eq = |lit: &Value| if missing { lit.is_null() } else { candidates.iter().any(|c| ref_eq(c, lit)) };
    let cmp = |accept: fn(std::cmp::Ordering) -> bool| {
        if missing {
            operand.is_null() && accept(std::cmp::Ordering::Equal)
        } else {
            candidates.iter().any(|c| ref_cmp(c, operand).is_some_and(accept))
        }
    };
    match op {
        "$eq" => eq(operand),
        "$ne" => !eq(operand),
        "$gt" => cmp(|o| o.is_gt()),
        "$gte" => cmp(|o| o.is_ge()),
        "$lt" => cmp(|o| o.is_lt()),
        "$lte" => cmp(|o| o.is_le()),
        "$in" => operand.as_array().unwrap().iter().any(&eq),
        "$nin" => !operand.as_array().unwrap().iter().any(&eq),
        "$exists" => operand.as_bool().unwrap() != missing,
        _ => unreachable!(),
    }
}

#[test]
fn atomic_conditions_agree_with_a_reference() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..4000 {
        let (field, op, operand) = random_atom(&mut rng);
        let filter = compile(json!({ field.clone(): { op.clone(): operand.clone() } }));
        let negated = compile(json!({ field.clone(): { "$not": { op.clone(): operand.clone() } } }));
        for _ in 0..8 {
            let doc = random_doc(&mut rng);
            let expected = reference(&field, &op, &operand, doc.as_ref());
            assert_eq!(filter.matches(doc.as_ref()), expected, "{field} {op} {operand} on {doc:?}");
            assert_eq!(negated.matches(doc.as_ref()), !expected, "$not {field} {op} {operand} on {doc:?}");
        }
        // Implicit equality agrees with $eq for non-operator literals.
        if op == "$eq" && !operand.as_object().is_some_and(|o| o.keys().any(|k| k.starts_with('$'))) {
            let implicit = compile(json!({ field.clone(): operand.clone() }));
            for _ in 0..4 {
                let doc = random_doc(&mut rng);
                assert_eq!(implicit.matches(doc.as_ref()), filter.matches(doc.as_ref()));
            }
        }
    }
}

/// A random boolean composition of atomic conditions.
#[derive(Debug, Clone)]
enum Expr {
    Atom(Value, Filter),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Nor(Vec<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    fn random(rng: &mut Rng, depth: usize) -> Expr {
        if depth == 0 || rng.chance(35) {
            let (field, op, operand) = random_atom(rng);
            let mut atom = json!({ field.clone(): { op: operand } });
            // Sometimes use a dotted path or an index into the random arrays/objects.
            if rng.chance(20) {
                let path = format!("{field}.{}", rng.pick(&["b", "0", "1"]));
                let cond = atom[&field].take();
                atom = json!({ path: cond });
            }
            let filter = compile(atom.clone());
            return Expr::Atom(atom, filter);
        }
        let n = 1 + rng.below(3);
        let kind = rng.below(4);
        let mut children = || (0..n).map(|_| Expr::random(rng, depth - 1)).collect::<Vec<_>>();
        match kind {
            0 => Expr::And(children()),
            1 => Expr::Or(children()),
            2 => Expr::Nor(children()),
            _ => Expr::Not(Box::new(children().remove(0))),
        }
    }

    /// The filter document, written in one of several equivalent ways.
    fn to_json(&self, rng: &mut Rng) -> Value {
        match self {
            Expr::Atom(v, _) => v.clone(),
            Expr::And(children) => {
                let docs: Vec<Value> = children.iter().map(|c| c.to_json(rng)).collect();
                // Merge into one document (implicit AND) when keys do not collide.
                let mut merged = serde_json::Map::new();
                let mergeable = rng.chance(50)
                    && docs.iter().all(|d| {
                        d.as_object()
                            .unwrap()
                            .keys()
                            .all(|k| !merged.contains_key(k) && merged.insert(k.clone(), d[k].clone()).is_none())
                    });
                if mergeable {
                    Value::Object(merged)
                } else {
                    json!({ "$and": docs })
                }
            }
            Expr::Or(children) => json!({ "$or": children.iter().map(|c| c.to_json(rng)).collect::<Vec<_>>() }),
            Expr::Nor(children) => json!({ "$nor": children.iter().map(|c| c.to_json(rng)).collect::<Vec<_>>() }),
            Expr::Not(child) => json!({ "$not": child.to_json(rng) }),
        }
    }

    /// The expected result, by boolean logic over the atoms' own results.
    fn expected(&self, doc: Option<&Value>) -> bool {
        match self {
            Expr::Atom(_, f) => f.matches(doc),
            Expr::And(children) => children.iter().all(|c| c.expected(doc)),
            Expr::Or(children) => children.iter().any(|c| c.expected(doc)),
            Expr::Nor(children) => !children.iter().any(|c| c.expected(doc)),
            Expr::Not(child) => !child.expected(doc),
        }
    }
}

#[test]
fn compositions_agree_with_boolean_logic() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let docs: Vec<Option<Value>> = (0..64).map(|_| random_doc(&mut rng)).collect();
    for _ in 0..600 {
        let expr = Expr::random(&mut rng, 4);
        let doc_json = expr.to_json(&mut rng);
        let filter = compile(doc_json.clone());
        for doc in &docs {
            assert_eq!(filter.matches(doc.as_ref()), expr.expected(doc.as_ref()), "{doc_json} on {doc:?}");
        }
    }
}

#[test]
fn field_level_not_equals_top_level_not() {
    let mut rng = Rng(42);
    for _ in 0..1000 {
        let (field, op, operand) = random_atom(&mut rng);
        let inner = json!({ op: operand });
        let field_level = compile(json!({ field.clone(): { "$not": inner.clone() } }));
        let top_level = compile(json!({ "$not": { field: inner } }));
        for _ in 0..8 {
            let doc = random_doc(&mut rng);
            assert_eq!(field_level.matches(doc.as_ref()), top_level.matches(doc.as_ref()));
        }
    }
}
