//! Compiling a filter document into a [`Node`] tree, with validation.
//!
//! Every malformed filter is an [`Error::invalid`] naming the offending
//! operator and, for field operators, the field path. Unknown operators are
//! never ignored. Nesting is counted as the compiler descends (filter
//! documents, condition objects, `$not`, and containers inside literals) and
//! rejected past [`MAX_DEPTH`], so hostile input cannot overflow the stack
//! here or later in evaluation.

use serde_json::{Map, Value};

use super::literal::{Bound, CmpOp, InSet, Literal};
use super::node::{Cond, Node, Pred};
use super::path::{shown, Path};
use super::MAX_DEPTH;
use crate::error::{Error, Result};

/// The field-level operators this module implements.
const FIELD_OPERATORS: &str = "$eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists, $not";

/// MongoDB operators that are recognised but deliberately not implemented,
/// so that their error says "not supported" rather than "unknown".
const UNSUPPORTED: &[&str] = &[
    "$regex",
    "$options",
    "$elemMatch",
    "$size",
    "$all",
    "$type",
    "$mod",
    "$text",
    "$where",
    "$expr",
    "$jsonSchema",
    "$comment",
    "$geoWithin",
    "$geoIntersects",
    "$near",
    "$nearSphere",
    "$bitsAllSet",
    "$bitsAllClear",
    "$bitsAnySet",
    "$bitsAnyClear",
];

/// Compiles a whole filter document.
pub(super) fn compile(doc: &Value) -> Result<Node> {
    match doc {
        Value::Object(map) => document(map, 1),
        other => Err(Error::invalid(format!("filter must be an object, got {}", type_name(other)))),
    }
}

/// A filter document: the implicit AND of its keys.
fn document(map: &Map<String, Value>, depth: usize) -> Result<Node> {
    check_depth(depth)?;
    let mut children = Vec::with_capacity(map.len());
    for (key, value) in map {
        let node = if key.starts_with('$') { logical(key, value, depth)? } else { field(key, value, depth)? };
        push_flat(&mut children, node, true);
    }
    Ok(collapse(children, true))
}

/// A top-level operator: `$and`, `$or`, `$nor` or `$not`.
fn logical(op: &str, value: &Value, depth: usize) -> Result<Node> {
    match op {
        "$and" | "$or" | "$nor" => {
            let is_and = op == "$and";
            let mut children = Vec::new();
            for node in documents(op, value, depth)? {
                push_flat(&mut children, node, is_and);
            }
            let combined = collapse(children, is_and);
            Ok(if op == "$nor" { Node::Not(Box::new(combined)) } else { combined })
        }
        "$not" => match value {
            Value::Object(map) => Ok(Node::Not(Box::new(document(map, depth + 1)?))),
            other => Err(Error::invalid(format!("'$not' needs a filter object, got {}", type_name(other)))),
        },
        _ if is_field_operator(op) => Err(Error::invalid(format!(
            "filter operator '{op}' must be applied to a field, e.g. {{\"price\": {{\"{op}\": ...}}}}"
        ))),
        _ if UNSUPPORTED.contains(&op) => Err(Error::invalid(format!("filter operator '{op}' is not supported"))),
        _ => Err(Error::invalid(format!(
            "unknown filter operator '{}' (logical operators: $and, $or, $nor, $not)",
            shown(op)
        ))),
    }
}

/// The operand of `$and` / `$or` / `$nor`: a non-empty array of filter documents.
fn documents(op: &str, value: &Value, depth: usize) -> Result<Vec<Node>> {
    let items = match value {
        Value::Array(items) if !items.is_empty() => items,
        Value::Array(_) => return Err(Error::invalid(format!("'{op}' needs a non-empty array of filter objects"))),
        other => {
            return Err(Error::invalid(format!(
                "'{op}' needs a non-empty array of filter objects, got {}",
                type_name(other)
            )))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(map) => document(map, depth + 1),
            other => {
                Err(Error::invalid(format!("'{op}' element {i} must be a filter object, got {}", type_name(other))))
            }
        })
        .collect()
}

/// Adds `node` to the children of an AND (`and`) or OR, merging a child of the same kind.
fn push_flat(children: &mut Vec<Node>, node: Node, and: bool) {
    match node {
        Node::And(inner) if and => children.extend(inner),
        Node::Or(inner) if !and => children.extend(inner),
        other => children.push(other),
    }
}

/// The AND (`and`) or OR of `children`, without a wrapper for a single child.
/// Children are ordered cheapest first (stable), so that short-circuiting
/// skips the expensive ones as often as possible; the result is unchanged.
fn collapse(mut children: Vec<Node>, and: bool) -> Node {
    children.sort_by_cached_key(Node::cost);
    if children.len() == 1 {
        children.pop().expect("one child")
    } else if and {
        Node::And(children)
    } else {
        Node::Or(children)
    }
}

/// A field condition `"path": value`.
fn field(key: &str, value: &Value, depth: usize) -> Result<Node> {
    let path = Path::parse(key)?;
    let cond = condition(&path, value, depth + 1)?;
    Ok(Node::Field(path, cond))
}

/// The value of a field condition: an operator object or a literal.
fn condition(path: &Path, value: &Value, depth: usize) -> Result<Cond> {
    match value {
        Value::Object(map) if is_operator_object(path, map)? => operators(path, map, depth),
        _ => {
            check_literal(value, depth)?;
            Ok(Cond::Test(Pred::Eq(Literal::new(value))))
        }
    }
}

/// True when every key of a non-empty object is an operator; false when none
/// is (a literal object); an error when they are mixed.
fn is_operator_object(path: &Path, map: &Map<String, Value>) -> Result<bool> {
    let operator = map.keys().find(|k| k.starts_with('$'));
    let plain = map.keys().find(|k| !k.starts_with('$'));
    match (operator, plain) {
        (Some(op), Some(key)) => Err(Error::invalid(format!(
            "condition at '{}' mixes operators and fields ('{}' and '{}')",
            shown(path.as_str()),
            shown(op),
            shown(key)
        ))),
        (Some(_), None) => Ok(true),
        (None, _) => Ok(false),
    }
}

/// An operator object `{ "$op": operand, ... }`: the AND of its operators.
fn operators(path: &Path, map: &Map<String, Value>, depth: usize) -> Result<Cond> {
    check_depth(depth)?;
    let mut conds = Vec::with_capacity(map.len());
    for (op, operand) in map {
        match operator(path, op, operand, depth)? {
            Cond::And(inner) => conds.extend(inner),
            other => conds.push(other),
        }
    }
    Ok(if conds.len() == 1 { conds.pop().expect("one condition") } else { Cond::And(conds) })
}

/// One field operator and its operand.
fn operator(path: &Path, op: &str, operand: &Value, depth: usize) -> Result<Cond> {
    let at = shown(path.as_str());
    let test = |pred| Cond::Test(pred);
    let negate = |cond| Cond::Not(Box::new(cond));
    Ok(match op {
        "$eq" | "$ne" => {
            check_literal(operand, depth + 1)?;
            let eq = test(Pred::Eq(Literal::new(operand)));
            if op == "$eq" {
                eq
            } else {
                negate(eq)
            }
        }
        "$gt" | "$gte" | "$lt" | "$lte" => {
            let cmp = match op {
                "$gt" => CmpOp::Gt,
                "$gte" => CmpOp::Gte,
                "$lt" => CmpOp::Lt,
                _ => CmpOp::Lte,
            };
            let bound = match operand {
                Value::Number(n) => Bound::Num(super::literal::number(n)),
                Value::String(s) => Bound::Str(s.as_str().into()),
                Value::Null => Bound::Null,
                other => {
                    return Err(Error::invalid(format!(
                        "'{op}' at '{at}' needs a number, string or null, got {}",
                        type_name(other)
                    )))
                }
            };
            test(Pred::Cmp(cmp, bound))
        }
        "$in" | "$nin" => {
            let Value::Array(items) = operand else {
                return Err(Error::invalid(format!("'{op}' at '{at}' needs an array, got {}", type_name(operand))));
            };
            check_literal(operand, depth + 1)?;
            let within = test(Pred::In(InSet::new(items)));
            if op == "$in" {
                within
            } else {
                negate(within)
            }
        }
        "$exists" => {
            let wanted = match operand {
                Value::Bool(b) => *b,
                Value::Number(n) if super::literal::number(n) == 1.0 => true,
                Value::Number(n) if super::literal::number(n) == 0.0 => false,
                _ => {
                    return Err(Error::invalid(format!(
                        "'$exists' at '{at}' needs true or false (or 1 or 0), got {}",
                        describe(operand)
                    )))
                }
            };
            if wanted {
                test(Pred::Exists)
            } else {
                negate(test(Pred::Exists))
            }
        }
        "$not" => match operand {
            Value::Object(map) if !map.is_empty() && map.keys().all(|k| k.starts_with('$')) => {
                negate(operators(path, map, depth + 1)?)
            }
            _ => {
                return Err(Error::invalid(format!(
                    "'$not' at '{at}' needs a non-empty object of operators, e.g. {{\"$gt\": 5}}, got {}",
                    describe(operand)
                )))
            }
        },
        "$and" | "$or" | "$nor" => {
            return Err(Error::invalid(format!(
                "'{op}' at '{at}' is not a field operator: use it at the top level of the filter"
            )))
        }
        _ if UNSUPPORTED.contains(&op) => {
            return Err(Error::invalid(format!("filter operator '{op}' at '{at}' is not supported")))
        }
        _ => {
            return Err(Error::invalid(format!(
                "unknown filter operator '{}' at '{at}' (supported: {FIELD_OPERATORS})",
                shown(op)
            )))
        }
    })
}

/// True for the names of implemented field operators.
fn is_field_operator(op: &str) -> bool {
    matches!(op, "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$in" | "$nin" | "$exists")
}

/// Rejects nesting past [`MAX_DEPTH`].
fn check_depth(depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        Err(Error::invalid(format!("filter is nested deeper than the maximum of {MAX_DEPTH} levels")))
    } else {
        Ok(())
    }
}

/// Rejects literals whose containers nest past [`MAX_DEPTH`] (counting from
/// `depth`, the literal's own level). Recursion stops at the limit.
fn check_literal(value: &Value, depth: usize) -> Result<()> {
    check_depth(depth)?;
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| check_literal(v, depth + 1)),
        Value::Object(map) => map.values().try_for_each(|v| check_literal(v, depth + 1)),
        _ => Ok(()),
    }
}

/// A scalar operand as JSON, or the type of a container (whose rendering
/// could be huge or, for hostile nesting, overflow the stack).
fn describe(value: &Value) -> String {
    match value {
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Object(map) if map.is_empty() => "{}".to_owned(),
        Value::Array(_) | Value::Object(_) => type_name(value).to_owned(),
        scalar => shown(&scalar.to_string()),
    }
}

/// The JSON type of `value`, for error messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
