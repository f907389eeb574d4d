//! Finding message boundaries in the input without decoding the messages: a stream of
//! varint length-delimited messages, the elements of one container message's repeated
//! field (read field by field, so a container of any size streams), or one whole message.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

/// Largest message (or length-delimited field) accepted; a larger declared length is
/// `ERR_LIMIT`, checked before anything is allocated.
pub const MAX_MESSAGE_BYTES: u64 = 64 << 20;

/// How the input is cut into messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `varint length, message bytes`, repeated (`writeDelimitedTo`, `_VarintBytes`).
    Delimited,
    /// One container message; its repeated message field `field` holds the records.
    Container { field: u32 },
    /// One message, which is the only record.
    Whole,
}

/// Why the framing could not go on.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The input ends inside a length, a tag or a message (`ERR_PARSE`).
    Truncated(String),
    /// Bytes that are not protobuf wire format (`ERR_PARSE`).
    Malformed(String),
    /// A declared length beyond [`MAX_MESSAGE_BYTES`] (`ERR_LIMIT`).
    TooLarge(u64),
    /// A read failed (`ERR_IO`).
    Io(io::Error),
}

/// Reads wire-format framing from a buffered file, counting consumed bytes.
pub(crate) struct WireReader {
    inner: BufReader<File>,
    /// Bytes consumed so far.
    pub offset: u64,
    /// Where the message (or container field) being read starts: errors point there.
    pub start: u64,
    framing: Framing,
    finished: bool,
}

impl WireReader {
    /// A reader of `file` cut as `framing` says.
    pub fn new(file: File, framing: Framing) -> WireReader {
        WireReader { inner: BufReader::with_capacity(256 << 10, file), offset: 0, start: 0, framing, finished: false }
    }

    /// Reads the next message's bytes into `buf`; returns the offset where the message (its
    /// length prefix or field tag) starts, or `None` at the end of the input.
    pub fn next_message(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>, FrameError> {
        if self.finished {
            return Ok(None);
        }
        let got = match self.framing {
            Framing::Delimited => self.delimited(buf),
            Framing::Container { field } => self.container(field, buf),
            Framing::Whole => {
                self.finished = true;
                self.read_len(None, buf, "message").map(|()| Some(0))
            }
        };
        if !matches!(got, Ok(Some(_))) {
            self.finished = true;
        }
        got
    }

    fn delimited(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>, FrameError> {
        let start = self.offset;
        self.start = start;
        let Some(len) = self.varint("length prefix")? else { return Ok(None) };
        self.read_len(Some(len), buf, "message")?;
        Ok(Some(start))
    }

    fn container(&mut self, records: u32, buf: &mut Vec<u8>) -> Result<Option<u64>, FrameError> {
        loop {
            let start = self.offset;
            self.start = start;
            let Some(tag) = self.varint("field tag")? else { return Ok(None) };
            let (field, wire) = (tag >> 3, tag & 7);
            if field == 0 || field > u64::from(u32::MAX >> 3) {
                return Err(FrameError::Malformed(format!("invalid field number {field} at byte {start}")));
            }
            match wire {
                2 => {
                    let len = self.need_varint("field length")?;
                    if field == u64::from(records) {
                        self.read_len(Some(len), buf, "record")?;
                        return Ok(Some(start));
                    }
                    self.skip(len)?;
                }
                _ if field == u64::from(records) => {
                    return Err(FrameError::Malformed(format!(
                        "the records field {records} has wire type {wire} at byte {start}, not a message"
                    )));
                }
                _ => self.skip_value(field, wire, start, 0)?,
            }
        }
    }

    /// Skips one non-length-delimited value (or a group) of `field`.
    fn skip_value(&mut self, field: u64, wire: u64, start: u64, depth: u32) -> Result<(), FrameError> {
        match wire {
            0 => self.need_varint("varint").map(drop),
            1 => self.skip(8),
            2 => {
                let len = self.need_varint("field length")?;
                self.skip(len)
            }
            3 => {
                if depth > 64 {
                    return Err(FrameError::Malformed(format!("groups nested too deeply at byte {start}")));
                }
                loop {
                    let at = self.offset;
                    let tag = self.need_varint("field tag")?;
                    let (f, w) = (tag >> 3, tag & 7);
                    if w == 4 {
                        return if f == field {
                            Ok(())
                        } else {
                            Err(FrameError::Malformed(format!("mismatched end of group at byte {at}")))
                        };
                    }
                    self.skip_value(f, w, at, depth + 1)?;
                }
            }
            5 => self.skip(4),
            _ => Err(FrameError::Malformed(format!("invalid wire type {wire} at byte {start}"))),
        }
    }

    /// A varint, or `None` at a clean end of input (before its first byte).
    fn varint(&mut self, what: &str) -> Result<Option<u64>, FrameError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = {
                let avail = self.inner.fill_buf().map_err(FrameError::Io)?;
                match avail.first() {
                    Some(b) => *b,
                    None if i == 0 => return Ok(None),
                    None => return Err(FrameError::Truncated(format!("the input ends inside a {what} at byte {}", self.offset))),
                }
            };
            self.inner.consume(1);
            self.offset += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(Some(value));
            }
        }
        Err(FrameError::Malformed(format!("a {what} longer than 10 bytes ends at byte {}", self.offset)))
    }

    fn need_varint(&mut self, what: &str) -> Result<u64, FrameError> {
        let at = self.offset;
        self.varint(what)?.ok_or_else(|| FrameError::Truncated(format!("the input ends where a {what} was expected at byte {at}")))
    }

    /// Reads exactly `len` bytes (`None`: to the end, within the limit) into `buf`. (A
    /// declared length of `u64::MAX` is a length like any other: too large.)
    fn read_len(&mut self, len: Option<u64>, buf: &mut Vec<u8>, what: &str) -> Result<(), FrameError> {
        let to_end = len.is_none();
        let len = len.unwrap_or(u64::MAX);
        if !to_end && len > MAX_MESSAGE_BYTES {
            return Err(FrameError::TooLarge(len));
        }
        buf.clear();
        let want = if to_end { MAX_MESSAGE_BYTES + 1 } else { len };
        let got = (&mut self.inner).take(want).read_to_end(buf).map_err(FrameError::Io)? as u64;
        self.offset += got;
        if to_end && got > MAX_MESSAGE_BYTES {
            return Err(FrameError::TooLarge(got));
        }
        if !to_end && got < len {
            return Err(FrameError::Truncated(format!("the input ends inside a {what}: {len} bytes declared, {got} present")));
        }
        Ok(())
    }

    fn skip(&mut self, len: u64) -> Result<(), FrameError> {
        let got = io::copy(&mut (&mut self.inner).take(len), &mut io::sink()).map_err(FrameError::Io)?;
        self.offset += got;
        if got < len {
            return Err(FrameError::Truncated(format!("the input ends inside a field: {len} bytes declared, {got} present")));
        }
        Ok(())
    }
}
