//! A guard against data nested deeper than the decoder's stack allows.
//!
//! apache-avro decodes a datum recursively, one stack frame (or a few) per level of
//! nesting, without a depth limit. With a recursive schema (a record that contains itself
//! through a union, array or map) each level costs a byte or two of input, so a small
//! hostile file can nest a datum deeply enough to overflow the stack, which aborts the
//! process. For such schemas, [`DepthGuard`] reads each data block ahead of the decoder
//! through its own file handle, decompresses it and walks its datums with a depth
//! counter: a datum nested deeper than [`MAX_DEPTH`] is `ERR_LIMIT` before the decoder
//! sees its block. Non-recursive schemas have a fixed depth and pay nothing.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::str::FromStr;

use apache_avro::schema::{InnerDecimalSchema, Name, ResolvedSchema, UuidSchema};
use apache_avro::{Codec, Schema};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};

use crate::source::MAX_ALLOCATION;

/// The deepest datum accepted with a recursive schema (levels of records, arrays, maps and
/// unions), as the XML source's default `maxDepth`.
pub const MAX_DEPTH: usize = 256;

/// Whether `schema` refers to a named type inside its own definition.
pub(crate) fn is_recursive(schema: &Schema) -> bool {
    let Ok(resolved) = ResolvedSchema::try_from(schema) else { return false };
    let names: HashMap<Name, Schema> = resolved.get_names().iter().map(|(n, s)| (n.clone(), (*s).clone())).collect();
    fn walk(s: &Schema, names: &HashMap<Name, Schema>, open: &mut HashSet<Name>) -> bool {
        match s {
            Schema::Ref { name } => {
                if open.contains(name) {
                    return true;
                }
                match names.get(name) {
                    Some(t) => {
                        open.insert(name.clone());
                        let r = walk(t, names, open);
                        open.remove(name);
                        r
                    }
                    None => false,
                }
            }
            Schema::Record(r) => {
                if open.contains(&r.name) {
                    return true;
                }
                open.insert(r.name.clone());
                let found = r.fields.iter().any(|f| walk(&f.schema, names, open));
                open.remove(&r.name);
                found
            }
            Schema::Array(a) => walk(&a.items, names, open),
            Schema::Map(m) => walk(&m.types, names, open),
            Schema::Union(u) => u.variants().iter().any(|v| walk(v, names, open)),
            _ => false,
        }
    }
    walk(schema, &names, &mut HashSet::new())
}

/// Reads the data blocks of an Avro file ahead of the decoder and checks datum depth.
pub(crate) struct DepthGuard {
    file: BufReader<File>,
    offset: u64,
    codec: Codec,
    sync: [u8; 16],
    schema: Schema,
    names: HashMap<Name, Schema>,
    name: String,
    /// Records in the blocks checked so far.
    pub checked: u64,
    ended: bool,
}

/// Why a block could not be checked: a message and whether it is the depth limit.
type Fail = (AdapterErrorCode, String);

impl DepthGuard {
    /// A guard over `path` (already opened once by the decoder: the header is valid).
    pub(crate) fn new(path: &str, schema: &Schema, name: &str) -> Result<DepthGuard, AdapterError> {
        let at = || Position { source: name.to_string(), ..Default::default() };
        let file = File::open(path).map_err(|e| AdapterError::new(AdapterErrorCode::Io, format!("cannot open {name}: {e}"), at()))?;
        let resolved = ResolvedSchema::try_from(schema)
            .map_err(|e| AdapterError::new(AdapterErrorCode::Parse, format!("writer schema: {e}"), at()))?;
        let names = resolved.get_names().iter().map(|(n, s)| (n.clone(), (*s).clone())).collect();
        let mut g = DepthGuard {
            file: BufReader::with_capacity(64 << 10, file),
            offset: 0,
            codec: Codec::Null,
            sync: [0; 16],
            schema: schema.clone(),
            names,
            name: name.to_string(),
            checked: 0,
            ended: false,
        };
        g.header().map_err(|(code, m)| AdapterError::new(code, m, Position { byte: Some(g.offset), ..at() }))?;
        Ok(g)
    }

    /// Checks blocks until more than `row` records are checked (or the file ends).
    pub(crate) fn ensure(&mut self, row: u64) -> Result<(), AdapterError> {
        while self.checked <= row && !self.ended {
            let start = self.offset;
            self.block().map_err(|(code, m)| {
                self.ended = true;
                let pos = Position { source: self.name.clone(), row: Some(self.checked), byte: Some(start), field: None };
                AdapterError::new(code, format!("{m} (in the data block at byte {start})"), pos)
            })?;
        }
        Ok(())
    }

    fn byte(&mut self) -> Result<Option<u8>, Fail> {
        let mut b = [0u8; 1];
        match self.file.read(&mut b) {
            Ok(0) => Ok(None),
            Ok(_) => {
                self.offset += 1;
                Ok(Some(b[0]))
            }
            Err(e) => Err((AdapterErrorCode::Io, format!("read failed: {e}"))),
        }
    }

    /// A zigzag varint from the file; `None` at a clean end before its first byte.
    fn long(&mut self) -> Result<Option<i64>, Fail> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(b) = self.byte()? else {
                return if i == 0 { Ok(None) } else { Err(truncated()) };
            };
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(Some(((v >> 1) as i64) ^ -((v & 1) as i64)));
            }
        }
        Err((AdapterErrorCode::Parse, "a varint longer than 10 bytes".into()))
    }

    fn bytes(&mut self, len: i64) -> Result<Vec<u8>, Fail> {
        let len = usize::try_from(len).map_err(|_| (AdapterErrorCode::Parse, format!("negative length {len}")))?;
        if len > MAX_ALLOCATION {
            return Err((AdapterErrorCode::Limit, format!("a length of {len} bytes is larger than the limit ({MAX_ALLOCATION})")));
        }
        let mut out = Vec::new();
        let got = (&mut self.file).take(len as u64).read_to_end(&mut out).map_err(|e| (AdapterErrorCode::Io, format!("read failed: {e}")))?;
        self.offset += got as u64;
        if got < len {
            return Err(truncated());
        }
        Ok(out)
    }

    fn header(&mut self) -> Result<(), Fail> {
        if self.bytes(4)? != b"Obj\x01" {
            return Err((AdapterErrorCode::Parse, "not an Avro object container file".into()));
        }
        loop {
            let mut count = self.long()?.ok_or_else(truncated)?;
            if count == 0 {
                break;
            }
            if count < 0 {
                count = count.checked_neg().ok_or_else(truncated)?;
                self.long()?;
            }
            for _ in 0..count {
                let n = self.long()?.ok_or_else(truncated)?;
                let key = self.bytes(n)?;
                let n = self.long()?.ok_or_else(truncated)?;
                let value = self.bytes(n)?;
                if key == b"avro.codec" {
                    let name = String::from_utf8_lossy(&value);
                    self.codec = Codec::from_str(&name).map_err(|_| (AdapterErrorCode::Parse, format!("unknown codec {name}")))?;
                }
            }
        }
        let sync = self.bytes(16)?;
        self.sync.copy_from_slice(&sync);
        Ok(())
    }

    fn block(&mut self) -> Result<(), Fail> {
        let Some(count) = self.long()? else {
            self.ended = true;
            return Ok(());
        };
        let size = self.long()?.ok_or_else(truncated)?;
        let mut data = self.bytes(size)?;
        if self.bytes(16)? != self.sync {
            return Err((AdapterErrorCode::Parse, "the block does not end with the file's sync marker".into()));
        }
        self.codec.decompress(&mut data).map_err(|e| (AdapterErrorCode::Parse, format!("cannot decompress the block: {e}")))?;
        let count = u64::try_from(count).map_err(|_| (AdapterErrorCode::Parse, format!("negative record count {count}")))?;
        let mut cur = Cursor { data: &data, at: 0 };
        let schema = self.schema.clone();
        for _ in 0..count {
            // more records than bytes: the decoder reports it; each record takes a byte
            // or more unless its schema is empty, which a recursive schema is not
            if cur.at >= data.len() {
                break;
            }
            skip(&mut cur, &schema, &self.names, &None, 0)?;
        }
        self.checked += count;
        Ok(())
    }
}

fn truncated() -> Fail {
    (AdapterErrorCode::Parse, "truncated file".into())
}

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn long(&mut self) -> Result<i64, Fail> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = *self.data.get(self.at).ok_or_else(truncated)?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((v >> 1) as i64) ^ -((v & 1) as i64));
            }
        }
        Err((AdapterErrorCode::Parse, "a varint longer than 10 bytes".into()))
    }
    fn advance(&mut self, n: u64) -> Result<(), Fail> {
        let end = (self.at as u64).checked_add(n).filter(|&e| e <= self.data.len() as u64).ok_or_else(truncated)?;
        self.at = end as usize;
        Ok(())
    }
    fn sized(&mut self) -> Result<(), Fail> {
        let n = self.long()?;
        let n = u64::try_from(n).map_err(|_| (AdapterErrorCode::Parse, format!("negative length {n}")))?;
        self.advance(n)
    }
}

/// Skips one datum of `s`, `depth` levels down.
fn skip(c: &mut Cursor<'_>, s: &Schema, names: &HashMap<Name, Schema>, ns: &Option<String>, depth: usize) -> Result<(), Fail> {
    if depth > MAX_DEPTH {
        return Err((AdapterErrorCode::Limit, format!("a record nested deeper than {MAX_DEPTH} levels")));
    }
    match s {
        Schema::Null => Ok(()),
        Schema::Boolean => c.advance(1),
        Schema::Int
        | Schema::Long
        | Schema::Date
        | Schema::TimeMillis
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos
        | Schema::Enum(_) => c.long().map(drop),
        Schema::Float => c.advance(4),
        Schema::Double => c.advance(8),
        Schema::Bytes | Schema::String | Schema::BigDecimal => c.sized(),
        Schema::Uuid(UuidSchema::Fixed(f)) | Schema::Fixed(f) | Schema::Duration(f) => c.advance(f.size as u64),
        Schema::Uuid(_) => c.sized(),
        Schema::Decimal(d) => match &d.inner {
            InnerDecimalSchema::Fixed(f) => c.advance(f.size as u64),
            InnerDecimalSchema::Bytes => c.sized(),
        },
        Schema::Array(a) => blocks(c, |c| skip(c, &a.items, names, ns, depth + 1)),
        Schema::Map(m) => blocks(c, |c| {
            c.sized()?;
            skip(c, &m.types, names, ns, depth + 1)
        }),
        Schema::Union(u) => {
            let i = c.long()?;
            let v = usize::try_from(i).ok().and_then(|i| u.variants().get(i)).ok_or_else(|| {
                (AdapterErrorCode::Parse, format!("union branch {i} does not exist"))
            })?;
            skip(c, v, names, ns, depth + 1)
        }
        Schema::Record(r) => {
            let ns = r.name.namespace().map(str::to_string).or_else(|| ns.clone());
            for f in &r.fields {
                skip(c, &f.schema, names, &ns, depth + 1)?;
            }
            Ok(())
        }
        Schema::Ref { name } => {
            let full = name.fully_qualified_name(ns.as_deref()).into_owned();
            let t = names.get(name).or_else(|| names.get(&full)).ok_or_else(|| {
                (AdapterErrorCode::Parse, format!("unknown type {name}"))
            })?;
            skip(c, t, names, ns, depth)
        }
    }
}

/// Skips the blocks of an array or a map, each item with `item`.
fn blocks(c: &mut Cursor<'_>, mut item: impl FnMut(&mut Cursor<'_>) -> Result<(), Fail>) -> Result<(), Fail> {
    loop {
        let mut n = c.long()?;
        if n == 0 {
            return Ok(());
        }
        if n < 0 {
            n = n.checked_neg().ok_or_else(truncated)?;
            c.long()?;
        }
        for _ in 0..n {
            let before = c.at;
            item(c)?;
            if c.at == before {
                // zero-byte items (null): the rest of the count costs nothing to skip
                break;
            }
        }
    }
}
