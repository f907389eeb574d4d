//! Building one record's JSON object from the events of its element.

use std::collections::HashSet;

use quick_xml::events::BytesStart;
use quick_xml::XmlVersion;
use serde_json::{Map, Value};

use hektor_adapters_api::scalar::infer;

/// How elements become JSON (from the options).
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    pub(crate) attribute_prefix: String,
    pub(crate) text_key: String,
    pub(crate) infer_types: bool,
    pub(crate) trim_text: bool,
    pub(crate) arrays: HashSet<String>,
    pub(crate) text_content: HashSet<String>,
}

impl Shape {
    /// The JSON value of a text: inferred (or kept a string), empty text `null` with
    /// inference.
    fn scalar(&self, text: &str) -> Value {
        let t = if self.trim_text { text.trim() } else { text };
        if !self.infer_types {
            Value::String(t.to_string())
        } else if t.trim().is_empty() {
            Value::Null
        } else {
            infer(t)
        }
    }
}

/// An open element of the record.
#[derive(Debug, Default)]
struct Frame {
    /// Local name: the field this element becomes in its parent.
    name: String,
    /// Attributes and children so far.
    obj: Map<String, Value>,
    /// Fields of `obj` that came from attributes (a child element of that name replaces it).
    attrs: Vec<String>,
    /// Text content so far.
    text: String,
    /// `textContent` mode: all descendant text is collected, `nested` counts open descendants.
    text_only: bool,
    nested: usize,
}

/// A problem inside a record (the record becomes a row error; reading goes on).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RecordProblem {
    pub(crate) message: String,
    /// Dotted path of the element where it happened.
    pub(crate) field: Option<String>,
    /// Text offset of the event.
    pub(crate) byte: u64,
}

/// One record under construction.
#[derive(Debug)]
pub(crate) struct RecordBuilder {
    frames: Vec<Frame>,
    /// Text offset where the record element starts.
    pub(crate) start: u64,
    /// The first problem met, if any.
    pub(crate) problem: Option<RecordProblem>,
}

impl RecordBuilder {
    /// Starts a record at its element `e` (which begins at text offset `start`).
    pub(crate) fn new(e: &BytesStart<'_>, start: u64, shape: &Shape) -> RecordBuilder {
        let mut rb = RecordBuilder { frames: Vec::with_capacity(8), start, problem: None };
        let mut root = Frame::default();
        rb.attributes(e, &mut root, shape, start);
        rb.frames.push(root);
        rb
    }

    /// Open elements of the record (the record element included).
    pub(crate) fn depth(&self) -> usize {
        self.frames.len() + self.frames.last().map_or(0, |f| f.nested)
    }

    fn field_path(&self) -> Option<String> {
        let names: Vec<&str> = self.frames.iter().skip(1).map(|f| f.name.as_str()).collect();
        (!names.is_empty()).then(|| names.join("."))
    }

    /// Records the first problem of the record.
    pub(crate) fn problem(&mut self, message: String, byte: u64) {
        if self.problem.is_none() {
            let field = self.field_path();
            self.problem = Some(RecordProblem { message, field, byte });
        }
    }

    fn attributes(&mut self, e: &BytesStart<'_>, frame: &mut Frame, shape: &Shape, byte: u64) {
        for attr in e.attributes() {
            let a = match attr {
                Ok(a) => a,
                Err(err) => {
                    self.problem(format!("malformed attribute: {err}"), byte);
                    continue;
                }
            };
            let key: &str = a.key.as_ref();
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let value = match a.normalized_value(XmlVersion::Implicit1_0) {
                Ok(v) => v,
                Err(err) => {
                    self.problem(format!("attribute '{key}': {err} (DTD entities are not expanded)"), byte);
                    continue;
                }
            };
            let name = format!("{}{}", shape.attribute_prefix, a.key.local_name().into_inner());
            frame.obj.insert(name.clone(), shape.scalar(&value));
            frame.attrs.push(name);
        }
    }

    /// A child element starts.
    pub(crate) fn start(&mut self, e: &BytesStart<'_>, shape: &Shape, byte: u64) {
        if let Some(top) = self.frames.last_mut() {
            if top.text_only {
                top.nested += 1;
                return;
            }
        }
        let name = e.local_name().into_inner().to_string();
        let mut frame = Frame { text_only: shape.text_content.contains(&name), name, ..Default::default() };
        if !frame.text_only {
            self.attributes(e, &mut frame, shape, byte);
        }
        self.frames.push(frame);
    }

    /// Text (already unescaped) inside the current element.
    pub(crate) fn text(&mut self, s: &str) {
        if let Some(top) = self.frames.last_mut() {
            top.text.push_str(s);
        }
    }

    /// The current element ends. Returns the record's object when the record element
    /// itself ends.
    pub(crate) fn end(&mut self, shape: &Shape) -> Option<Map<String, Value>> {
        let mut frame = self.frames.pop()?;
        if frame.text_only && frame.nested > 0 {
            frame.nested -= 1;
            self.frames.push(frame);
            return None;
        }
        let Some(parent) = self.frames.last_mut() else {
            // The record element: always an object.
            let mut obj = frame.obj;
            let text = if shape.trim_text { frame.text.trim() } else { frame.text.as_str() };
            if !text.trim().is_empty() && !obj.contains_key(&shape.text_key) {
                obj.insert(shape.text_key.clone(), shape.scalar(text));
            }
            return Some(obj);
        };
        let value = if frame.text_only {
            Value::String(if shape.trim_text { frame.text.trim().to_string() } else { frame.text })
        } else if frame.obj.is_empty() {
            shape.scalar(&frame.text)
        } else {
            let mut obj = frame.obj;
            if !frame.text.trim().is_empty() && !obj.contains_key(&shape.text_key) {
                obj.insert(shape.text_key.clone(), shape.scalar(&frame.text));
            }
            Value::Object(obj)
        };
        let key = frame.name;
        if let Some(i) = parent.attrs.iter().position(|a| *a == key) {
            // A child element wins over an attribute of the same name.
            parent.attrs.swap_remove(i);
            let v = if shape.arrays.contains(&key) { Value::Array(vec![value]) } else { value };
            parent.obj.insert(key, v);
            return None;
        }
        match parent.obj.get_mut(&key) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                let v = if shape.arrays.contains(&key) { Value::Array(vec![value]) } else { value };
                parent.obj.insert(key, v);
            }
        }
        None
    }
}
