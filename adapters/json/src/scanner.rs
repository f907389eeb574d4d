//! A structural JSON scanner over a buffered reader: it finds where values start and end
//! (strings, escapes and brackets only), so a document can be walked to a JSON pointer and
//! its array elements cut out one at a time for `serde_json`, never holding more than one
//! element in memory.

use std::io::{self, BufRead};
use std::sync::Arc;

use hektor_adapters_api::input::Meter;

/// What went wrong while scanning.
#[derive(Debug)]
pub(crate) enum ScanError {
    /// The reader failed (including the record budget and corrupt gzip).
    Io(io::Error),
    /// The input ended inside a value.
    Eof,
    /// A structural error at a text offset.
    Syntax(String, u64),
    /// A limit exceeded at a text offset (`ERR_LIMIT`).
    Limit(String, u64),
}

/// The deepest nesting of a value the scanner skips (on the way to the pointer). A value
/// it cuts out as a record is bounded by `maxRecordBytes` instead (and `serde_json`
/// refuses records nested deeper than 128 as a row error).
pub(crate) const MAX_SKIP_DEPTH: usize = 10_000;

impl From<io::Error> for ScanError {
    fn from(e: io::Error) -> Self {
        ScanError::Io(e)
    }
}

/// The scanner: a reader plus the text offset of the next unread byte.
pub(crate) struct Scanner<R> {
    r: R,
    pos: u64,
    meter: Arc<Meter>,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<R: BufRead> Scanner<R> {
    /// A scanner over `r`, whose first byte is at text offset `pos`.
    pub(crate) fn new(r: R, pos: u64, meter: Arc<Meter>) -> Self {
        Scanner { r, pos, meter }
    }

    /// Text offset of the next unread byte.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Skips whitespace and returns the next byte without consuming it (`None` at the end).
    pub(crate) fn peek(&mut self) -> Result<Option<u8>, ScanError> {
        loop {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                return Ok(None);
            }
            match buf.iter().position(|&b| !is_ws(b)) {
                Some(i) => {
                    let b = buf[i];
                    self.r.consume(i);
                    self.pos += i as u64;
                    return Ok(Some(b));
                }
                None => {
                    let n = buf.len();
                    self.r.consume(n);
                    self.pos += n as u64;
                    self.meter.start_record();
                }
            }
        }
    }

    /// Consumes one byte (after [`peek`](Self::peek) returned it).
    pub(crate) fn bump(&mut self) {
        self.r.consume(1);
        self.pos += 1;
    }

    /// Consumes the next non-whitespace byte, which must be `want`.
    pub(crate) fn expect(&mut self, want: u8, what: &str) -> Result<(), ScanError> {
        match self.peek()? {
            Some(b) if b == want => {
                self.bump();
                Ok(())
            }
            Some(b) => Err(ScanError::Syntax(format!("expected {what}, found {}", show(b)), self.pos)),
            None => Err(ScanError::Eof),
        }
    }

    /// Consumes one JSON value starting at the next non-whitespace byte, appending its
    /// bytes to `sink` when given (`None` skips it, resetting the record budget as it goes).
    /// Only structure is checked: bracket nesting and string ends; the content is left to
    /// `serde_json`.
    pub(crate) fn value(&mut self, mut sink: Option<&mut Vec<u8>>) -> Result<(), ScanError> {
        let first = self.peek()?.ok_or(ScanError::Eof)?;
        let mut stack: Vec<u8> = Vec::new();
        let mut in_str = false;
        let mut esc = false;
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        if matches!(first, b'}' | b']' | b',' | b':') {
            return Err(ScanError::Syntax(format!("expected a value, found {}", show(first)), self.pos));
        }
        let mut started = false;
        loop {
            if sink.is_none() {
                self.meter.start_record();
            }
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                // The end of the input ends a scalar (`[1` is caught by the caller), nothing else.
                return if scalar && started { Ok(()) } else { Err(ScanError::Eof) };
            }
            let mut i = 0;
            if !started {
                started = true;
                i = 1;
                match first {
                    b'{' | b'[' => stack.push(first),
                    b'"' => in_str = true,
                    _ => {}
                }
            }
            let mut end = None;
            while i < buf.len() {
                if in_str {
                    if esc {
                        esc = false;
                        i += 1;
                        continue;
                    }
                    match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                        None => i = buf.len(),
                        Some(k) => {
                            i += k;
                            if buf[i] == b'\\' {
                                esc = true;
                            } else {
                                in_str = false;
                                if stack.is_empty() {
                                    end = Some(i + 1);
                                    break;
                                }
                            }
                            i += 1;
                        }
                    }
                    continue;
                }
                let b = buf[i];
                if scalar {
                    if matches!(b, b',' | b']' | b'}' | b':' | b'{' | b'[' | b'"') || is_ws(b) {
                        end = Some(i);
                        break;
                    }
                    i += 1;
                    continue;
                }
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => {
                        if sink.is_none() && stack.len() >= MAX_SKIP_DEPTH {
                            let at = self.pos + i as u64;
                            return Err(ScanError::Limit(format!("JSON nested deeper than {MAX_SKIP_DEPTH} levels"), at));
                        }
                        stack.push(b)
                    }
                    b'}' | b']' => {
                        let open = stack.pop();
                        let want = if b == b'}' { b'{' } else { b'[' };
                        if open != Some(want) {
                            let at = self.pos + i as u64;
                            return Err(ScanError::Syntax(format!("unexpected {} (brackets do not match)", show(b)), at));
                        }
                        if stack.is_empty() {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let n = end.unwrap_or(buf.len());
            if let Some(s) = sink.as_deref_mut() {
                s.extend_from_slice(&buf[..n]);
            }
            self.r.consume(n);
            self.pos += n as u64;
            if end.is_some() {
                return Ok(());
            }
        }
    }

    /// Reads a string value (an object key) and decodes its escapes.
    pub(crate) fn string(&mut self, scratch: &mut Vec<u8>) -> Result<String, ScanError> {
        let at = self.pos;
        scratch.clear();
        self.value(Some(scratch))?;
        serde_json::from_slice::<String>(scratch).map_err(|e| ScanError::Syntax(format!("invalid object key: {}", strip_location(&e)), at))
    }
}

/// A byte for messages: the character, or its hex value.
pub(crate) fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

/// A `serde_json` error message without its "at line L column C" suffix (positions are
/// reported as byte offsets instead).
pub(crate) fn strip_location(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The byte offset, within `text`, of a `serde_json` error's line and column.
pub(crate) fn error_offset(text: &[u8], e: &serde_json::Error) -> u64 {
    let (line, column) = (e.line(), e.column());
    if line == 0 {
        return 0;
    }
    let mut start = 0;
    for _ in 1..line {
        match memchr::memchr(b'\n', &text[start..]) {
            Some(k) => start += k + 1,
            None => break,
        }
    }
    (start + column.saturating_sub(1)).min(text.len()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        let mut s = Scanner::new(io::BufReader::with_capacity(3, text.as_bytes()), 0, Arc::new(Meter::default()));
        let mut out = Vec::new();
        while s.peek().unwrap().is_some() {
            let mut v = Vec::new();
            s.value(Some(&mut v)).unwrap();
            out.push(String::from_utf8(v).unwrap());
            if s.peek().unwrap() == Some(b',') {
                s.bump();
            }
        }
        out
    }

    #[test]
    fn cuts_values_across_small_buffers() {
        assert_eq!(
            values(r#" {"a": "x}\"]", "b": [1, {"c": null}]} , 12.5e3, "s\\", true ,[] "#),
            vec![r#"{"a": "x}\"]", "b": [1, {"c": null}]}"#, "12.5e3", r#""s\\""#, "true", "[]"]
        );
    }

    #[test]
    fn reports_structure_errors() {
        let mut s = Scanner::new(&b"{\"a\": [1}"[..], 0, Arc::new(Meter::default()));
        assert!(matches!(s.value(None), Err(ScanError::Syntax(_, 8))));
        let mut s = Scanner::new(&b"{\"a\": [1"[..], 0, Arc::new(Meter::default()));
        assert!(matches!(s.value(None), Err(ScanError::Eof)));
        let e = serde_json::from_slice::<serde_json::Value>(b"{\n  \"a\": tru }").unwrap_err();
        assert_eq!(error_offset(b"{\n  \"a\": tru }", &e), 12);
    }
}
