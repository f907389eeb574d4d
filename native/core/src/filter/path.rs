//! Dotted field paths (`"a.b.0.c"`), split once at compile time, and their
//! Mongo-style traversal through nested objects and arrays.

use serde_json::Value;

use super::MAX_DEPTH;
use crate::error::{Error, Result};

/// One segment of a dotted path.
#[derive(Debug, Clone)]
struct Segment {
    /// The segment as an object key.
    key: Box<str>,
    /// The segment as an array index, when it is a canonical non-negative
    /// integer (`"0"`, `"17"`; not `"01"` or `"-1"`).
    index: Option<usize>,
}

impl Segment {
    fn new(key: &str) -> Segment {
        let canonical =
            !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()) && (key == "0" || !key.starts_with('0'));
        let index = if canonical { key.parse().ok() } else { None };
        Segment { key: key.into(), index }
    }
}

/// What a traversal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// At least one value was reached and the test accepted one of them.
    Matched,
    /// Values were reached, but the test rejected all of them.
    Rejected,
    /// The path reached no value at all: the field is missing.
    Missing,
}

/// A compiled dotted path.
#[derive(Debug, Clone)]
pub(super) struct Path {
    text: Box<str>,
    segments: Box<[Segment]>,
}

impl Path {
    /// Splits `text` on dots. Empty paths, empty segments (`"a..b"`) and paths
    /// with more than [`MAX_DEPTH`] segments are rejected.
    pub(super) fn parse(text: &str) -> Result<Path> {
        if text.is_empty() {
            return Err(Error::invalid("empty field path in filter"));
        }
        let mut segments = Vec::new();
        for part in text.split('.') {
            if part.is_empty() {
                return Err(Error::invalid(format!("field path '{}' has an empty segment", shown(text))));
            }
            if segments.len() == MAX_DEPTH {
                return Err(Error::invalid(format!("field path '{}' has more than {MAX_DEPTH} segments", shown(text))));
            }
            segments.push(Segment::new(part));
        }
        Ok(Path { text: text.into(), segments: segments.into_boxed_slice() })
    }

    /// The number of segments.
    pub(super) fn len(&self) -> usize {
        self.segments.len()
    }

    /// The path as written in the filter.
    pub(super) fn as_str(&self) -> &str {
        &self.text
    }

    /// Offers every value the path reaches inside `root` to `test`, stopping at
    /// the first one it accepts.
    ///
    /// Traversal follows MongoDB: an object segment looks the key up; an array
    /// met before the last segment is traversed implicitly (the key is looked
    /// up in each of its object elements; arrays nested directly in arrays are
    /// not entered); a numeric segment applied to an array also selects the
    /// element at that index. The value at the end of the path is handed over
    /// as is: expanding a final array into its elements is the test's job.
    #[inline]
    pub(super) fn reach<'v, F>(&self, root: &'v Value, mut test: F) -> Reach
    where
        F: FnMut(&'v Value) -> bool,
    {
        let mut found = false;
        if visit(root, &self.segments, &mut found, &mut test) {
            Reach::Matched
        } else if found {
            Reach::Rejected
        } else {
            Reach::Missing
        }
    }
}

/// Recursive step of [`Path::reach`]. Recursion depth is bounded by the number
/// of segments (at most [`MAX_DEPTH`]). Never allocates.
fn visit<'v, F>(value: &'v Value, segments: &[Segment], found: &mut bool, test: &mut F) -> bool
where
    F: FnMut(&'v Value) -> bool,
{
    let Some((segment, rest)) = segments.split_first() else {
        *found = true;
        return test(value);
    };
    match value {
        Value::Object(map) => match map.get(&*segment.key) {
            Some(child) => visit(child, rest, found, test),
            None => false,
        },
        Value::Array(items) => {
            if let Some(child) = segment.index.and_then(|i| items.get(i)) {
                if visit(child, rest, found, test) {
                    return true;
                }
            }
            items.iter().any(|item| match item {
                Value::Object(map) => match map.get(&*segment.key) {
                    Some(child) => visit(child, rest, found, test),
                    None => false,
                },
                _ => false,
            })
        }
        _ => false,
    }
}

/// `text` shortened for an error message.
pub(super) fn shown(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}…")
    }
}
