//! Memory-mapped vector storage, addressed by slot.
//!
//! Vectors of one collection live in one file of `f32`s (little-endian, `dim` per
//! slot, no header; the manifest records how many slots are valid): a [`VectorStore`].
//! Quantized codes (one `u8` row per slot, see [`super::quant`]) use the same layout in
//! their own file: a [`CodeStore`]. The file is
//! mapped in chunks whose sizes double (1024, 2048, 4096, ... slots), so the store
//! can grow without ever unmapping memory that a concurrent search may be reading:
//! a slice handed out by [`VectorStore::get`] stays valid for the store's lifetime.
//! Chunk `i` starts at slot `1024 * (2^i - 1)`, a multiple of 1024, so every chunk
//! starts on a 4 KiB page boundary whatever the dimension.
//!
//! A writable store never writes through the map into a page the file system has not
//! allocated: growing the file (`set_len`) leaves a sparse hole, and a store into a hole on
//! a full disk is a SIGBUS that ends the process. Before rows are written, their bytes are
//! allocated with `fallocate` ([`MappedStore::allocate`], a few MiB ahead), so a full disk
//! is an `ERR_IO` from the write call and nothing else.
//!
//! A read-only store (a reader beside the writer process) maps the file copy-on-write
//! (`MAP_PRIVATE`) and grows with anonymous memory: replaying the log tail writes
//! vectors into the reader's private pages, never into the writer's file.

use crate::error::{Error, Result};
use memmap2::{MmapMut, MmapOptions};
use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

const BASE: usize = 1024;
const MAX_CHUNKS: usize = 40;
/// Bytes allocated ahead of the rows being written (fewer `fallocate` calls).
const ALLOC_AHEAD: u64 = 4 << 20;

/// A mapping kept alive for the store's lifetime (never read through directly).
struct Map(#[allow(dead_code)] MmapMut);

/// An element type a [`MappedStore`] can hold: plain data valid for any bit pattern.
pub trait Element: Copy + Send + Sync + 'static {}
impl Element for f32 {}
impl Element for u8 {}

/// Slot-addressed, memory-mapped `f32` vectors of one dimension.
pub type VectorStore = MappedStore<f32>;
/// Slot-addressed, memory-mapped rows of quantized codes.
pub type CodeStore = MappedStore<u8>;

/// Slot-addressed, memory-mapped rows of `dim` elements of type `T`.
pub struct MappedStore<T: Element> {
    path: PathBuf,
    dim: usize,
    file: File,
    writable: bool,
    /// Base pointer of each mapped chunk (null until mapped). Never changes once set.
    chunks: [AtomicPtr<T>; MAX_CHUNKS],
    /// Number of chunks mapped.
    mapped: AtomicUsize,
    /// Owners of the mappings (kept alive until drop).
    maps: Mutex<Vec<Map>>,
    /// Serialises growth and allocation.
    grow: Mutex<()>,
    /// Bytes from the first row written by this handle up to here are allocated on disk
    /// (0: nothing allocated by this handle yet).
    allocated: AtomicU64,
}

// SAFETY: the raw chunk pointers point into mappings owned by `maps`, which live as
// long as the store; writes go only to slots not yet visible to readers (see `set`).
unsafe impl<T: Element> Send for MappedStore<T> {}
unsafe impl<T: Element> Sync for MappedStore<T> {}

/// Chunk index and offset inside the chunk of `slot`.
#[inline]
fn locate(slot: usize) -> (usize, usize) {
    let q = slot / BASE + 1;
    let chunk = (usize::BITS - 1 - q.leading_zeros()) as usize;
    let start = BASE * ((1usize << chunk) - 1);
    (chunk, slot - start)
}

/// First slot of chunk `i`.
#[inline]
fn chunk_start(i: usize) -> usize {
    BASE * ((1usize << i) - 1)
}

/// Number of slots in chunk `i`.
#[inline]
fn chunk_len(i: usize) -> usize {
    BASE << i
}

impl<T: Element> MappedStore<T> {
    const ELEM: usize = std::mem::size_of::<T>();

    /// Opens (creating if `writable` and missing) the file at `path`.
    /// Maps every whole chunk the file holds.
    pub fn open(path: &Path, dim: usize, writable: bool) -> Result<MappedStore<T>> {
        if dim == 0 {
            return Err(Error::invalid("vector dimension must be at least 1"));
        }
        let file = if writable {
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
        } else {
            File::open(path)
        }
        .map_err(|e| Error::io(e, format!("opening {}", path.display())))?;
        let store = MappedStore {
            path: path.to_path_buf(),
            dim,
            file,
            writable,
            chunks: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            mapped: AtomicUsize::new(0),
            maps: Mutex::new(Vec::new()),
            grow: Mutex::new(()),
            allocated: AtomicU64::new(0),
        };
        let len = store.file.metadata().map_err(|e| Error::io(e, format!("reading {}", path.display())))?.len();
        let slot_bytes = (dim * Self::ELEM) as u64;
        let mut i = 0;
        while i < MAX_CHUNKS && ((chunk_start(i) + chunk_len(i)) as u64) * slot_bytes <= len {
            store.map_chunk(i)?;
            i += 1;
        }
        Ok(store)
    }

    /// The dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of slots currently addressable.
    pub fn capacity(&self) -> usize {
        let m = self.mapped.load(Ordering::Acquire);
        if m == 0 { 0 } else { chunk_start(m) }
    }

    fn map_chunk(&self, i: usize) -> Result<()> {
        let slot_bytes = self.dim * Self::ELEM;
        let offset = (chunk_start(i) * slot_bytes) as u64;
        let len = chunk_len(i) * slot_bytes;
        // SAFETY: the file is ours; concurrent truncation by another process would be a
        // store-level bug (a single writer holds the database lock).
        let file_len = self.file.metadata().map_err(|e| Error::io(e, format!("reading {}", self.path.display())))?.len();
        let err = |e| Error::io(e, format!("mapping {}", self.path.display()));
        // SAFETY: see above; private and anonymous maps are ours alone.
        let mut m = unsafe {
            if self.writable {
                MmapOptions::new().offset(offset).len(len).map_mut(&self.file).map_err(err)?
            } else if offset + len as u64 <= file_len {
                MmapOptions::new().offset(offset).len(len).map_copy(&self.file).map_err(err)?
            } else {
                MmapOptions::new().len(len).map_anon().map_err(err)?
            }
        };
        // Rows are read at random (graph neighbours, re-ranked candidates): without this
        // hint each page fault reads the pages around it too, and a search-only process
        // ends up with most of the file resident.
        #[cfg(unix)]
        let _ = m.advise(memmap2::Advice::Random);
        let ptr = m.as_mut_ptr() as *mut T;
        self.maps.lock().push(Map(m));
        self.chunks[i].store(ptr, Ordering::Release);
        self.mapped.store(i + 1, Ordering::Release);
        Ok(())
    }

    /// Grows the file and the mapping so that `slots` slots are addressable.
    pub fn reserve(&self, slots: usize) -> Result<()> {
        if slots <= self.capacity() {
            return Ok(());
        }
        let _guard = self.grow.lock();
        let mut m = self.mapped.load(Ordering::Acquire);
        while chunk_start(m) < slots {
            if m >= MAX_CHUNKS {
                return Err(Error::new(crate::ErrorCode::Limit, "too many vectors for one collection"));
            }
            let end = ((chunk_start(m) + chunk_len(m)) * self.dim * Self::ELEM) as u64;
            let cur = self.file.metadata().map_err(|e| Error::io(e, "reading vector file size"))?.len();
            if self.writable && cur < end {
                self.file.set_len(end).map_err(|e| Error::io(e, format!("growing {}", self.path.display())))?;
            }
            self.map_chunk(m)?;
            m += 1;
        }
        Ok(())
    }

    /// Makes sure rows `from..to` can be written through the map without faulting:
    /// grows the file and the mapping, then allocates the rows' disk blocks (and up to
    /// [`ALLOC_AHEAD`] bytes beyond, capped at the mapped length). A full disk is an
    /// `ERR_IO` here, before anything is written. Only rows that nobody has written yet
    /// may be passed (on file systems without `fallocate`, the range is zero-filled).
    /// A no-op for read-only stores, whose writes land in private memory.
    pub fn allocate(&self, from: usize, to: usize) -> Result<()> {
        if to <= from {
            return Ok(());
        }
        self.reserve(to)?;
        if !self.writable {
            return Ok(());
        }
        let row = (self.dim * Self::ELEM) as u64;
        let end = to as u64 * row;
        if end <= self.allocated.load(Ordering::Acquire) {
            return Ok(());
        }
        let _guard = self.grow.lock();
        let done = self.allocated.load(Ordering::Acquire);
        if end <= done {
            return Ok(());
        }
        let start = done.max(from as u64 * row);
        let limit = (self.capacity() as u64) * row;
        let target = (end.div_ceil(ALLOC_AHEAD) * ALLOC_AHEAD).min(limit).max(end);
        allocate_range(&self.file, start, target - start)
            .map_err(|e| Error::io(e, format!("allocating disk space for {}", self.path.display())))?;
        self.allocated.store(target, Ordering::Release);
        Ok(())
    }

    /// The row of `slot`. Panics if `slot` is beyond [`capacity`](Self::capacity).
    #[inline]
    pub fn get(&self, slot: u32) -> &[T] {
        let (c, off) = locate(slot as usize);
        let base = self.chunks[c].load(Ordering::Acquire);
        assert!(!base.is_null(), "vector slot {slot} is not mapped");
        // SAFETY: the chunk is mapped for the store's lifetime and `off < chunk_len(c)`.
        unsafe { std::slice::from_raw_parts(base.add(off * self.dim), self.dim) }
    }

    /// Hints the CPU to start loading the first `lines` cache lines of `slot`'s row
    /// (no-op for unmapped slots and on targets without a prefetch instruction).
    #[inline]
    pub fn prefetch(&self, slot: u32, lines: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let (c, off) = locate(slot as usize);
            let Some(chunk) = self.chunks.get(c) else { return };
            let base = chunk.load(Ordering::Relaxed);
            if base.is_null() {
                return;
            }
            // SAFETY: in bounds of the mapped chunk; prefetch never faults anyway.
            let p = unsafe { base.add(off * self.dim) } as *const i8;
            let bytes = self.dim * Self::ELEM;
            for l in 0..lines.min(bytes.div_ceil(64)) {
                // SAFETY: prefetch is a hint; the address is inside the row.
                unsafe { std::arch::x86_64::_mm_prefetch(p.add(l * 64), std::arch::x86_64::_MM_HINT_T0) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (slot, lines);
    }

    /// Writes the row of `slot` (growing the store as needed).
    ///
    /// Callers must only write slots that no reader can observe yet (a new slot before it
    /// is published, or during replay before the collection is shared). In a read-only
    /// store the write lands in private memory.
    ///
    /// The row's disk space is allocated first (see [`allocate`](Self::allocate)); writers
    /// of many rows call `allocate` for all of them before writing any, so that a full
    /// disk fails the whole write up front.
    pub fn set(&self, slot: u32, v: &[T]) -> Result<()> {
        debug_assert_eq!(v.len(), self.dim);
        self.allocate(slot as usize, slot as usize + 1)?;
        let (c, off) = locate(slot as usize);
        let base = self.chunks[c].load(Ordering::Acquire);
        // SAFETY: mapped writable (reserve checked), in bounds, and not concurrently read.
        unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), base.add(off * self.dim), self.dim) };
        Ok(())
    }

    /// Flushes dirty pages to disk (msync); a no-op for read-only stores.
    pub fn flush(&self) -> Result<()> {
        if !self.writable {
            return Ok(());
        }
        for Map(m) in self.maps.lock().iter() {
            m.flush().map_err(|e| Error::io(e, format!("flushing {}", self.path.display())))?;
        }
        Ok(())
    }

    /// Bytes the file occupies on disk (sparse regions excluded where the OS says so).
    pub fn disk_bytes(&self) -> u64 {
        crate::store::fsutil::disk_usage(&self.path)
    }
}

/// Allocates disk blocks for `len` bytes of `file` at `offset` without changing data
/// that is already there (`fallocate` mode 0 on Linux). Where the file system has no
/// `fallocate` (and on other Unix systems) the range is written with zeros instead, which
/// the callers allow: they only pass rows not written yet.
#[cfg(unix)]
fn allocate_range(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: a valid descriptor; fallocate only reads its scalar arguments.
            let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, offset as libc::off_t, len as libc::off_t) };
            if r == 0 {
                return Ok(());
            }
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => break,
                _ => return Err(e),
            }
        }
    }
    use std::os::unix::fs::FileExt;
    let zeros = vec![0u8; 1 << 20];
    let mut at = offset;
    while at < offset + len {
        let n = ((offset + len - at) as usize).min(zeros.len());
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    // the blocks exist once the data is on disk; fsync reports a full disk here at the latest
    file.sync_data()
}

/// Windows extends files with allocated zeros (`set_len`), so there is nothing to do.
#[cfg(not(unix))]
fn allocate_range(_file: &File, _offset: u64, _len: u64) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_is_consistent() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(1023), (0, 1023));
        assert_eq!(locate(1024), (1, 0));
        assert_eq!(locate(3071), (1, 2047));
        assert_eq!(locate(3072), (2, 0));
        for s in [5usize, 70_000, 1_000_000, 123_456_789] {
            let (c, off) = locate(s);
            assert_eq!(chunk_start(c) + off, s);
            assert!(off < chunk_len(c));
        }
    }

    #[test]
    fn grow_write_reopen() {
        let dir = crate::store::fsutil::test_dir("vstore");
        let p = dir.join("v.f32");
        {
            let s = VectorStore::open(&p, 3, true).unwrap();
            for i in 0..5000u32 {
                s.set(i, &[i as f32, 1.0, -(i as f32)]).unwrap();
            }
            let first = s.get(10).as_ptr();
            s.set(20000, &[7.0, 7.0, 7.0]).unwrap();
            assert_eq!(first, s.get(10).as_ptr(), "growth must not move mapped data");
            s.flush().unwrap();
        }
        let s = VectorStore::open(&p, 3, false).unwrap();
        assert!(s.capacity() >= 20001);
        assert_eq!(s.get(4999), &[4999.0, 1.0, -4999.0]);
        assert_eq!(s.get(20000), &[7.0, 7.0, 7.0]);
    }
}
