//! # hektor-source-protobuf
//!
//! Reads protobuf messages from a file and decodes them dynamically (prost-reflect), with
//! the schema from a `.proto` file compiled in-process (protox: no `protoc` needed) or from a
//! `FileDescriptorSet`: the `protobuf` source kind. One message is read and decoded at a
//! time from a buffered file, so memory stays flat whatever the file size.
//!
//! ## Options (`SourceSpec::options`)
//! | option | type | default | meaning |
//! | --- | --- | --- | --- |
//! | `messageType` | string | required | fully qualified message name, e.g. `"shop.Product"` |
//! | `proto` | string (path) | one of `proto` / `descriptorSet` | a `.proto` file; imports resolve in `includes` (as protoc's `-I`), then in the file's directory, then among the bundled `google/protobuf/*.proto` |
//! | `includes` | string[] | `[]` | import directories for `proto` |
//! | `descriptorSet` | string (path) | | a binary `FileDescriptorSet` (`protoc --include_imports -o set.pb x.proto`) |
//! | `framing` | `"delimited"` \| `"single"` | `"delimited"` | how messages are laid out in the file |
//! | `recordsField` | string | auto | with `single`: the repeated message field whose elements are the records |
//!
//! Framing:
//! - `delimited`: a stream of messages, each preceded by its varint length, as Java's
//!   `writeDelimitedTo`, C++'s `SerializeDelimitedToOstream` and Python's
//!   `_VarintBytes(len(b)) + b` write them.
//! - `single`: the whole file is one message of `messageType`. If that message has exactly
//!   one repeated message field (or `recordsField` names one), each element of it is a
//!   record and the container's other fields are ignored; the elements are read one by one,
//!   so a container of any size streams. Otherwise the message itself is the one record
//!   (and the file may be at most [`MAX_MESSAGE_BYTES`]).
//!
//! ## JSON types
//! | protobuf | JSON |
//! | --- | --- |
//! | message | object keyed by the `.proto` field names (not lowerCamelCase) |
//! | fields without presence (proto3 scalars, repeated, map) | always present, the type's default when unset |
//! | fields with presence (message, `optional`, oneof members, proto2) | present only when set |
//! | int32, uint32, sint32, fixed32, sfixed32 | number |
//! | int64, uint64, sint64, fixed64, sfixed64 | number; a string beyond ±(2^53 - 1), which a JavaScript number cannot hold |
//! | float, double | number (`float` via its shortest decimal: `0.1f` is `0.1`); NaN and ±infinity as `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | bool, string | boolean, string |
//! | bytes | standard base64 string |
//! | enum | the value's name; the number when the schema does not know it |
//! | repeated | array |
//! | map<K, V> | object, keys as strings |
//! | `google.protobuf.*` well-known types | the protobuf JSON mapping: `Timestamp` as RFC 3339 (`"2024-05-01T12:34:56.789Z"`), `Duration` as `"1.5s"`, wrappers as their value, `Struct`/`Value`/`ListValue` as JSON, `Any` with `@type` |
//!
//! Unknown fields and extensions are not part of the row. The mapped vector field must be a
//! `repeated float` or `repeated double`, possibly inside singular message fields
//! (`"embedding.values"`); it is decoded to `Vec<f32>` directly, and an empty list is no
//! vector.
//!
//! ## Errors
//! A `.proto` that does not compile is `ERR_PARSE` with `file:line:column` (a missing import
//! `ERR_NOT_FOUND`); an unknown `messageType` is `ERR_INVALID_ARG` listing the closest names;
//! a vector field of another type is `ERR_INVALID_ARG` at open. A message that does not
//! decode is a row error (`ERR_PARSE`, the stream goes on: its length is known); a file that
//! ends inside a message or length prefix is `ERR_PARSE` and ends the stream (rows before it
//! are delivered first); a declared length beyond [`MAX_MESSAGE_BYTES`] is `ERR_LIMIT`,
//! found without allocating it. Positions carry the message number and the byte offset where
//! the message (its length prefix) starts.
//!
//! ```no_run
//! use hektor_adapters_api::{FieldMapping, SourceSpec};
//! let spec = SourceSpec {
//!     kind: "protobuf".into(),
//!     location: "products.pb".into(),
//!     options: serde_json::json!({ "proto": "schema/shop.proto", "messageType": "shop.Product" }),
//!     mapping: FieldMapping { id: Some("sku".into()), text: vec!["title".into()], vector: Some("embedding".into()), metadata: vec!["*".into()] },
//! };
//! let mut source = hektor_source_protobuf::open(&spec)?;
//! while let Some(batch) = source.next_batch(1024)? {
//!     for row in batch.rows {
//!         println!("{}", row?.id);
//!     }
//! }
//! # Ok::<(), hektor_adapters_api::AdapterError>(())
//! ```
#![warn(missing_docs)]

mod convert;
mod descriptor;
mod framing;
mod source;

use hektor_adapters_api::{AdapterError, Source, SourceSpec};
use serde::Deserialize;

pub use framing::MAX_MESSAGE_BYTES;
pub use source::ProtobufSource;

/// How messages are laid out in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FramingOption {
    /// Varint length-delimited messages, one after another.
    #[default]
    Delimited,
    /// One message (whose repeated message field, if any, holds the records).
    Single,
}

/// Options of the `protobuf` source.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProtobufOptions {
    /// Path of a `.proto` file.
    pub proto: Option<String>,
    /// Import directories for `proto` (as protoc's `-I`), searched before the file's own directory.
    #[serde(default)]
    pub includes: Vec<String>,
    /// Path of a binary `FileDescriptorSet`.
    pub descriptor_set: Option<String>,
    /// Fully qualified name of the message type.
    pub message_type: String,
    /// The framing; `delimited` by default.
    #[serde(default)]
    pub framing: FramingOption,
    /// With `single` framing: the repeated message field holding the records.
    pub records_field: Option<String>,
}

/// Opens a `protobuf` source.
pub fn open(spec: &SourceSpec) -> Result<Box<dyn Source>, AdapterError> {
    Ok(Box::new(ProtobufSource::open(spec)?))
}
