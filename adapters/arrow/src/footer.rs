//! What the footer of an Arrow IPC file says before any batch is read: the schema and the
//! number of rows (the sum of the `length` of every record batch message).

use arrow::datatypes::Schema;
use arrow::error::ArrowError;
use arrow::ipc::reader::read_footer_length;
use arrow::ipc::Block;
use std::io::{Read, Seek, SeekFrom};

/// Files with more record batches than this do not get a row total (reading every batch
/// header up front would cost more than it tells).
const MAX_COUNTED_BLOCKS: usize = 100_000;

/// The schema of an IPC file, its total row count when the batch headers could be read,
/// and the blocks (dictionaries, then record batches) the footer lists.
pub fn read_footer<R: Read + Seek>(file: &mut R) -> Result<(Schema, Option<u64>, Vec<Block>), ArrowError> {
    let len = file.seek(SeekFrom::End(0))?;
    if len < 18 {
        return Err(ArrowError::ParseError(format!("{len} bytes is too short for an Arrow IPC file")));
    }
    let mut tail = [0u8; 10];
    file.seek(SeekFrom::End(-10))?;
    file.read_exact(&mut tail)?;
    let footer_len =
        read_footer_length(tail).map_err(|_| ArrowError::ParseError("no Arrow IPC footer at the end of the file (truncated or corrupt)".into()))?;
    if footer_len as u64 > len - 10 {
        return Err(ArrowError::ParseError(format!("footer length {footer_len} is larger than the file")));
    }
    let mut fb = vec![0u8; footer_len];
    file.seek(SeekFrom::End(-10 - footer_len as i64))?;
    file.read_exact(&mut fb)?;
    let footer = arrow::ipc::root_as_footer(&fb).map_err(|e| ArrowError::ParseError(format!("corrupt Arrow IPC footer: {e}")))?;
    let schema = footer.schema().ok_or_else(|| ArrowError::ParseError("the Arrow IPC footer has no schema".into()))?;
    let schema = arrow::ipc::convert::try_fb_to_schema(schema)?;
    let rows = match footer.recordBatches() {
        Some(blocks) if blocks.len() <= MAX_COUNTED_BLOCKS => {
            let mut total = Some(0u64);
            for b in blocks.iter() {
                total = total.zip(batch_rows(file, b.offset(), b.metaDataLength())).map(|(t, n)| t + n);
            }
            total
        }
        _ => None,
    };
    let blocks = footer.dictionaries().into_iter().flatten().chain(footer.recordBatches().into_iter().flatten()).copied().collect();
    Ok((schema, rows, blocks))
}

/// The row count in the header of the record batch message at `offset`.
fn batch_rows<R: Read + Seek>(file: &mut R, offset: i64, meta_len: i32) -> Option<u64> {
    if offset < 0 || !(8..=16 << 20).contains(&meta_len) {
        return None;
    }
    file.seek(SeekFrom::Start(offset as u64)).ok()?;
    let mut buf = vec![0u8; meta_len as usize];
    file.read_exact(&mut buf).ok()?;
    // 0xFFFFFFFF continuation marker then the flatbuffer size, or (pre-1.0) the size alone
    let start = if buf[..4] == [0xff; 4] { 4 } else { 0 };
    let size = i32::from_le_bytes(buf.get(start..start + 4)?.try_into().ok()?);
    let body = buf.get(start + 4..start + 4 + usize::try_from(size).ok()?)?;
    let message = arrow::ipc::root_as_message(body).ok()?;
    u64::try_from(message.header_as_record_batch()?.length()).ok()
}
