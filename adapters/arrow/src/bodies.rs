//! A check of the compressed buffers of IPC messages before arrow's reader sees them.
//!
//! An LZ4 or ZSTD compressed buffer starts with its uncompressed length (an 8-byte
//! little-endian integer), and arrow's reader reserves that many bytes before
//! decompressing: a corrupt prefix of, say, 2^50 makes the allocation fail, which aborts
//! the process instead of returning an error. So before reading, every compressed buffer's
//! declared length is checked against [`MAX_BUFFER_BYTES`] (`ERR_LIMIT`) and the file's
//! messages are walked once through a second handle: the record batches and dictionaries
//! an IPC file's footer lists, or the messages of an IPC stream (regular files only; a
//! pipe cannot be read twice and is not checked).

use arrow::ipc::{Block, Message};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};
use std::io::{Read, Seek, SeekFrom};

/// The largest uncompressed size a compressed buffer may declare.
pub const MAX_BUFFER_BYTES: i64 = 1 << 30;

const CONTINUATION: [u8; 4] = [0xff; 4];

/// Checks the compressed buffers of the message whose flatbuffer is `meta` and whose body
/// (of `body_len` bytes) starts at `body_start`. `Err((byte, declared))` for a buffer
/// declaring more than the limit.
/// Why a message failed the check.
enum Fault {
    /// A compressed buffer at this byte declares this many uncompressed bytes.
    Limit(u64, i64),
    /// The message metadata does not verify as a flatbuffer `Message`.
    Unreadable,
}

fn check_message<R: Read + Seek>(file: &mut R, meta: &[u8], body_start: u64, body_len: u64) -> Result<(), Fault> {
    let Ok(message) = arrow::ipc::root_as_message(meta) else { return Err(Fault::Unreadable) };
    let batch = message.header_as_record_batch().or_else(|| message.header_as_dictionary_batch().and_then(|d| d.data()));
    let Some(batch) = batch else { return Ok(()) };
    if batch.compression().is_none() {
        return Ok(());
    }
    let Some(buffers) = batch.buffers() else { return Ok(()) };
    for b in buffers.iter() {
        let (Ok(offset), Ok(len)) = (u64::try_from(b.offset()), u64::try_from(b.length())) else { continue };
        if len < 8 || offset.checked_add(8).is_none_or(|end| end > body_len) {
            continue; // arrow reports buffers outside the body
        }
        let at = body_start + offset;
        let mut prefix = [0u8; 8];
        if file.seek(SeekFrom::Start(at)).is_err() || file.read_exact(&mut prefix).is_err() {
            return Ok(()); // a short file: arrow reports the truncation
        }
        let declared = i64::from_le_bytes(prefix);
        if declared > MAX_BUFFER_BYTES {
            return Err(Fault::Limit(at, declared));
        }
    }
    Ok(())
}

fn limit(name: &str, byte: u64, declared: i64) -> AdapterError {
    AdapterError::new(
        AdapterErrorCode::Limit,
        format!("a compressed buffer declares {declared} bytes uncompressed, more than the {MAX_BUFFER_BYTES}-byte limit (corrupt file?)"),
        Position { source: name.to_string(), byte: Some(byte), ..Default::default() },
    )
}

/// The flatbuffer of the message at `offset` whose metadata block is `meta_len` bytes.
fn block_meta<R: Read + Seek>(file: &mut R, offset: i64, meta_len: i32) -> Option<Vec<u8>> {
    if offset < 0 || !(8..=16 << 20).contains(&meta_len) {
        return None;
    }
    file.seek(SeekFrom::Start(offset as u64)).ok()?;
    let mut buf = vec![0u8; meta_len as usize];
    file.read_exact(&mut buf).ok()?;
    // as arrow's file reader does: everything after the prefix, whatever the size word says
    let start = if buf[..4] == CONTINUATION { 8 } else { 4 };
    buf.get(start..).map(<[u8]>::to_vec)
}

/// Checks the blocks (record batches and dictionaries) an IPC file's footer lists.
/// A block that does not lie inside the file is `ERR_PARSE` (arrow would try to reserve its
/// length, or seek to a negative offset).
pub fn check_file_blocks<'a, R: Read + Seek>(file: &mut R, blocks: impl Iterator<Item = &'a Block>, name: &str) -> Result<(), AdapterError> {
    let len = file.seek(SeekFrom::End(0)).map_err(|e| {
        AdapterError::new(AdapterErrorCode::Io, format!("cannot read: {e}"), Position { source: name.to_string(), ..Default::default() })
    })?;
    for b in blocks {
        let end = u64::try_from(b.offset())
            .ok()
            .zip(u64::try_from(b.metaDataLength()).ok())
            .zip(u64::try_from(b.bodyLength()).ok())
            .and_then(|((o, m), l)| o.checked_add(m)?.checked_add(l));
        if end.is_none_or(|end| end > len) {
            return Err(AdapterError::new(
                AdapterErrorCode::Parse,
                format!(
                    "not a readable Arrow IPC file: the footer lists a block of {} + {} bytes at offset {}, outside the file ({len} bytes)",
                    b.metaDataLength(),
                    b.bodyLength(),
                    b.offset()
                ),
                Position { source: name.to_string(), ..Default::default() },
            ));
        }
        // None: a metadata length arrow would still read but this check cannot: refuse it
        let meta = block_meta(file, b.offset(), b.metaDataLength()).ok_or(Fault::Unreadable);
        let (Ok(body_len), Some(body_start)) = (u64::try_from(b.bodyLength()), (b.offset() as u64).checked_add(b.metaDataLength() as u64))
        else {
            continue;
        };
        match meta.and_then(|meta| check_message(file, &meta, body_start, body_len)) {
            Ok(()) => {}
            Err(Fault::Limit(at, declared)) => return Err(limit(name, at, declared)),
            // arrow parses the metadata together with the body that follows it, so a message
            // that only verifies with the body attached would escape the check: refuse it
            // (a writer's metadata always verifies on its own)
            Err(Fault::Unreadable) => {
                return Err(AdapterError::new(
                    AdapterErrorCode::Parse,
                    format!("not a readable Arrow IPC file: the message at offset {} is corrupt", b.offset()),
                    Position { source: name.to_string(), byte: Some(b.offset() as u64), ..Default::default() },
                ))
            }
        }
    }
    Ok(())
}

/// Checks the messages of an IPC stream, read from its start.
pub fn check_stream<R: Read + Seek>(file: &mut R, len: u64, name: &str) -> Result<(), AdapterError> {
    let mut at = 0u64;
    loop {
        let mut word = [0u8; 4];
        if file.seek(SeekFrom::Start(at)).is_err() || file.read_exact(&mut word).is_err() {
            return Ok(());
        }
        at += 4;
        if word == CONTINUATION {
            if file.read_exact(&mut word).is_err() {
                return Ok(());
            }
            at += 4;
        }
        let meta_len = i32::from_le_bytes(word);
        let Ok(meta_len) = u64::try_from(meta_len) else { return Ok(()) };
        if meta_len == 0 || at + meta_len > len {
            return Ok(()); // the end, or a corrupt length arrow reports
        }
        let mut meta = vec![0u8; meta_len as usize];
        if file.read_exact(&mut meta).is_err() {
            return Ok(());
        }
        at += meta_len;
        let Ok(body_len) = arrow::ipc::root_as_message(&meta).map(|m: Message| m.bodyLength()) else { return Ok(()) };
        let Ok(body_len) = u64::try_from(body_len) else { return Ok(()) };
        match check_message(file, &meta, at, body_len) {
            Err(Fault::Limit(byte, declared)) => return Err(limit(name, byte, declared)),
            // the stream reader parses exactly these bytes: it reports the corruption itself
            Err(Fault::Unreadable) => return Ok(()),
            Ok(()) => {}
        }
        at = match at.checked_add(body_len) {
            Some(a) if a <= len => a,
            _ => return Ok(()),
        };
    }
}
