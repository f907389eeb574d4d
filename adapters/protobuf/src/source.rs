//! [`ProtobufSource`]: protobuf messages from a file, decoded dynamically.

use crate::convert::{message, remove_path, take_vector};
use crate::descriptor::{compile_proto, load_descriptor_set, message as find_message, records_field, vector_path};
use crate::framing::{FrameError, Framing, WireReader, MAX_MESSAGE_BYTES};
use crate::{FramingOption, ProtobufOptions};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Batch, FieldMapping, Position, Progress, Source, SourceSpec};
use prost_reflect::{DynamicMessage, FieldDescriptor, MessageDescriptor};
use std::fs::File;

/// Streams the messages of one file as records.
///
/// One message is held at a time (its bytes in a reused buffer, then the decoded
/// message); the mapped vector field (`repeated float` / `repeated double`) is taken out of
/// the decoded message as `Vec<f32>` without going through JSON.
pub struct ProtobufSource {
    name: String,
    reader: WireReader,
    record_type: MessageDescriptor,
    vector: Vec<FieldDescriptor>,
    mapping: FieldMapping,
    buf: Vec<u8>,
    rows: u64,
    total_bytes: u64,
    pending: Option<AdapterError>,
}

impl ProtobufSource {
    /// Loads the schema, finds the message type and opens `spec.location`; see the crate
    /// docs for the options.
    pub fn open(spec: &SourceSpec) -> Result<ProtobufSource, AdapterError> {
        let options: ProtobufOptions = spec.options()?;
        let name = spec.display_location();
        let at = || Position { source: name.clone(), ..Default::default() };
        let pool = match (&options.proto, &options.descriptor_set) {
            (Some(proto), None) => compile_proto(proto, &options.includes)?,
            (None, Some(set)) => {
                if !options.includes.is_empty() {
                    return Err(AdapterError::new(AdapterErrorCode::InvalidArg, "includes applies to proto, not to descriptorSet", at()));
                }
                load_descriptor_set(set)?
            }
            _ => {
                return Err(AdapterError::new(
                    AdapterErrorCode::InvalidArg,
                    "protobuf options need exactly one of proto (a .proto file) or descriptorSet (a FileDescriptorSet file)",
                    at(),
                ))
            }
        };
        let schema_file = options.proto.as_deref().or(options.descriptor_set.as_deref()).unwrap_or_default();
        let top = find_message(&pool, &options.message_type, schema_file)?;
        let (framing, record_type) = match options.framing {
            FramingOption::Delimited => {
                if let Some(f) = &options.records_field {
                    return Err(AdapterError::new(
                        AdapterErrorCode::InvalidArg,
                        format!("recordsField '{f}' applies to framing 'single' only"),
                        at(),
                    ));
                }
                (Framing::Delimited, top)
            }
            FramingOption::Single => match records_field(&top, options.records_field.as_deref(), &name)? {
                Some(f) => match f.kind() {
                    prost_reflect::Kind::Message(m) => (Framing::Container { field: f.number() }, m),
                    _ => (Framing::Whole, top),
                },
                None => (Framing::Whole, top),
            },
        };
        let vector = match &spec.mapping.vector {
            Some(path) => vector_path(&record_type, path, &name)?,
            None => Vec::new(),
        };
        let file = File::open(&spec.location).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AdapterError::new(AdapterErrorCode::NotFound, format!("no such file: {name}"), at()),
            _ => AdapterError::new(AdapterErrorCode::Io, format!("cannot open {name}: {e}"), at()),
        })?;
        let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
        if framing == Framing::Whole && total_bytes > MAX_MESSAGE_BYTES {
            return Err(AdapterError::new(
                AdapterErrorCode::Limit,
                format!("{name} is {total_bytes} bytes, more than the {MAX_MESSAGE_BYTES}-byte limit for a single message; use framing 'delimited' or a container message with a repeated field"),
                at(),
            ));
        }
        Ok(ProtobufSource {
            name,
            reader: WireReader::new(file, framing),
            record_type,
            vector,
            mapping: spec.mapping.clone(),
            buf: Vec::new(),
            rows: 0,
            total_bytes,
            pending: None,
        })
    }

    /// The message type of each record.
    pub fn record_type(&self) -> &MessageDescriptor {
        &self.record_type
    }

    fn frame_error(&self, e: FrameError) -> AdapterError {
        let pos = Position { source: self.name.clone(), row: Some(self.rows), byte: Some(self.reader.start), field: None };
        match e {
            FrameError::Truncated(m) => AdapterError::new(AdapterErrorCode::Parse, format!("truncated file: {m}"), pos),
            FrameError::Malformed(m) => AdapterError::new(AdapterErrorCode::Parse, format!("not protobuf wire format: {m}"), pos),
            FrameError::TooLarge(n) => AdapterError::new(
                AdapterErrorCode::Limit,
                format!("message of {n} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit (a wrong framing or a corrupt length prefix?)"),
                pos,
            ),
            FrameError::Io(e) => AdapterError::new(AdapterErrorCode::Io, format!("read failed: {e}"), pos),
        }
    }
}

impl Source for ProtobufSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_batch(&mut self, max: usize) -> Result<Option<Batch>, AdapterError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let mut batch = Batch { rows: Vec::with_capacity(max.clamp(1, 4096)) };
        while batch.rows.len() < max.max(1) {
            let start = match self.reader.next_message(&mut self.buf) {
                Ok(Some(start)) => start,
                Ok(None) => break,
                Err(e) => {
                    let err = self.frame_error(e);
                    if batch.rows.is_empty() {
                        return Err(err);
                    }
                    self.pending = Some(err);
                    break;
                }
            };
            let pos = Position { source: self.name.clone(), row: Some(self.rows), byte: Some(start), field: None };
            self.rows += 1;
            batch.rows.push(match DynamicMessage::decode(self.record_type.clone(), self.buf.as_slice()) {
                Ok(mut msg) => {
                    let vector = take_vector(&mut msg, &self.vector);
                    let mut row = message(msg);
                    remove_path(&mut row, &self.vector);
                    if !row.is_object() {
                        // A well-known type as the record (a Timestamp renders as a string).
                        row = serde_json::json!({ "value": row });
                    }
                    self.mapping.apply_with(&row, vector, &pos)
                }
                Err(e) => Err(AdapterError::new(
                    AdapterErrorCode::Parse,
                    format!("cannot decode message as {}: {e}", self.record_type.full_name()),
                    pos,
                )),
            });
        }
        if batch.rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(batch))
    }

    fn progress(&self) -> Progress {
        Progress { rows: self.rows, bytes: self.reader.offset, total_rows: None, total_bytes: Some(self.total_bytes) }
    }
}
