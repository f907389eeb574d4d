//! # hektor-source-xml
//!
//! hektor's `xml` ingest source: the elements at a path such as `catalog/book` become
//! records. The file (optionally gzip) is streamed with quick-xml's pull reader: no DOM,
//! one record in memory at a time, whatever the file size.
//!
//! ```
//! use hektor_adapters_api::{FieldMapping, Source, SourceSpec};
//! # let dir = std::env::temp_dir().join(format!("hektor-xml-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! # let path = dir.join("catalog.xml");
//! std::fs::write(&path, r#"<catalog>
//!   <book id="b1" lang="en">
//!     <title>Dune</title><year>1965</year>
//!     <author><name>Frank Herbert</name></author>
//!     <tag>sf</tag><tag>classic</tag>
//!     <emb>0.5 1.5 -2</emb>
//!   </book>
//! </catalog>"#).unwrap();
//!
//! let spec = SourceSpec {
//!     kind: "xml".into(),
//!     location: path.to_string_lossy().into_owned(),
//!     options: serde_json::json!({ "path": "catalog/book" }),
//!     mapping: FieldMapping {
//!         id: Some("id".into()), text: vec!["title".into()], vector: Some("emb".into()),
//!         metadata: vec!["year".into(), "author.name".into(), "tag".into()],
//!     },
//! };
//! let mut src = hektor_source_xml::open(&spec)?;
//! let rec = src.next_batch(100)?.unwrap().rows.remove(0)?;
//! assert_eq!(rec.id, "b1");                                  // an attribute
//! assert_eq!(rec.vector, Some(vec![0.5, 1.5, -2.0]));        // numbers in text
//! let md = rec.metadata.unwrap();
//! assert_eq!(md["year"], 1965);                              // inferred number
//! assert_eq!(md["author.name"], "Frank Herbert");            // nested element
//! assert_eq!(md["tag"], serde_json::json!(["sf", "classic"])); // repeated element
//! # Ok::<(), hektor_adapters_api::AdapterError>(())
//! ```
//!
//! ## Options ([`XmlOptions`])
//! `path` (required), `namespaces` (prefix → URI, none), `attributePrefix` (`""`),
//! `textKey` (`#text`), `inferTypes` (`true`), `trimText` (`true`), `arrays` (none),
//! `textContent` (none), `vectorSeparator` (auto), `gzip` (detected by `.gz` or magic
//! bytes), `maxDepth` (256), `maxRecordBytes` (16 MiB).
//!
//! ## From elements to JSON
//! - The record element becomes an object. Its attributes are fields (named
//!   `attributePrefix` + local name; `xmlns` declarations are left out); its child
//!   elements are fields named by local name. A child element wins over an attribute of
//!   the same name.
//! - A child with only text becomes a value: with `inferTypes`, numbers (JSON number
//!   syntax, no leading zeros) and `true`/`false` are typed and empty text is `null`;
//!   else a string. A child with attributes or children becomes a nested object, its own
//!   text (if any) under `textKey` (`<price currency="EUR">9.5</price>` →
//!   `{"currency": "EUR", "#text": 9.5}`). A repeated child becomes an array; list
//!   element names in `arrays` to get an array even for one occurrence.
//! - Elements listed in `textContent` become the concatenation of all the text inside
//!   them, markup dropped (prose with inline tags).
//! - Text is unescaped (the five predefined entities and character references), CDATA
//!   is text, comments and processing instructions are ignored, leading and trailing
//!   whitespace is trimmed (`trimText`).
//! - The mapped vector field, when it is text, is parsed as numbers separated by
//!   `vectorSeparator` (unset: commas if any, else whitespace; `[..]` allowed); repeated
//!   numeric elements (`<v>0.1</v><v>0.2</v>`) are an array already.
//! - Path steps match local names, so `feed/entry` reads an Atom feed whatever prefix it
//!   uses; with `namespaces`, a prefixed step matches only its namespace.
//!
//! ## Hostile input
//! DTDs are skipped and never expanded: a reference to an entity the DTD declares is a
//! row error (`ERR_PARSE`, "undefined entity"), so entity-expansion bombs cost nothing.
//! Nesting beyond `maxDepth` and a record (or, outside records, a single event) larger
//! than `maxRecordBytes` are `ERR_LIMIT` and end the stream.
//!
//! ## Errors
//! Positions carry the file, the 0-based record number, the byte offset (in the
//! decompressed text for gzip input) and, for problems inside a record, the dotted path of
//! the element. Row errors (an undefined entity, a malformed attribute, a mapping error
//! such as a vector element that is not a number: `ERR_INVALID_ARG`) stay in the batch and
//! reading goes on. Malformed XML (mismatched tags, a truncated file) is `ERR_PARSE` and
//! ends the stream; so does a non-UTF-8 encoding declaration (`ERR_INVALID_ARG`).
#![warn(missing_docs)]

mod options;
mod path;
mod record;
mod source;

pub use options::XmlOptions;
pub use source::XmlSource;

use hektor_adapters_api::{AdapterError, Source, SourceSpec};

/// Opens an `xml` source.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    Ok(Box::new(XmlSource::open(spec)?))
}
