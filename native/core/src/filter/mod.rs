//! Mongo-style metadata filters, compiled once and evaluated millions of times.
//!
//! A [`Filter`] is compiled from a JSON document in the dialect of MongoDB's
//! query operators and then tested against records' metadata with
//! [`Filter::matches`], typically for every node an HNSW traversal visits.
//!
//! # Dialect
//!
//! ```json
//! { "genre": "sci-fi",                            // implicit $eq
//!   "year":  { "$gte": 1980, "$lt": 2000 },        // several operators: AND
//!   "tags":  { "$in": ["space", "robots"] },
//!   "specs.pages": { "$not": { "$gt": 500 } },     // dotted path, field-level $not
//!   "$or":   [ { "rating": { "$gte": 4 } }, { "award": { "$exists": true } } ] }
//! ```
//!
//! * The top level is an object; its keys are ANDed; `{}` matches everything.
//! * Field operators: `$eq $ne $gt $gte $lt $lte $in $nin $exists $not`.
//!   A field's value that is an object whose keys are all operators is an
//!   operator object; an object without operator keys is a literal compared
//!   by deep equality; mixing both is an error.
//! * Logical operators: `$and`, `$or`, `$nor` (non-empty arrays of filter
//!   documents) and, as an extension to MongoDB, a top-level
//!   `$not: { <filter> }`.
//! * Dotted paths traverse objects; arrays are traversed implicitly (a path
//!   matches when any element matches) and numeric segments index arrays.
//!   A value at the end of a path that is an array matches when the array as a
//!   whole or any of its elements matches.
//! * Numbers compare as `f64`, strings byte-wise; values of different types
//!   are never ordered or equal. Booleans, arrays and objects support equality
//!   only (range operators reject them at compile time).
//! * `null` stands for "null or missing": `{a: null}`, `$in: [null]`,
//!   `$gte: null` and `$lte: null` match a missing field. `$ne`, `$nin`,
//!   `$not` and `$exists: false` are exact negations of `$eq`, `$in`, their
//!   operand and `$exists: true`, so they match a missing field unless the
//!   negated test accepts it (`$ne: null` matches present, non-null values).
//! * Filters nested deeper than [`MAX_DEPTH`] levels are rejected.
//!
//! Unknown and unsupported operators (`$regex`, `$elemMatch`, ...) are
//! errors with code `ERR_INVALID_ARG`, never silently ignored.
//!
//! # Differences from MongoDB
//!
//! * Object equality ignores key order (metadata objects are unordered maps).
//! * A path is "missing" only when it reaches no value at all: `{"a.b": null}`
//!   matches `{a: []}` and `{a: [1]}` (MongoDB ≥ 2.6 does not match the
//!   first), but not `{a: [{b: 2}, {}]}` (a value of `a.b` exists).
//!   `$exists: false` is exactly the negation of `$exists: true`, and
//!   anything `$exists: false` matches, `{path: null}` matches too.
//! * There is no cross-type ordering (MongoDB's BSON order): `$gt: 5` never
//!   matches a string, `$lt: "m"` never matches a number.

mod literal;
mod node;
mod parse;
mod path;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::error::Result;

/// The maximum nesting depth of a filter: filter documents, operator objects,
/// `$not`s, containers inside literal operands and dotted-path segments each
/// count one level. Deeper filters are rejected with `ERR_INVALID_ARG`.
pub const MAX_DEPTH: usize = 64;

/// A compiled metadata filter.
///
/// Build one with [`Filter::parse`]; test records with [`Filter::matches`].
/// Compiled filters are immutable, cheap to share across threads (`Send +
/// Sync`) and never allocate while matching.
#[derive(Debug, Clone)]
pub struct Filter {
    root: node::Node,
}

impl Filter {
    /// Compiles a Mongo-style filter document.
    ///
    /// # Errors
    ///
    /// `ERR_INVALID_ARG` when the document is not an object, uses an unknown
    /// or unsupported operator, gives an operator the wrong kind of operand
    /// (the message names the operator and field path), or nests deeper than
    /// [`MAX_DEPTH`].
    pub fn parse(doc: &Value) -> Result<Filter> {
        Ok(Filter { root: parse::compile(doc)? })
    }

    /// True when `metadata` satisfies the filter. `None` = record without metadata.
    ///
    /// A record without metadata (or with metadata that is not an object)
    /// behaves as if every field were missing.
    #[inline]
    pub fn matches(&self, metadata: Option<&Value>) -> bool {
        self.root.eval(metadata.filter(|m| m.is_object()))
    }

    /// True for the empty filter `{}` (matches everything).
    ///
    /// Also true for filters that reduce to it, such as `{"$and": [{}]}`.
    pub fn is_empty(&self) -> bool {
        self.root.is_always()
    }
}

impl Default for Filter {
    /// The empty filter, which matches everything.
    fn default() -> Filter {
        Filter { root: node::Node::always() }
    }
}
