//! The compiled form of a filter and its evaluation.
//!
//! A filter compiles to a tree of [`Node`]s (logic over field conditions); a
//! field condition pairs a [`Path`] with a [`Cond`] (logic over predicates);
//! a [`Pred`] is an atomic test that holds when *some* value reached by the
//! path satisfies it. Negated operators (`$ne`, `$nin`, `$exists: false`,
//! `$not`) are `Cond::Not` around the positive predicate, which gives Mongo's
//! semantics for arrays ("no element equals") and missing fields ("matches").
//!
//! Evaluation never allocates; its recursion depth is bounded by the
//! compile-time depth limit.

use serde_json::Value;

use super::literal::{Bound, CmpOp, InSet, Literal};
use super::path::{Path, Reach};

/// A node of a compiled filter.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// All children hold (`$and`, implicit AND). Empty: always true.
    And(Vec<Node>),
    /// Some child holds (`$or`).
    Or(Vec<Node>),
    /// The child does not hold (top-level `$not`; `$nor` is `Not(Or(..))`).
    Not(Box<Node>),
    /// A condition on one field path.
    Field(Path, Cond),
}

impl Node {
    /// The node that matches everything.
    pub(super) fn always() -> Node {
        Node::And(Vec::new())
    }

    /// True for the node that matches everything without testing anything.
    pub(super) fn is_always(&self) -> bool {
        matches!(self, Node::And(children) if children.is_empty())
    }

    /// A rough, relative estimate of the work [`Node::eval`] does, used to
    /// test cheap children of `And`/`Or` first.
    pub(super) fn cost(&self) -> usize {
        match self {
            Node::And(children) | Node::Or(children) => 1 + children.iter().map(Node::cost).sum::<usize>(),
            Node::Not(child) => child.cost(),
            Node::Field(path, cond) => path.len() + cond.cost(),
        }
    }

    /// Evaluates the node against a record's metadata (`None`: no metadata).
    pub(super) fn eval(&self, doc: Option<&Value>) -> bool {
        match self {
            Node::And(children) => children.iter().all(|c| c.eval(doc)),
            Node::Or(children) => children.iter().any(|c| c.eval(doc)),
            Node::Not(child) => !child.eval(doc),
            Node::Field(path, cond) => cond.eval(path, doc),
        }
    }
}

/// A condition on the values at one path.
#[derive(Debug, Clone)]
pub(super) enum Cond {
    /// Some value at the path satisfies the predicate (or, when the path is
    /// missing, the predicate accepts a missing field).
    Test(Pred),
    /// The inner condition does not hold.
    Not(Box<Cond>),
    /// Every inner condition holds (several operators in one object).
    And(Vec<Cond>),
}

impl Cond {
    /// See [`Node::cost`].
    fn cost(&self) -> usize {
        match self {
            Cond::Test(Pred::Eq(Literal::Composite(_)) | Pred::In(_)) => 3,
            Cond::Test(_) => 1,
            Cond::Not(inner) => inner.cost(),
            Cond::And(inner) => inner.iter().map(Cond::cost).sum(),
        }
    }

    /// Evaluates the condition for `path` in `doc`.
    fn eval(&self, path: &Path, doc: Option<&Value>) -> bool {
        match self {
            Cond::Test(pred) => {
                let Some(root) = doc else {
                    return pred.on_missing();
                };
                match path.reach(root, |v| pred.on_leaf(v)) {
                    Reach::Matched => true,
                    Reach::Rejected => false,
                    Reach::Missing => pred.on_missing(),
                }
            }
            Cond::Not(inner) => !inner.eval(path, doc),
            Cond::And(inner) => inner.iter().all(|c| c.eval(path, doc)),
        }
    }
}

/// An atomic, positive test on a value.
#[derive(Debug, Clone)]
pub(super) enum Pred {
    /// Equality (`$eq`, implicit equality; negated for `$ne`).
    Eq(Literal),
    /// Ordering (`$gt`, `$gte`, `$lt`, `$lte`).
    Cmp(CmpOp, Bound),
    /// Membership (`$in`; negated for `$nin`).
    In(InSet),
    /// Presence (`$exists: true`; negated for `$exists: false`).
    Exists,
}

impl Pred {
    /// The test on one value, without array expansion.
    #[inline]
    fn on_value(&self, value: &Value) -> bool {
        match self {
            Pred::Eq(lit) => lit.eq_value(value),
            Pred::Cmp(op, bound) => bound.test(*op, value),
            Pred::In(set) => set.contains(value),
            Pred::Exists => true,
        }
    }

    /// The test on a value reached by a path: the value itself, or, when it
    /// is an array, any of its elements (Mongo's implicit array matching).
    #[inline]
    fn on_leaf(&self, value: &Value) -> bool {
        self.on_value(value)
            || match value {
                Value::Array(items) => items.iter().any(|item| self.on_value(item)),
                _ => false,
            }
    }

    /// The test on a missing field: only tests that accept `null` accept it.
    fn on_missing(&self) -> bool {
        match self {
            Pred::Eq(lit) => lit.is_null(),
            Pred::Cmp(op, Bound::Null) => op.inclusive(),
            Pred::Cmp(..) => false,
            Pred::In(set) => set.has_null(),
            Pred::Exists => false,
        }
    }
}
