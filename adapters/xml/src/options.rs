//! The options of the `xml` source.

use std::collections::HashMap;

use serde::Deserialize;

/// Options of an XML source (camelCase keys; unknown keys are `ERR_INVALID_ARG`).
///
/// ```
/// use hektor_source_xml::XmlOptions;
/// let o: XmlOptions = serde_json::from_value(serde_json::json!({
///     "path": "atom:feed/atom:entry",
///     "namespaces": { "atom": "http://www.w3.org/2005/Atom" },
///     "arrays": ["category"]
/// })).unwrap();
/// assert_eq!(o.text_key, "#text");
/// assert!(o.infer_types);
/// // `path` is required.
/// assert!(serde_json::from_value::<XmlOptions>(serde_json::json!({})).is_err());
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct XmlOptions {
    /// Slash-separated element names from the root to the record element, e.g.
    /// `catalog/book` (a leading `/` is allowed, `*` matches any element). A `prefix:name`
    /// step is matched by local name unless `namespaces` binds the prefix.
    pub path: String,
    /// Prefix to namespace URI bindings for the prefixes used in `path`: with a binding,
    /// a step matches only elements of that namespace (whatever prefix the document uses).
    #[serde(default)]
    pub namespaces: HashMap<String, String>,
    /// Prefix of the field names made from attributes. Default `""`: attributes are plain
    /// fields, and a child element of the same name wins.
    #[serde(default)]
    pub attribute_prefix: String,
    /// The field holding an element's own text when it also has attributes or children.
    /// Default `#text`.
    #[serde(default = "default_text_key")]
    pub text_key: String,
    /// Whether text that looks like a number or a boolean becomes one, and empty text
    /// `null`. Default `true`.
    #[serde(default = "yes")]
    pub infer_types: bool,
    /// Whether leading and trailing whitespace of text is removed. Default `true`.
    #[serde(default = "yes")]
    pub trim_text: bool,
    /// Element names that always become arrays, even when they occur once (an absent
    /// element stays absent). Default none: only a repeated element becomes an array.
    #[serde(default)]
    pub arrays: Vec<String>,
    /// Element names whose whole content becomes one string, tags dropped (like the DOM's
    /// `textContent`): for prose with inline markup (`<p>a <b>bold</b> word</p>`).
    #[serde(default)]
    pub text_content: Vec<String>,
    /// Separator of the numbers of a vector written as text. Unset: commas if any, else
    /// whitespace (`0.1 0.2 0.3`).
    #[serde(default)]
    pub vector_separator: Option<String>,
    /// Gzip: `true`, `false`, or unset to detect it (`.gz` name or gzip magic bytes).
    #[serde(default)]
    pub gzip: Option<bool>,
    /// The deepest element nesting accepted: `ERR_LIMIT` beyond. Default 256.
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// The most bytes one record (or one event outside records) may span: `ERR_LIMIT`
    /// beyond. Default 16 MiB.
    #[serde(default)]
    pub max_record_bytes: Option<u64>,
}

fn default_text_key() -> String {
    "#text".to_string()
}

fn yes() -> bool {
    true
}
