//! The record log: an append-only file of checksummed frames, the collection's
//! source of truth. A write is acknowledged only after its frame is on disk
//! (`fdatasync`), so acknowledged writes survive a killed process or a power cut.
//!
//! Frame: `magic "HKLG" | payload length u32 | crc32 u32 | kind u8 | 3 zero bytes |
//! sequence u64 | payload`. The CRC covers kind, padding, sequence and payload.
//! A frame cut short by a crash (the tail) is detected on open and cut off; a damaged
//! frame followed by more data is reported as corruption instead of being dropped.

use crate::error::{Error, ErrorCode, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"HKLG";
/// Size of a frame header in bytes.
pub const HEADER: u64 = 24;
/// Largest payload accepted (1 GiB).
pub const MAX_PAYLOAD: u64 = 1 << 30;

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
        frame.extend_from_slice(&[0u8; 3]);
        frame.extend_from_slice(&seq.to_le_bytes());
        frame.extend_from_slice(payload);
        let crc = crc32fast::hash(&frame[12..]);
        frame[8..12].copy_from_slice(&crc.to_le_bytes());
        let start = self.end;
        let ctx = || format!("appending to {}", self.path.display());
        self.file.seek(SeekFrom::Start(start)).map_err(|e| Error::io(e, ctx()))?;
        if let Err(e) = self.file.write_all(&frame) {
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
        read_exact_at(&self.file, &mut buf, offset)
            .map_err(|e| Error::io(e, format!("reading {} at byte {offset}", self.path.display())))?;
        Ok(buf)
    }

    /// Calls `f` for each valid frame from byte `from` on. A torn tail frame is cut off
    /// when `repair` is true (the writer), or ignored (readers). Returns the number of frames.
    pub fn scan(&mut self, from: u64, repair: bool, mut f: impl FnMut(Frame) -> Result<()>) -> Result<usize> {
        let len = self.file.metadata().map_err(|e| Error::io(e, format!("reading {}", self.path.display())))?.len();
        if from > len {
            return Err(Error::corrupt(&self.path, format!("log is shorter ({len} bytes) than its checkpoint ({from} bytes)")));
        }
        let mut rd = std::io::BufReader::with_capacity(1 << 20, &self.file);
        rd.seek(SeekFrom::Start(from)).map_err(|e| Error::io(e, "seeking log"))?;
        let mut pos = from;
        let mut count = 0;
        let mut header = [0u8; HEADER as usize];
        loop {
            if pos == len {
                break;
            }
            if len - pos < HEADER {
                self.torn(pos, len, repair)?;
                break;
            }
            rd.read_exact(&mut header).map_err(|e| Error::io(e, "reading log"))?;
            let plen = u32::from_le_bytes(header[4..8].try_into().unwrap()) as u64;
            if &header[0..4] != MAGIC || plen > MAX_PAYLOAD {
                return Err(Error::corrupt(&self.path, format!("bad frame header at byte {pos}")));
            }
            if len - pos - HEADER < plen {
                self.torn(pos, len, repair)?;
                break;
            }
            let mut payload = vec![0u8; plen as usize];
            rd.read_exact(&mut payload).map_err(|e| Error::io(e, "reading log"))?;
            let mut h = crc32fast::Hasher::new();
            h.update(&header[12..]);
            h.update(&payload);
            let crc = u32::from_le_bytes(header[8..12].try_into().unwrap());
            let frame_end = pos + HEADER + plen;
            if h.finalize() != crc {
                if frame_end == len {
                    // the last frame was being written when the process died
                    self.torn(pos, len, repair)?;
                    break;
                }
                return Err(Error::corrupt(&self.path, format!("checksum mismatch in frame at byte {pos}")));
            }
            let kind = FrameKind::from_u8(header[12])
                .ok_or_else(|| Error::corrupt(&self.path, format!("unknown frame kind at byte {pos}")))?;
            let seq = u64::from_le_bytes(header[16..24].try_into().unwrap());
            f(Frame { kind, seq, payload_offset: pos + HEADER, payload })?;
            count += 1;
            pos = frame_end;
        }
        self.end = pos;
        Ok(count)
    }

    fn torn(&mut self, pos: u64, len: u64, repair: bool) -> Result<()> {
        if repair {
            self.file.set_len(pos).map_err(|e| Error::io(e, format!("truncating torn tail of {}", self.path.display())))?;
            self.file.sync_all().map_err(|e| Error::io(e, "syncing log"))?;
        }
        let _ = len;
        Ok(())
    }

    /// fsyncs the file.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_all().map_err(|e| Error::io(e, format!("syncing {}", self.path.display())))
    }
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
        log.scan(0, true, |fr| {
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
        assert_eq!(log.scan(0, true, |_| Ok(())).unwrap_err().code(), ErrorCode::Corrupt);
    }
}
