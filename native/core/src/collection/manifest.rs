//! The checkpoint: `manifest.json` names the files that hold the collection's state
//! as of a byte offset of the record log; everything after that offset is replayed
//! on open. The slot table file (`slots-<gen>.bin`) stores, per slot, the record id,
//! where the record sits in the log, its flags, its metadata and (format 2) checksums of
//! the record's bytes in the log and of its vector row, which reads and
//! [`Collection::verify`](super::Collection::verify) check.

use crate::error::{Error, Result};
use crate::store::fsutil;
use crate::store::record::Reader;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;

/// Contents of `manifest.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Format version of the collection directory.
    pub format_version: u32,
    /// Checkpoint generation (grows by one per checkpoint).
    pub gen: u64,
    /// Record log file name.
    pub log: String,
    /// Bytes of the log covered by this checkpoint.
    pub log_offset: u64,
    /// Next frame sequence number.
    pub next_seq: u64,
    /// Vector file name (absent until the dimension is known).
    pub vectors: Option<String>,
    /// Number of slots in the slot table.
    pub n_slots: u64,
    /// Slot table file name.
    pub slots: Option<String>,
    /// BM25 index file name.
    pub bm25: Option<String>,
    /// Frozen graph file name.
    pub graph: Option<String>,
    /// hnsw_rs dump base name (for resuming construction).
    pub hnsw: Option<String>,
    /// Slots below this were inserted into the hnsw_rs dump.
    pub hnsw_watermark: u32,
    /// CRC-32 of the hnsw_rs dump's `.hnsw.graph` and `.hnsw.data` files, checked before
    /// the dump is reloaded (a mismatch rebuilds the graph from the vectors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hnsw_crc: Option<[u32; 2]>,
    /// Quantized code file name (`quantization: 'sq8'`, once trained).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<String>,
    /// The trained quantizer of the code file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sq8: Option<crate::vector::Sq8>,
    /// Slots below this have a code row in the code file.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub codes_encoded: u32,
    /// CRC-32 of this manifest serialised with `checksum` absent; absent in manifests
    /// written before checksums existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<u32>,
}

fn is_zero(x: &u32) -> bool {
    *x == 0
}

/// Current directory format version.
pub const FORMAT_VERSION: u32 = 1;
/// File name of the manifest.
pub const MANIFEST: &str = "manifest.json";

impl Manifest {
    /// The manifest of an empty collection.
    pub fn initial() -> Manifest {
        Manifest { format_version: FORMAT_VERSION, log: "records-0.log".into(), ..Default::default() }
    }

    /// Reads `dir/manifest.json`; `Ok(None)` when there is none yet.
    pub fn load(dir: &Path) -> Result<Option<Manifest>> {
        let p = dir.join(MANIFEST);
        if !p.exists() {
            return Ok(None);
        }
        let bytes = fsutil::read(&p)?;
        let mut m: Manifest = serde_json::from_slice(&bytes).map_err(|e| Error::corrupt(&p, format!("unreadable manifest: {e}")))?;
        if m.format_version != FORMAT_VERSION {
            return Err(Error::corrupt(&p, format!("unsupported format version {}", m.format_version)));
        }
        if let Some(sum) = m.checksum.take() {
            if m.body_crc() != sum {
                return Err(Error::corrupt(&p, "manifest checksum mismatch"));
            }
        }
        Ok(Some(m))
    }

    /// CRC-32 of the manifest serialised without its checksum.
    fn body_crc(&self) -> u32 {
        let bare = Manifest { checksum: None, ..self.clone() };
        crc32fast::hash(&serde_json::to_vec_pretty(&bare).unwrap())
    }

    /// Atomically replaces `dir/manifest.json` (with its checksum).
    pub fn store(&self, dir: &Path) -> Result<()> {
        let sealed = Manifest { checksum: Some(self.body_crc()), ..self.clone() };
        fsutil::replace_atomic(&dir.join(MANIFEST), &serde_json::to_vec_pretty(&sealed).unwrap())
    }

    /// Every file name this manifest references.
    pub fn files(&self) -> Vec<String> {
        let mut v = vec![self.log.clone()];
        for f in [&self.vectors, &self.slots, &self.bm25, &self.graph, &self.codes].into_iter().flatten() {
            v.push(f.clone());
        }
        if let Some(h) = &self.hnsw {
            v.push(format!("{h}.hnsw.graph"));
            v.push(format!("{h}.hnsw.data"));
        }
        v
    }
}

/// Flags of a slot.
pub mod flags {
    /// The slot holds the current version of its id.
    pub const ALIVE: u8 = 1;
    /// The record has a vector.
    pub const VECTOR: u8 = 2;
    /// The record has text.
    pub const TEXT: u8 = 4;
    /// The record is a chunk of a parent record (chunked collections).
    pub const CHUNK: u8 = 8;
    /// [`SlotInfo::crc`](super::SlotInfo::crc) and [`SlotInfo::vcrc`](super::SlotInfo::vcrc)
    /// hold checksums (slots loaded from a format-1 slot table have none).
    pub const CHECKED: u8 = 16;
}

/// CRC-32 of a vector row as stored (little-endian `f32`s).
pub fn vector_crc(v: &[f32]) -> u32 {
    #[cfg(target_endian = "little")]
    {
        // SAFETY: f32 has no padding and any byte pattern is a valid u8
        let bytes = unsafe { std::slice::from_raw_parts(v.as_ptr() as *const u8, std::mem::size_of_val(v)) };
        crc32fast::hash(bytes)
    }
    #[cfg(not(target_endian = "little"))]
    {
        let mut h = crc32fast::Hasher::new();
        for x in v {
            h.update(&x.to_le_bytes());
        }
        h.finalize()
    }
}

/// In-memory entry of the slot table.
#[derive(Clone, Debug, PartialEq)]
pub struct SlotInfo {
    /// Record id.
    pub id: Box<str>,
    /// File offset of the encoded record in the log.
    pub offset: u64,
    /// Length of the encoded record.
    pub len: u32,
    /// [`flags`] bits.
    pub flags: u8,
    /// CRC-32 of the encoded record in the log (valid with [`flags::CHECKED`]).
    pub crc: u32,
    /// CRC-32 of the vector row in index form, [`vector_crc`] (valid with
    /// [`flags::CHECKED`] and [`flags::VECTOR`]).
    pub vcrc: u32,
}

impl SlotInfo {
    /// True when the slot is the live version of its id.
    #[inline]
    pub fn alive(&self) -> bool {
        self.flags & flags::ALIVE != 0
    }
    /// True when the record has a vector.
    #[inline]
    pub fn has_vector(&self) -> bool {
        self.flags & flags::VECTOR != 0
    }
    /// True when the record has text.
    #[inline]
    pub fn has_text(&self) -> bool {
        self.flags & flags::TEXT != 0
    }
    /// True when the record is a chunk of a parent record.
    #[inline]
    pub fn is_chunk(&self) -> bool {
        self.flags & flags::CHUNK != 0
    }
    /// True when [`crc`](Self::crc) and [`vcrc`](Self::vcrc) hold checksums.
    #[inline]
    pub fn is_checked(&self) -> bool {
        self.flags & flags::CHECKED != 0
    }
}

/// Format 1: no checksums per slot (still read).
const SLOTS_MAGIC_V1: &[u8; 8] = b"HKSLOTS1";
/// Format 2: a record checksum and a vector checksum after each slot's length.
const SLOTS_MAGIC: &[u8; 8] = b"HKSLOTS2";

/// Writes the slot table with metadata (fsynced), ending with a CRC32.
pub fn save_slots(path: &Path, slots: &[SlotInfo], meta: &[Option<Value>]) -> Result<()> {
    let mut out = Vec::with_capacity(slots.len() * 48 + 16);
    out.extend_from_slice(SLOTS_MAGIC);
    out.extend_from_slice(&(slots.len() as u64).to_le_bytes());
    for (s, m) in slots.iter().zip(meta) {
        out.push(s.flags);
        out.extend_from_slice(&(s.id.len() as u32).to_le_bytes());
        out.extend_from_slice(s.id.as_bytes());
        out.extend_from_slice(&s.offset.to_le_bytes());
        out.extend_from_slice(&s.len.to_le_bytes());
        out.extend_from_slice(&s.crc.to_le_bytes());
        out.extend_from_slice(&s.vcrc.to_le_bytes());
        match m {
            Some(v) if s.alive() => {
                let j = serde_json::to_vec(v).unwrap();
                out.extend_from_slice(&(j.len() as u32 + 1).to_le_bytes());
                out.extend_from_slice(&j);
            }
            _ => out.extend_from_slice(&0u32.to_le_bytes()),
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    fsutil::write_synced(path, &out)
}

/// Reads a slot table written by [`save_slots`].
pub fn load_slots(path: &Path) -> Result<(Vec<SlotInfo>, Vec<Option<Value>>)> {
    let bytes = fsutil::read(path)?;
    if bytes.len() < 20 || (&bytes[..8] != SLOTS_MAGIC && &bytes[..8] != SLOTS_MAGIC_V1) {
        return Err(Error::corrupt(path, "not a slot table (bad magic or truncated)"));
    }
    let v2 = &bytes[..8] == SLOTS_MAGIC;
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().unwrap()) {
        return Err(Error::corrupt(path, "slot table checksum mismatch"));
    }
    let bad = |e: Error| Error::corrupt(path, e.message().to_string());
    let mut rd = Reader::new(&body[8..]);
    let n = rd.u64().map_err(bad)? as usize;
    if n > body.len() {
        return Err(Error::corrupt(path, "slot count is larger than the file"));
    }
    let mut slots = Vec::with_capacity(n);
    let mut meta = Vec::with_capacity(n);
    for _ in 0..n {
        let flags = rd.u8().map_err(bad)?;
        let id = rd.str().map_err(bad)?.into();
        let offset = rd.u64().map_err(bad)?;
        let len = rd.u32().map_err(bad)?;
        let (crc, vcrc) = if v2 { (rd.u32().map_err(bad)?, rd.u32().map_err(bad)?) } else { (0, 0) };
        let flags = if v2 { flags } else { flags & !flags::CHECKED };
        let mlen = rd.u32().map_err(bad)?;
        let m = if mlen == 0 {
            None
        } else {
            let raw = rd.raw(mlen as usize - 1).map_err(bad)?;
            Some(serde_json::from_slice(raw).map_err(|e| Error::corrupt(path, format!("bad metadata JSON: {e}")))?)
        };
        slots.push(SlotInfo { id, offset, len, flags, crc, vcrc });
        meta.push(m);
    }
    Ok((slots, meta))
}
