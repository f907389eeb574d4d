//! Records and their binary encoding inside log frames.

use crate::error::{Error, Result};
use serde_json::Value;

/// One record of a collection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Unique id within the collection; upserting an existing id replaces the record.
    pub id: String,
    /// Text, indexed for BM25 search.
    pub text: Option<String>,
    /// Vector, in the form the user gave it (not normalised).
    pub vector: Option<Vec<f32>>,
    /// A JSON object of metadata.
    pub metadata: Option<Value>,
}

const HAS_TEXT: u8 = 1;
const HAS_VECTOR: u8 = 2;
const HAS_META: u8 = 4;

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// Appends the encoding of `r` to `out`.
pub fn encode(r: &Record, out: &mut Vec<u8>) {
    put_bytes(out, r.id.as_bytes());
    let flags = (r.text.is_some() as u8) * HAS_TEXT
        | (r.vector.is_some() as u8) * HAS_VECTOR
        | (r.metadata.is_some() as u8) * HAS_META;
    out.push(flags);
    if let Some(t) = &r.text {
        put_bytes(out, t.as_bytes());
    }
    if let Some(v) = &r.vector {
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        for x in v {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    if let Some(m) = &r.metadata {
        let json = serde_json::to_vec(m).unwrap_or_else(|_| b"null".to_vec());
        put_bytes(out, &json);
    }
}

/// A cursor over encoded bytes with bounds-checked reads.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    /// Current position.
    pub fn pos(&self) -> usize {
        self.pos
    }
    /// True when all bytes were consumed.
    pub fn is_done(&self) -> bool {
        self.pos >= self.buf.len()
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(Error::new(crate::ErrorCode::Corrupt, "record data is truncated"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    /// Reads `n` raw bytes.
    pub fn raw(&mut self, n: usize) -> Result<&'a [u8]> {
        self.take(n)
    }
    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    /// Reads a little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    /// Reads a little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    /// Reads a length-prefixed byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// Reads a length-prefixed UTF-8 string.
    pub fn str(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.bytes()?).map_err(|_| Error::new(crate::ErrorCode::Corrupt, "invalid UTF-8 in stored data"))
    }
    /// Reads `n` little-endian `f32`s.
    pub fn f32s(&mut self, n: usize) -> Result<Vec<f32>> {
        let b = self.take(n.checked_mul(4).ok_or_else(|| Error::new(crate::ErrorCode::Corrupt, "bad length"))?)?;
        Ok(b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
    }
}

/// Which parts of a record to decode.
#[derive(Clone, Copy, Debug, Default)]
pub struct Parts {
    /// Decode the text.
    pub text: bool,
    /// Decode the vector.
    pub vector: bool,
    /// Decode (parse) the metadata.
    pub metadata: bool,
}

impl Parts {
    /// Every part.
    pub const ALL: Parts = Parts { text: true, vector: true, metadata: true };
}

/// Decodes one record, skipping the parts not asked for.
pub fn decode(rd: &mut Reader<'_>, parts: Parts) -> Result<Record> {
    let id = rd.str()?.to_string();
    let flags = rd.u8()?;
    let mut r = Record { id, ..Default::default() };
    if flags & HAS_TEXT != 0 {
        let t = rd.str()?;
        if parts.text {
            r.text = Some(t.to_string());
        }
    }
    if flags & HAS_VECTOR != 0 {
        let dim = rd.u32()? as usize;
        if parts.vector {
            r.vector = Some(rd.f32s(dim)?);
        } else {
            rd.take(dim * 4)?;
        }
    }
    if flags & HAS_META != 0 {
        let m = rd.bytes()?;
        if parts.metadata {
            r.metadata = Some(
                serde_json::from_slice(m).map_err(|e| Error::new(crate::ErrorCode::Corrupt, format!("stored metadata is not JSON: {e}")))?,
            );
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = Record {
            id: "a/1".into(),
            text: Some("héllo".into()),
            vector: Some(vec![1.0, -2.5, f32::MIN_POSITIVE]),
            metadata: Some(serde_json::json!({"x": [1, "y", {"z": null}]})),
        };
        let empty = Record { id: "b".into(), ..Default::default() };
        let mut buf = Vec::new();
        encode(&r, &mut buf);
        encode(&empty, &mut buf);
        let mut rd = Reader::new(&buf);
        assert_eq!(decode(&mut rd, Parts::ALL).unwrap(), r);
        assert_eq!(decode(&mut rd, Parts::ALL).unwrap(), empty);
        assert!(rd.is_done());
        let mut rd = Reader::new(&buf);
        let partial = decode(&mut rd, Parts { text: true, ..Default::default() }).unwrap();
        assert_eq!(partial.text.as_deref(), Some("héllo"));
        assert!(partial.vector.is_none() && partial.metadata.is_none());
        // truncated input is an error, never a panic
        for cut in 0..buf.len() - 1 {
            let mut rd = Reader::new(&buf[..cut]);
            let _ = decode(&mut rd, Parts::ALL).and_then(|_| decode(&mut rd, Parts::ALL));
        }
    }
}
