//! Shared by the adapters' `tests/fuzz.rs` (included with `#[path]`, not a test of its own):
//! a counting global allocator that refuses absurd single allocations, byte mutations of
//! valid inputs for proptest, and a bounded drain of a [`Source`].
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use hektor_adapters_api::{AdapterError, Source};
use proptest::prelude::*;

/// The largest single allocation the test binaries allow. A bigger request fails (which
/// aborts the binary for infallible allocations): a corrupt length that reaches the
/// allocator shows up as a crash instead of passing on machines with overcommit.
pub const MAX_SINGLE_ALLOCATION: usize = 1 << 30;

/// The system allocator, counting live bytes and their high-water mark.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static REFUSED: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_SINGLE_ALLOCATION {
            REFUSED.store(layout.size(), Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_SINGLE_ALLOCATION {
            REFUSED.store(layout.size(), Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_SINGLE_ALLOCATION {
            REFUSED.store(new_size, Ordering::Relaxed);
            return std::ptr::null_mut();
        }
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

fn grew(n: usize) {
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

/// The largest allocation refused so far (0: none).
pub fn refused() -> usize {
    REFUSED.load(Ordering::Relaxed)
}

/// Memory-measuring tests hold this gate for writing (alone); every [`drain`] of the other
/// tests holds it for reading, so no reader runs while a peak is measured.
static GATE: std::sync::RwLock<()> = std::sync::RwLock::new(());

thread_local! {
    /// Set while this thread holds the gate exclusively (its own drains must not wait).
    static EXCLUSIVE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The exclusive hold of the gate, released on drop.
pub struct Exclusive(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>);

impl Drop for Exclusive {
    fn drop(&mut self) {
        EXCLUSIVE.with(|e| e.set(false));
    }
}

/// Serialises the tests that measure memory (and allocate a lot): hold the guard for the
/// whole test, so that no other test reads meanwhile and the heap peak is this test's own.
pub fn exclusive() -> Exclusive {
    let g = GATE.write().unwrap_or_else(|e| e.into_inner());
    EXCLUSIVE.with(|e| e.set(true));
    Exclusive(g)
}

/// A shared hold of the gate for one read (none when this thread holds it exclusively).
fn shared() -> Option<std::sync::RwLockReadGuard<'static, ()>> {
    if EXCLUSIVE.with(|e| e.get()) {
        None
    } else {
        Some(GATE.read().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Runs `f` and returns its result with the peak of live heap bytes above the level when
/// it started (call it under [`exclusive`], which keeps the other tests' reads out).
pub fn heap_peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

/// The process's resident-memory high-water mark (`VmHWM`, Linux), in bytes.
pub fn vm_hwm() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub const MIB: usize = 1 << 20;

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hektor-fuzz-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn loc(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// What reading a whole source gave.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Records mapped.
    pub ok: usize,
    /// Row errors.
    pub row_errors: Vec<AdapterError>,
    /// The error that ended the stream (at open or later).
    pub end: Option<AdapterError>,
}

impl Outcome {
    /// Any error at all (row or stream).
    pub fn failed(&self) -> bool {
        self.end.is_some() || !self.row_errors.is_empty()
    }
}

/// Opens with `open` and reads every batch (at most `max` rows each, checked), stopping at
/// the first stream error; gives up (panics) after `limit` batches, which would mean a
/// source that never ends.
pub fn drain(open: impl FnOnce() -> Result<Box<dyn Source>, AdapterError>, max: usize, limit: usize) -> Outcome {
    let _gate = shared();
    let mut out = Outcome::default();
    let mut src = match open() {
        Ok(s) => s,
        Err(e) => {
            out.end = Some(e);
            return out;
        }
    };
    for _ in 0..limit {
        match src.next_batch(max) {
            Ok(Some(b)) => {
                assert!(!b.is_empty() && b.len() <= max, "batch of {} rows with max {max}", b.len());
                for r in b.rows {
                    match r {
                        Ok(_) => out.ok += 1,
                        Err(e) => out.row_errors.push(e),
                    }
                }
            }
            Ok(None) => {
                // the end stays the end
                assert!(matches!(src.next_batch(max), Ok(None) | Err(_)));
                return out;
            }
            Err(e) => {
                out.end = Some(e);
                return out;
            }
        }
    }
    panic!("the source did not end after {limit} batches");
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
pub enum Edit {
    /// XOR the byte at (index mod len) with a non-zero mask.
    Flip(usize, u8),
    /// Overwrite the byte at the index.
    Set(usize, u8),
    /// Insert bytes before the index.
    Insert(usize, Vec<u8>),
    /// Delete up to n bytes from the index.
    Delete(usize, usize),
    /// Cut the input at the index.
    Truncate(usize),
    /// Repeat a short slice starting at the index.
    Repeat(usize, usize, usize),
    /// Write an "interesting" value (0, 0xff.., a huge little-endian or varint length).
    Interesting(usize, usize),
}

const INTERESTING: &[&[u8]] = &[
    &[0],
    &[0xff],
    &[0x7f],
    &[0x80],
    &[0xff, 0xff, 0xff, 0xff],
    &[0xff, 0xff, 0xff, 0x7f],
    &[0x00, 0x00, 0x00, 0x80],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
    // varints: 2^40, 2^63, and an 11-byte run
    &[0x80, 0x80, 0x80, 0x80, 0x80, 0x20],
    &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
    &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    // zigzag varint of -1 and of 2^40
    &[0x01],
    &[0x80, 0x80, 0x80, 0x80, 0x80, 0x40],
];

pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..).prop_map(|(i, m)| Edit::Flip(i, m)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        2 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8)).prop_map(|(i, v)| Edit::Insert(i, v)),
        2 => (any::<usize>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), 1usize..8, 1usize..64).prop_map(|(i, n, k)| Edit::Repeat(i, n, k)),
        2 => (any::<usize>(), 0..INTERESTING.len()).prop_map(|(i, k)| Edit::Interesting(i, k)),
    ]
}

/// 1 to `n` edits.
pub fn edits(n: usize) -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec(edit(), 1..=n)
}

/// Applies `edits` to a copy of `input`.
pub fn mutate(input: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = input.to_vec();
    for e in edits {
        let len = b.len();
        let at = |i: usize| if len == 0 { 0 } else { i % len };
        match e {
            Edit::Flip(i, m) if len > 0 => b[at(*i)] ^= m,
            Edit::Set(i, v) if len > 0 => b[at(*i)] = *v,
            Edit::Insert(i, v) => {
                let i = if len == 0 { 0 } else { i % (len + 1) };
                b.splice(i..i, v.iter().copied());
            }
            Edit::Delete(i, n) if len > 0 => {
                let i = at(*i);
                b.drain(i..(i + n).min(len));
            }
            Edit::Truncate(i) if len > 0 => b.truncate(at(*i)),
            Edit::Repeat(i, n, k) if len > 0 => {
                let i = at(*i);
                let piece = b[i..(i + n).min(len)].to_vec();
                let rep: Vec<u8> = piece.iter().copied().cycle().take(piece.len() * k).collect();
                b.splice(i..i, rep);
            }
            Edit::Interesting(i, k) if len > 0 => {
                let i = at(*i);
                let v = INTERESTING[*k];
                let end = (i + v.len()).min(len);
                b[i..end].copy_from_slice(&v[..end - i]);
            }
            _ => {}
        }
    }
    b
}

/// The proptest configuration of the fuzz targets: `cases` inputs, no failure files (a
/// failure prints the minimal input; keep it as a regression test by hand).
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, max_shrink_iters: 2_000, ..ProptestConfig::default() }
}
