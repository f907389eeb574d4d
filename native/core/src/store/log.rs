//! The record log: an append-only file of checksummed frames, the collection's
//! source of truth. A write is acknowledged only after its frame is on disk
//! (`fdatasync`), so acknowledged writes survive a killed process or a power cut.
//!
//! Frame: `magic "HKLG" | payload length u32 | crc32 u32 | kind u8 | 0xA5 | header check
//! u16 | sequence u64 | payload`. The CRC covers kind, marker, header check, sequence and
//! payload; the header check (16 bits of a CRC-32 of length, kind and sequence) makes a
//! damaged length field detectable on its own. Frames written before the header check
//! existed have zeros there and are read as before.
//!
//! Telling a crash from damage: a frame cut short by a crash (the *torn tail*) is shorter
//! than its header says, or ends in pages that never reached the disk (all zeros from a
//! 4 KiB boundary to the end of the file); it is cut off on open. Anything else that fails
//! its checks is *damage* and is reported as `ERR_CORRUPT` naming the frame, even in the
//! last frame: a flipped byte must not make an acknowledged write (a delete, say)
//! silently disappear. [`RecordLog::salvage`] reads past damaged frames for repair.

use crate::error::{Error, ErrorCode, Result};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"HKLG";
/// Marks a header that carries a header check (byte 13).
const CHECKED_HEADER: u8 = 0xA5;
/// Size of a frame header in bytes.
pub const HEADER: u64 = 24;
/// Largest payload accepted (1 GiB).
pub const MAX_PAYLOAD: u64 = 1 << 30;
/// Page size assumed by the torn-tail test (a crash loses whole pages).
const PAGE: u64 = 4096;

/// Kinds of frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// A batch of records to insert or replace.
    Upsert = 1,
    /// A batch of ids to delete.
    Delete = 2,
}

impl FrameKind {
    fn from_u8(b: u8) -> Option<FrameKind> {
        match b {
            1 => Some(FrameKind::Upsert),
            2 => Some(FrameKind::Delete),
            _ => None,
        }
    }
}

/// A frame read back from the log.
#[derive(Debug)]
pub struct Frame {
    /// Frame kind.
    pub kind: FrameKind,
    /// Sequence number.
    pub seq: u64,
    /// File offset of the payload's first byte.
    pub payload_offset: u64,
    /// The payload.
    pub payload: Vec<u8>,
}

/// A damaged stretch of the log found by [`RecordLog::salvage`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DamagedFrame {
    /// File offset of the damaged frame (or of the first unreadable byte).
    pub offset: u64,
    /// Bytes skipped.
    pub bytes: u64,
    /// The frame's sequence number, when its header could be read.
    pub seq: Option<u64>,
    /// What was wrong.
    pub reason: String,
}

/// What [`RecordLog::salvage`] read.
#[derive(Clone, Debug, Default)]
pub struct Salvage {
    /// Valid frames passed to the callback.
    pub frames: usize,
    /// Damaged frames skipped, in file order.
    pub damaged: Vec<DamagedFrame>,
    /// Bytes of a torn tail after the last valid frame (a crash; not damage).
    pub torn_bytes: u64,
}

/// What [`RecordLog::scan`] does at the end of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
    /// The writer: a torn tail is cut off; a damaged last frame is `ERR_CORRUPT`.
    Cut,
    /// A reader beside the writer: a torn tail, or a last frame that fails its checksum,
    /// may be a write in progress: the scan stops before it and changes nothing.
    Follow,
    /// A check that changes nothing: a torn tail is left alone, a damaged last frame is
    /// `ERR_CORRUPT`.
    Strict,
}

/// What lies at one position of the log.
enum At {
    /// A valid frame ending at the given offset.
    Frame(Frame, u64),
    /// The end of the file.
    End,
    /// The unfinished write of a crash, from here to the end of the file.
    Torn,
    /// A damaged frame; `next` is where the next frame starts when the length is trusted.
    Damaged { reason: String, seq: Option<u64>, next: Option<u64> },
}

/// The 16-bit header check of a frame's length, kind and sequence.
fn header_check(header: &[u8; HEADER as usize]) -> u16 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[4..8]);
    h.update(&header[12..13]);
    h.update(&header[16..24]);
    h.finalize() as u16
}

/// An open record log.
pub struct RecordLog {
    path: PathBuf,
    file: File,
    end: u64,
}

impl RecordLog {
    /// Opens (or, if `writable`, creates) the log.
    pub fn open(path: &Path, writable: bool) -> Result<RecordLog> {
        let file = if writable {
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
        } else {
            File::open(path)
        }
        .map_err(|e| Error::io(e, format!("opening {}", path.display())))?;
        let end = file.metadata().map_err(|e| Error::io(e, format!("reading {}", path.display())))?.len();
        Ok(RecordLog { path: path.to_path_buf(), file, end })
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Byte length of the valid log (after [`scan`](Self::scan) cut a torn tail).
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Appends a frame and makes it durable. Returns the payload's file offset.
    pub fn append(&mut self, kind: FrameKind, seq: u64, payload: &[u8], sync: bool) -> Result<u64> {
        if payload.len() as u64 > MAX_PAYLOAD {
            return Err(Error::new(ErrorCode::Limit, "write batch is larger than 1 GiB; split it"));
        }
        let mut frame = Vec::with_capacity(HEADER as usize + payload.len());
        frame.extend_from_slice(MAGIC);
        frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        frame.extend_from_slice(&[0u8; 4]);
        frame.push(kind as u8);
        frame.extend_from_slice(&[CHECKED_HEADER, 0, 0]);
        frame.extend_from_slice(&seq.to_le_bytes());
        let check = header_check(frame[..HEADER as usize].try_into().unwrap());
        frame[14..16].copy_from_slice(&check.to_le_bytes());
        frame.extend_from_slice(payload);
        let crc = crc32fast::hash(&frame[12..]);
        frame[8..12].copy_from_slice(&crc.to_le_bytes());
        let start = self.end;
        let ctx = || format!("appending to {}", self.path.display());
        if let Err(e) = write_all_at(&self.file, &frame, start) {
            // leave no partial frame behind
            let _ = self.file.set_len(start);
            return Err(Error::io(e, ctx()));
        }
        if sync {
            if let Err(e) = self.file.sync_data() {
                let _ = self.file.set_len(start);
                return Err(Error::io(e, ctx()));
            }
        }
        self.end = start + frame.len() as u64;
        Ok(start + HEADER)
    }

    /// Reads `len` bytes at `offset` (a record inside a frame).
    pub fn read_at(&self, offset: u64, len: u32) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len as usize];
        self.read_into(&mut buf, offset)?;
        Ok(buf)
    }

    /// Fills `buf` from byte `offset`, naming the file and offset in an error.
    fn read_into(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        read_exact_at(&self.file, buf, offset).map_err(|e| Error::io(e, format!("reading {} at byte {offset}", self.path.display())))
    }

    fn file_len(&self) -> Result<u64> {
        Ok(self.file.metadata().map_err(|e| Error::io(e, format!("reading {}", self.path.display())))?.len())
    }

    /// True when every byte of `from..to` is zero.
    fn zeros(&self, from: u64, to: u64) -> Result<bool> {
        let mut buf = vec![0u8; 1 << 16];
        let mut at = from;
        while at < to {
            let n = ((to - at) as usize).min(buf.len());
            self.read_into(&mut buf[..n], at)?;
            if buf[..n].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += n as u64;
        }
        Ok(true)
    }

    /// Reads what lies at `pos` (the file being `len` bytes long).
    fn frame_at(&self, pos: u64, len: u64) -> Result<At> {
        if pos >= len {
            return Ok(At::End);
        }
        if len - pos < HEADER {
            return Ok(At::Torn);
        }
        let mut header = [0u8; HEADER as usize];
        self.read_into(&mut header, pos)?;
        let plen = u32::from_le_bytes(header[4..8].try_into().unwrap()) as u64;
        let seq = u64::from_le_bytes(header[16..24].try_into().unwrap());
        let checked = header[13] == CHECKED_HEADER;
        let header_ok = &header[0..4] == MAGIC
            && plen <= MAX_PAYLOAD
            && if checked { u16::from_le_bytes([header[14], header[15]]) == header_check(&header) } else { header[13..16] == [0, 0, 0] };
        if !header_ok {
            // a header of zeros to the end of the file is a crash's unwritten pages
            if self.zeros(pos, len)? {
                return Ok(At::Torn);
            }
            return Ok(At::Damaged { reason: "bad frame header".into(), seq: None, next: None });
        }
        let end = pos + HEADER + plen;
        if end > len {
            // the header is intact (and checked), the rest was never written
            return Ok(At::Torn);
        }
        let mut payload = vec![0u8; plen as usize];
        self.read_into(&mut payload, pos + HEADER)?;
        let mut h = crc32fast::Hasher::new();
        h.update(&header[12..]);
        h.update(&payload);
        if h.finalize() != u32::from_le_bytes(header[8..12].try_into().unwrap()) {
            if end == len && unwritten_pages(pos + HEADER, &payload) {
                return Ok(At::Torn);
            }
            return Ok(At::Damaged { reason: "checksum mismatch".into(), seq: Some(seq), next: Some(end) });
        }
        let Some(kind) = FrameKind::from_u8(header[12]) else {
            return Ok(At::Damaged { reason: "unknown frame kind".into(), seq: Some(seq), next: Some(end) });
        };
        Ok(At::Frame(Frame { kind, seq, payload_offset: pos + HEADER, payload }, end))
    }

    fn cut_torn_tail(&mut self, pos: u64) -> Result<()> {
        self.file.set_len(pos).map_err(|e| Error::io(e, format!("truncating torn tail of {}", self.path.display())))?;
        self.file.sync_all().map_err(|e| Error::io(e, "syncing log"))
    }

    /// Calls `f` for each valid frame from byte `from` on; what happens at the end of the
    /// log is `tail`'s choice (see [`Tail`]). Any other damaged frame is `ERR_CORRUPT`
    /// naming its byte offset and sequence number. Returns the number of frames.
    pub fn scan(&mut self, from: u64, tail: Tail, mut f: impl FnMut(Frame) -> Result<()>) -> Result<usize> {
        let len = self.file_len()?;
        if from > len {
            return Err(Error::corrupt(&self.path, format!("log is shorter ({len} bytes) than its checkpoint ({from} bytes)")));
        }
        let mut pos = from;
        let mut count = 0;
        loop {
            match self.frame_at(pos, len)? {
                At::End => break,
                At::Torn => {
                    if tail == Tail::Cut {
                        self.cut_torn_tail(pos)?;
                    }
                    break;
                }
                // a reader may see the writer's last frame while it is being written
                At::Damaged { next: Some(n), .. } if tail == Tail::Follow && n == len => break,
                At::Damaged { reason, seq, .. } => {
                    let seq = seq.map_or(String::new(), |s| format!(" (sequence {s})"));
                    return Err(Error::corrupt(&self.path, format!("{reason} in frame at byte {pos}{seq}")));
                }
                At::Frame(frame, end) => {
                    f(frame)?;
                    count += 1;
                    pos = end;
                }
            }
        }
        self.end = pos;
        Ok(count)
    }

    /// Reads every frame it can from byte `from` on, for repair: damaged frames are
    /// skipped (their length is trusted when their header is intact; otherwise the next
    /// frame is found by its magic and checksums) and reported, a torn tail is reported
    /// but left in the file. Changes nothing on disk. `f` sees each valid frame in order.
    pub fn salvage(&mut self, from: u64, mut f: impl FnMut(Frame) -> Result<()>) -> Result<Salvage> {
        let len = self.file_len()?;
        let mut out = Salvage::default();
        let mut pos = from.min(len);
        loop {
            match self.frame_at(pos, len)? {
                At::End => break,
                At::Torn => {
                    out.torn_bytes = len - pos;
                    break;
                }
                At::Damaged { reason, seq, next } => {
                    let next = match next {
                        Some(n) => Some(n),
                        None => self.next_frame(pos + 1, len)?,
                    };
                    let to = next.unwrap_or(len);
                    out.damaged.push(DamagedFrame { offset: pos, bytes: to - pos, seq, reason });
                    pos = to;
                }
                At::Frame(frame, end) => {
                    f(frame)?;
                    out.frames += 1;
                    pos = end;
                }
            }
        }
        self.end = pos;
        Ok(out)
    }

    /// The offset of the next valid frame at or after `from` (found by its magic).
    fn next_frame(&self, from: u64, len: u64) -> Result<Option<u64>> {
        let mut buf = vec![0u8; 1 << 20];
        let mut at = from;
        while at < len {
            let n = ((len - at) as usize).min(buf.len());
            self.read_into(&mut buf[..n], at)?;
            for i in 0..n.saturating_sub(3) {
                if &buf[i..i + 4] == MAGIC && matches!(self.frame_at(at + i as u64, len)?, At::Frame(..)) {
                    return Ok(Some(at + i as u64));
                }
            }
            // a magic may straddle two reads
            at += (n as u64).saturating_sub(3).max(1);
        }
        Ok(None)
    }

    /// Cuts the file to the valid log's end (a torn tail [`salvage`](Self::salvage) left
    /// in place), so the next frame is appended where the valid log ends.
    pub fn truncate_to_end(&mut self) -> Result<()> {
        if self.file_len()? > self.end {
            self.cut_torn_tail(self.end)?;
        }
        Ok(())
    }

    /// fsyncs the file.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_all().map_err(|e| Error::io(e, format!("syncing {}", self.path.display())))
    }
}

/// True when a complete-length frame whose checksum fails looks like a crash's unwritten
/// pages: its bytes are zero from a page boundary (file offsets) to its end.
fn unwritten_pages(payload_offset: u64, payload: &[u8]) -> bool {
    let end = payload_offset + payload.len() as u64;
    let zeros_from = payload.iter().rposition(|&b| b != 0).map_or(payload_offset, |i| payload_offset + i as u64 + 1);
    zeros_from.div_ceil(PAGE) * PAGE < end
}

#[cfg(unix)]
fn write_all_at(f: &File, buf: &[u8], off: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.write_all_at(buf, off)
}

#[cfg(windows)]
fn write_all_at(f: &File, mut buf: &[u8], mut off: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_write(buf, off)? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => {
                buf = &buf[n..];
                off += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn read_exact_at(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, off)
}

#[cfg(windows)]
fn read_exact_at(f: &File, mut buf: &mut [u8], mut off: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_read(buf, off)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                off += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_scan_and_torn_tail() {
        let dir = crate::store::fsutil::test_dir("log");
        let p = dir.join("r.log");
        let mut log = RecordLog::open(&p, true).unwrap();
        let a = log.append(FrameKind::Upsert, 1, b"hello", true).unwrap();
        log.append(FrameKind::Delete, 2, b"xy", true).unwrap();
        assert_eq!(log.read_at(a, 5).unwrap(), b"hello");
        let full = log.end();
        // simulate a crash in the middle of a third frame
        log.append(FrameKind::Upsert, 3, &[7u8; 100], true).unwrap();
        let f = OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(full + 50).unwrap();
        drop(log);
        let mut log = RecordLog::open(&p, true).unwrap();
        let mut seen = Vec::new();
        log.scan(0, Tail::Cut, |fr| {
            seen.push((fr.kind, fr.seq, fr.payload));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1], (FrameKind::Delete, 2, b"xy".to_vec()));
        assert_eq!(std::fs::metadata(&p).unwrap().len(), full);
        // a damaged frame in the middle is corruption, not a tail
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[30] ^= 1;
        std::fs::write(&p, &bytes).unwrap();
        let mut log = RecordLog::open(&p, true).unwrap();
        assert_eq!(log.scan(0, Tail::Cut, |_| Ok(())).unwrap_err().code(), ErrorCode::Corrupt);
    }

    fn three_frames(name: &str) -> (PathBuf, [u64; 3]) {
        let dir = crate::store::fsutil::test_dir(name);
        let p = dir.join("r.log");
        let mut log = RecordLog::open(&p, true).unwrap();
        let mut ends = [0; 3];
        for (i, e) in ends.iter_mut().enumerate() {
            log.append(FrameKind::Upsert, i as u64 + 1, &vec![i as u8 + 1; 5000], true).unwrap();
            *e = log.end();
        }
        (p, ends)
    }

    fn seqs(p: &Path) -> Result<Vec<u64>> {
        let mut log = RecordLog::open(p, true)?;
        let mut seen = Vec::new();
        log.scan(0, Tail::Cut, |f| {
            seen.push(f.seq);
            Ok(())
        })?;
        Ok(seen)
    }

    fn edit(p: &Path, f: impl FnOnce(&mut Vec<u8>)) {
        let mut b = std::fs::read(p).unwrap();
        f(&mut b);
        std::fs::write(p, &b).unwrap();
    }

    #[test]
    fn a_flipped_byte_in_the_last_frame_is_damage_not_a_torn_tail() {
        for at in [HEADER as usize + 100, 4, 9, 16] {
            let (p, ends) = three_frames("log-lastflip");
            edit(&p, |b| b[ends[1] as usize + at] ^= 0x10);
            let e = seqs(&p).unwrap_err();
            assert_eq!(e.code(), ErrorCode::Corrupt, "byte {at}: {e}");
            assert!(e.message().contains(&format!("byte {}", ends[1])), "{e}");
            assert_eq!(std::fs::metadata(&p).unwrap().len(), ends[2], "nothing is cut off");
        }
    }

    #[test]
    fn unwritten_pages_and_short_frames_are_torn_tails() {
        // the last frame's pages after a 4 KiB boundary never reached the disk
        let (p, ends) = three_frames("log-zeros");
        let boundary = (ends[1] + HEADER + 10).div_ceil(PAGE) * PAGE;
        edit(&p, |b| b[boundary as usize..].fill(0));
        assert_eq!(seqs(&p).unwrap(), [1, 2]);
        assert_eq!(std::fs::metadata(&p).unwrap().len(), ends[1]);
        // a header of zeros (the file was extended, nothing written)
        let (p, ends) = three_frames("log-zero-header");
        edit(&p, |b| b[ends[1] as usize..].fill(0));
        assert_eq!(seqs(&p).unwrap(), [1, 2]);
        // a frame shorter than its (checked) header says
        let (p, ends) = three_frames("log-short");
        edit(&p, |b| b.truncate(ends[2] as usize - 7));
        assert_eq!(seqs(&p).unwrap(), [1, 2]);
    }

    /// The sequence numbers `salvage` passes on, and what it reports.
    fn salvaged(p: &Path) -> (Vec<u64>, Salvage) {
        let mut log = RecordLog::open(p, false).unwrap();
        let mut seen = Vec::new();
        let s = log
            .salvage(0, |f| {
                seen.push(f.seq);
                Ok(())
            })
            .unwrap();
        (seen, s)
    }

    #[test]
    fn salvage_skips_damaged_frames_and_resyncs_after_a_bad_header() {
        let (p, ends) = three_frames("log-salvage");
        edit(&p, |b| b[ends[0] as usize + 300] ^= 1);
        let (seen, s) = salvaged(&p);
        assert_eq!(seen, [1, 3]);
        assert_eq!(s.damaged, [DamagedFrame { offset: ends[0], bytes: ends[1] - ends[0], seq: Some(2), reason: "checksum mismatch".into() }]);
        // the header's magic destroyed: the next frame is found by its own magic and checksum
        let (p, ends) = three_frames("log-resync");
        edit(&p, |b| b[ends[0] as usize..ends[0] as usize + 4].copy_from_slice(b"XXXX"));
        let (seen, s) = salvaged(&p);
        assert_eq!(seen, [1, 3]);
        assert_eq!(s.damaged.len(), 1);
        assert_eq!((s.damaged[0].offset, s.damaged[0].bytes, s.damaged[0].seq), (ends[0], ends[1] - ends[0], None));
        assert_eq!(std::fs::metadata(&p).unwrap().len(), ends[2], "salvage changes nothing");
    }
}
