//! Operands of filter operators, converted once at compile time into forms
//! that compare against metadata values without allocating or re-parsing.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use serde_json::{Number, Value};

/// A metadata number as `f64` (integers and floats compare alike).
#[inline]
pub(super) fn number(n: &Number) -> f64 {
    // Without serde_json's `arbitrary_precision` feature this is always `Some`.
    n.as_f64().unwrap_or(f64::NAN)
}

/// Deep equality of two JSON values, numbers compared as `f64`, object keys
/// in any order. Recursion only descends while *both* sides are containers,
/// so it is bounded by the shallower side (the filter's literal, whose depth
/// is checked at compile time).
pub(super) fn deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => number(x) == number(y),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| deep_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| deep_eq(p, q)))
        }
        _ => false,
    }
}

/// The operand of an equality test (`$eq`, `$ne`, implicit equality).
#[derive(Debug, Clone)]
pub(super) enum Literal {
    /// `null`: equal to null (and, at the condition level, to a missing field).
    Null,
    /// A boolean.
    Bool(bool),
    /// A number, as `f64`.
    Num(f64),
    /// A string.
    Str(Box<str>),
    /// An array or object, compared by deep equality.
    Composite(Value),
}

impl Literal {
    /// Converts a filter operand.
    pub(super) fn new(value: &Value) -> Literal {
        match value {
            Value::Null => Literal::Null,
            Value::Bool(b) => Literal::Bool(*b),
            Value::Number(n) => Literal::Num(number(n)),
            Value::String(s) => Literal::Str(s.as_str().into()),
            Value::Array(_) | Value::Object(_) => Literal::Composite(value.clone()),
        }
    }

    /// True for the `null` literal.
    pub(super) fn is_null(&self) -> bool {
        matches!(self, Literal::Null)
    }

    /// Equality with one metadata value (no array expansion).
    #[inline]
    pub(super) fn eq_value(&self, value: &Value) -> bool {
        match (self, value) {
            (Literal::Null, Value::Null) => true,
            (Literal::Bool(a), Value::Bool(b)) => a == b,
            (Literal::Num(a), Value::Number(b)) => *a == number(b),
            (Literal::Str(a), Value::String(b)) => **a == **b,
            (Literal::Composite(a), b) => deep_eq(a, b),
            _ => false,
        }
    }
}

/// A range operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CmpOp {
    /// `$gt`
    Gt,
    /// `$gte`
    Gte,
    /// `$lt`
    Lt,
    /// `$lte`
    Lte,
}

impl CmpOp {
    /// Whether `value <op> operand` holds given `value.cmp(operand)`.
    #[inline]
    fn accepts(self, ord: Ordering) -> bool {
        match self {
            CmpOp::Gt => ord == Ordering::Greater,
            CmpOp::Gte => ord != Ordering::Less,
            CmpOp::Lt => ord == Ordering::Less,
            CmpOp::Lte => ord != Ordering::Greater,
        }
    }

    /// True for `$gte` and `$lte`, which accept equality.
    pub(super) fn inclusive(self) -> bool {
        matches!(self, CmpOp::Gte | CmpOp::Lte)
    }
}

/// The operand of a range operator: only numbers, strings and null are ordered.
#[derive(Debug, Clone)]
pub(super) enum Bound {
    /// Compared with metadata numbers as `f64`.
    Num(f64),
    /// Compared with metadata strings byte by byte.
    Str(Box<str>),
    /// Only equal to null: `$gte`/`$lte` behave like `$eq: null`, `$gt`/`$lt` never match.
    Null,
}

impl Bound {
    /// `value <op> self`; false across types.
    #[inline]
    pub(super) fn test(&self, op: CmpOp, value: &Value) -> bool {
        let ord = match (value, self) {
            (Value::Number(v), Bound::Num(b)) => match number(v).partial_cmp(b) {
                Some(ord) => ord,
                None => return false,
            },
            (Value::String(v), Bound::Str(b)) => v.as_bytes().cmp(b.as_bytes()),
            (Value::Null, Bound::Null) => Ordering::Equal,
            _ => return false,
        };
        op.accepts(ord)
    }
}

/// Lists at most this long are searched linearly; longer ones are hashed.
const LINEAR_MAX: usize = 8;

/// A fast, non-cryptographic hasher (the multiply-rotate scheme of rustc's
/// FxHash). Membership tests run for every visited record, so SipHash's DoS
/// resistance is not worth its cost here: keys come from the caller's own
/// filter and metadata.
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl FastHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    #[inline]
    fn write_u64(&mut self, word: u64) {
        self.add(word);
    }

    #[inline]
    fn write_usize(&mut self, word: usize) {
        self.add(word as u64);
    }

    /// The state rotated so that its well-mixed high bits land where the table looks: a
    /// multiply only carries entropy upwards, and the hash table picks buckets from the low
    /// bits, so without this the bit patterns of round numbers (`f64`s ending in zero bits)
    /// all share one bucket and a 100,000-item `$in` takes quadratic time to build.
    #[inline]
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

/// A set of keys, linear when small, hashed when large.
#[derive(Debug, Clone)]
enum Keys<T: Hash + Eq> {
    Linear(Vec<T>),
    Hashed(HashSet<T, BuildHasherDefault<FastHasher>>),
}

impl<T: Hash + Eq> Keys<T> {
    fn new(items: Vec<T>) -> Keys<T> {
        if items.len() <= LINEAR_MAX {
            Keys::Linear(items)
        } else {
            Keys::Hashed(items.into_iter().collect())
        }
    }

    #[inline]
    fn contains<Q>(&self, key: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self {
            Keys::Linear(items) => items.iter().any(|item| item.borrow() == key),
            Keys::Hashed(set) => set.contains(key),
        }
    }
}

/// The canonical hash key of a number: its `f64` bits, with `-0.0` folded
/// into `0.0` so that equal numbers share a key.
#[inline]
fn number_key(x: f64) -> u64 {
    if x == 0.0 {
        0
    } else {
        x.to_bits()
    }
}

/// The operand list of `$in` / `$nin`, split by type for fast membership tests.
#[derive(Debug, Clone)]
pub(super) struct InSet {
    null: bool,
    bool_true: bool,
    bool_false: bool,
    numbers: Keys<u64>,
    strings: Keys<Box<str>>,
    /// Arrays and objects, compared by deep equality.
    composites: Vec<Value>,
}

impl InSet {
    /// Builds the set from the operand array's items.
    pub(super) fn new(items: &[Value]) -> InSet {
        let (mut null, mut bool_true, mut bool_false) = (false, false, false);
        let (mut numbers, mut strings, mut composites) = (Vec::new(), Vec::new(), Vec::new());
        for item in items {
            match item {
                Value::Null => null = true,
                Value::Bool(true) => bool_true = true,
                Value::Bool(false) => bool_false = true,
                Value::Number(n) => numbers.push(number_key(number(n))),
                Value::String(s) => strings.push(Box::<str>::from(s.as_str())),
                Value::Array(_) | Value::Object(_) => composites.push(item.clone()),
            }
        }
        InSet { null, bool_true, bool_false, numbers: Keys::new(numbers), strings: Keys::new(strings), composites }
    }

    /// True when the list holds `null`, which also stands for a missing field.
    pub(super) fn has_null(&self) -> bool {
        self.null
    }

    /// Membership of one metadata value (no array expansion).
    #[inline]
    pub(super) fn contains(&self, value: &Value) -> bool {
        match value {
            Value::Null => self.null,
            Value::Bool(true) => self.bool_true,
            Value::Bool(false) => self.bool_false,
            Value::Number(n) => self.numbers.contains(&number_key(number(n))),
            Value::String(s) => self.strings.contains(s.as_str()),
            Value::Array(_) | Value::Object(_) => self.composites.iter().any(|c| deep_eq(c, value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Instant;

    /// Large `$in` lists of the numbers people actually use (small integers, ids, steps,
    /// floats with few mantissa bits) build and answer in linear time: their `f64` bits
    /// end in zeros, which a hash that leaves low bits as they are sends to one bucket.
    #[test]
    fn large_in_sets_of_round_numbers_are_fast() {
        for step in [1.0, 2.0, 1024.0, 0.5, 1e6] {
            let items: Vec<Value> = (0..100_000).map(|i| json!(i as f64 * step)).collect();
            let t = Instant::now();
            let set = InSet::new(&items);
            for i in (0..100_000).step_by(7) {
                assert!(set.contains(&json!(i as f64 * step)));
            }
            assert!(!set.contains(&json!(-1.5)));
            let took = t.elapsed();
            assert!(took.as_millis() < 100, "step {step}: {took:?}");
        }
    }
}
