//! The frozen HNSW graph: a compact, slot-indexed adjacency layout that is searched
//! without locks and persisted as one file that reopens by memory-mapping.
//!
//! hnsw_rs builds the graph (see [`super::hnsw`]); its in-memory representation
//! (reference-counted points behind read-write locks) is built for concurrent
//! insertion, not for fast search or instant reloads. [`FrozenGraph`] is exported from
//! it: layer 0 as a fixed-stride array (`1 + m0` `u32`s per slot: count, neighbours),
//! upper layers as blocks of `1 + m` `u32`s reached through a per-slot index.
//!
//! File layout (little-endian):
//! ```text
//! header  64 bytes: magic "HKGRAPH1", version, n, m0, m, max_level, entry, n_blocks,
//!         header crc32, body crc32 (version 2), 5 zero words
//! layer0  n * (1 + m0) u32
//! levels  n u8, padded to a multiple of 4
//! upper   n u32: index of the node's first upper block (u32::MAX when level 0)
//! blocks  n_blocks * (1 + m) u32 (block of layer L of node s = upper[s] + L - 1)
//! ```
//! The header CRC covers the header words before it (and, in version 2, the body CRC
//! after it); the body CRC covers every byte after the header, so a flipped byte
//! anywhere in the file is reported as `ERR_CORRUPT` when the file is opened.
//! Version 1 files (header CRC only) are still read.

use crate::error::{Error, Result};
use memmap2::Mmap;
use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::File;
use std::path::Path;

const MAGIC: &[u8; 8] = b"HKGRAPH1";
const VERSION: u32 = 2;
const HEADER: usize = 64;
/// Marker for "no node" / "level-0 only".
pub const NONE: u32 = u32::MAX;

enum Bytes {
    Owned(Vec<u32>),
    Mapped(Mmap),
}

impl Bytes {
    fn words(&self) -> &[u32] {
        match self {
            Bytes::Owned(v) => v,
            // SAFETY: the mapping is page-aligned and its length was checked to be a multiple of 4.
            Bytes::Mapped(m) => unsafe { std::slice::from_raw_parts(m.as_ptr() as *const u32, m.len() / 4) },
        }
    }
}

/// A read-only HNSW graph over slots `0..n`.
pub struct FrozenGraph {
    bytes: Bytes,
    n: u32,
    m0: u32,
    m: u32,
    max_level: u32,
    entry: u32,
    n_blocks: u32,
    // word offsets of sections
    layer0: usize,
    levels: usize,
    upper: usize,
    blocks: usize,
}

/// A node's neighbours on each layer, as collected from the builder.
pub struct NodeLinks {
    /// The node's slot.
    pub slot: u32,
    /// `layers[l]` = neighbour slots on layer `l` (layer 0 first).
    pub layers: Vec<Vec<u32>>,
}

/// Distance and slot, ordered by distance (ties by slot) with a total order on floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// Distance to the query (smaller is closer).
    pub dist: f32,
    /// The slot.
    pub slot: u32,
}

impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scored {
    fn cmp(&self, o: &Self) -> Ordering {
        self.dist.total_cmp(&o.dist).then(self.slot.cmp(&o.slot))
    }
}

/// CRC of a graph header (`bytes` = its 64 bytes): words 0-8, and from version 2 also
/// words 10-15 (the body CRC and the reserved words).
fn header_crc(bytes: &[u8], version: u32) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[0..36]);
    if version >= 2 {
        h.update(&bytes[40..HEADER]);
    }
    h.finalize()
}

/// CRC-32 of `w` in its little-endian file form, without copying the whole slice.
fn words_crc(w: &[u32]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for chunk in w.chunks(16 * 1024) {
        h.update(&words_to_bytes(chunk));
    }
    h.finalize()
}

fn words_to_bytes(w: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(w.len() * 4);
    for x in w {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

impl FrozenGraph {
    /// An empty graph.
    pub fn empty() -> FrozenGraph {
        Self::from_links(0, 1, 1, Vec::new(), NONE)
    }

    /// Builds the layout from per-node links. `n` is the number of slots covered
    /// (nodes may be missing: they simply have no links), `entry` the entry node.
    pub fn from_links(n: u32, m0: u32, m: u32, nodes: Vec<NodeLinks>, entry: u32) -> FrozenGraph {
        let n_us = n as usize;
        let (m0, m) = (m0.max(1), m.max(1));
        let mut max_level = 0u32;
        let mut n_blocks = 0u32;
        let mut levels = vec![0u8; n_us];
        let mut upper_idx = vec![NONE; n_us];
        for node in &nodes {
            let lv = node.layers.len().saturating_sub(1) as u32;
            if (node.slot as usize) < n_us && lv > 0 {
                levels[node.slot as usize] = lv as u8;
                upper_idx[node.slot as usize] = n_blocks;
                n_blocks += lv;
                max_level = max_level.max(lv);
            }
        }
        let stride0 = 1 + m0 as usize;
        let stride = 1 + m as usize;
        let levels_words = n_us.div_ceil(4);
        let layer0 = HEADER / 4;
        let lv_off = layer0 + n_us * stride0;
        let up_off = lv_off + levels_words;
        let bl_off = up_off + n_us;
        let total = bl_off + n_blocks as usize * stride;
        let mut w = vec![0u32; total];
        for node in &nodes {
            let s = node.slot as usize;
            if s >= n_us {
                continue;
            }
            for (l, nb) in node.layers.iter().enumerate() {
                let (base, cap) = if l == 0 {
                    (layer0 + s * stride0, m0 as usize)
                } else {
                    (bl_off + (upper_idx[s] as usize + l - 1) * stride, m as usize)
                };
                let mut c = 0;
                for &x in nb.iter().filter(|&&x| x < n && x as usize != s).take(cap) {
                    w[base + 1 + c] = x;
                    c += 1;
                }
                w[base] = c as u32;
            }
        }
        for (i, chunk) in levels.chunks(4).enumerate() {
            let mut b = [0u8; 4];
            b[..chunk.len()].copy_from_slice(chunk);
            w[lv_off + i] = u32::from_le_bytes(b);
        }
        w[up_off..up_off + n_us].copy_from_slice(&upper_idx);
        let entry = if entry < n { entry } else { NONE };
        let body_crc = words_crc(&w[HEADER / 4..]);
        let header = Self::header_words(n, m0, m, max_level, entry, n_blocks, body_crc);
        w[..HEADER / 4].copy_from_slice(&header);
        FrozenGraph {
            bytes: Bytes::Owned(w),
            n,
            m0,
            m,
            max_level,
            entry,
            n_blocks,
            layer0,
            levels: lv_off,
            upper: up_off,
            blocks: bl_off,
        }
    }

    fn header_words(n: u32, m0: u32, m: u32, max_level: u32, entry: u32, n_blocks: u32, body_crc: u32) -> [u32; 16] {
        let mut h = [0u32; 16];
        h[0] = u32::from_le_bytes(MAGIC[0..4].try_into().unwrap());
        h[1] = u32::from_le_bytes(MAGIC[4..8].try_into().unwrap());
        h[2] = VERSION;
        h[3] = n;
        h[4] = m0;
        h[5] = m;
        h[6] = max_level;
        h[7] = entry;
        h[8] = n_blocks;
        h[10] = body_crc;
        h[9] = header_crc(&words_to_bytes(&h), VERSION);
        h
    }

    /// Writes the graph to `path` (fsynced).
    pub fn save(&self, path: &Path) -> Result<()> {
        let words = self.bytes.words();
        #[cfg(target_endian = "little")]
        // SAFETY: u32 -> u8 view of the same memory, little-endian matches the format.
        let bytes: &[u8] = unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, words.len() * 4) };
        #[cfg(not(target_endian = "little"))]
        let owned = words_to_bytes(words);
        #[cfg(not(target_endian = "little"))]
        let bytes: &[u8] = &owned;
        crate::store::fsutil::write_synced(path, bytes)
    }

    /// Memory-maps a graph file, validating its header and section sizes.
    pub fn open(path: &Path) -> Result<FrozenGraph> {
        let f = File::open(path).map_err(|e| Error::io(e, format!("opening {}", path.display())))?;
        // SAFETY: graph files are written once and never modified in place.
        let map = unsafe { Mmap::map(&f) }.map_err(|e| Error::io(e, format!("mapping {}", path.display())))?;
        if map.len() < HEADER || map.len() % 4 != 0 {
            return Err(Error::corrupt(path, "graph file is truncated"));
        }
        let h: Vec<u32> = map[..HEADER].chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
        if &map[0..8] != MAGIC || !(1..=VERSION).contains(&h[2]) {
            return Err(Error::corrupt(path, "not a hektor graph file (bad magic or version)"));
        }
        if header_crc(&map[..HEADER], h[2]) != h[9] {
            return Err(Error::corrupt(path, "graph header checksum mismatch"));
        }
        let (n, m0, m, max_level, entry, n_blocks) = (h[3], h[4], h[5], h[6], h[7], h[8]);
        let n_us = n as usize;
        let layer0 = HEADER / 4;
        let lv_off = layer0 + n_us * (1 + m0 as usize);
        let up_off = lv_off + n_us.div_ceil(4);
        let bl_off = up_off + n_us;
        let total = bl_off + n_blocks as usize * (1 + m as usize);
        if map.len() != total * 4 || m0 == 0 || m == 0 || max_level > 64 {
            return Err(Error::corrupt(path, "graph file size does not match its header"));
        }
        if h[2] >= 2 && crc32fast::hash(&map[HEADER..]) != h[10] {
            return Err(Error::corrupt(path, "graph checksum mismatch (damaged links)"));
        }
        Ok(FrozenGraph {
            bytes: Bytes::Mapped(map),
            n,
            m0,
            m,
            max_level,
            entry,
            n_blocks,
            layer0,
            levels: lv_off,
            upper: up_off,
            blocks: bl_off,
        })
    }

    /// Number of slots covered.
    pub fn len(&self) -> u32 {
        self.n
    }

    /// True when no node is linked.
    pub fn is_empty(&self) -> bool {
        self.entry == NONE
    }

    /// Bytes of the layout.
    pub fn byte_size(&self) -> usize {
        self.bytes.words().len() * 4
    }

    fn level(&self, s: u32) -> u32 {
        let w = self.bytes.words()[self.levels + s as usize / 4];
        (w.to_le_bytes()[s as usize % 4]) as u32
    }

    /// Neighbours of `s` on `layer` (empty when `s` has no such layer).
    #[inline]
    pub fn neighbours(&self, s: u32, layer: u32) -> &[u32] {
        let w = self.bytes.words();
        if s >= self.n {
            return &[];
        }
        let (base, cap) = if layer == 0 {
            (self.layer0 + s as usize * (1 + self.m0 as usize), self.m0)
        } else {
            if layer > self.level(s) {
                return &[];
            }
            let u = w[self.upper + s as usize];
            if u == NONE || u + layer - 1 >= self.n_blocks {
                return &[];
            }
            (self.blocks + (u + layer - 1) as usize * (1 + self.m as usize), self.m)
        };
        let c = w[base].min(cap) as usize;
        &w[base + 1..base + 1 + c]
    }

    /// Beam search for the `ef` nodes closest to a query.
    ///
    /// `dist(slot)` gives the query's distance to a node; `prefetch(slot)` is called on
    /// the unvisited neighbours of a node before their distances are computed, so the
    /// caller can start loading their vectors (memory latency, not arithmetic, bounds a
    /// graph search). `accept(slot)` decides which nodes may be returned (deleted
    /// records, metadata filters): rejected nodes are still traversed, so a filter does
    /// not disconnect the graph. The search stops after `max_visits` distance
    /// evaluations; the result (best first) may then hold fewer than `ef` nodes, and the
    /// caller decides whether to fall back to an exact scan.
    pub fn search<D: Fn(u32) -> f32, P: Fn(u32)>(
        &self,
        ef: usize,
        dist: &D,
        prefetch: &P,
        accept: Option<&dyn Fn(u32) -> bool>,
        max_visits: usize,
    ) -> Vec<Scored> {
        if self.entry == NONE || ef == 0 {
            return Vec::new();
        }
        VISITED.with(|v| {
            let mut visited = v.borrow_mut();
            visited.reset(self.n as usize);
            // greedy descent through the upper layers
            let mut cur = Scored { dist: dist(self.entry), slot: self.entry };
            for layer in (1..=self.max_level).rev() {
                let mut changed = true;
                while changed {
                    changed = false;
                    for &nb in self.neighbours(cur.slot, layer) {
                        if nb >= self.n {
                            continue;
                        }
                        let d = dist(nb);
                        if d < cur.dist {
                            cur = Scored { dist: d, slot: nb };
                            changed = true;
                        }
                    }
                }
            }
            // beam search on layer 0
            let mut candidates: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(ef * 2);
            let mut results: BinaryHeap<Scored> = BinaryHeap::with_capacity(ef + 1);
            visited.insert(cur.slot);
            candidates.push(Reverse(cur));
            let ok = |s: u32| accept.is_none_or(|f| f(s));
            if ok(cur.slot) {
                results.push(cur);
            }
            let mut visits = 1usize;
            let mut bound = if results.len() >= ef { results.peek().unwrap().dist } else { f32::INFINITY };
            // unvisited neighbours of the node being expanded (m0 <= 256, see HnswParams)
            let mut fresh = [0u32; 256];
            while let Some(Reverse(c)) = candidates.pop() {
                if c.dist > bound {
                    break;
                }
                let mut nf = 0;
                for &nb in self.neighbours(c.slot, 0) {
                    if nb < self.n && nf < fresh.len() && visited.insert(nb) {
                        prefetch(nb);
                        fresh[nf] = nb;
                        nf += 1;
                    }
                }
                for &nb in &fresh[..nf] {
                    let d = dist(nb);
                    visits += 1;
                    if d < bound || results.len() < ef {
                        candidates.push(Reverse(Scored { dist: d, slot: nb }));
                        if ok(nb) {
                            results.push(Scored { dist: d, slot: nb });
                            if results.len() > ef {
                                results.pop();
                            }
                            if results.len() >= ef {
                                bound = results.peek().unwrap().dist;
                            }
                        }
                    }
                }
                if visits >= max_visits {
                    break;
                }
            }
            let mut out = results.into_vec();
            out.sort_unstable();
            out
        })
    }
}

/// Per-thread visited set with generation stamps (no clearing between searches).
struct Visited {
    marks: Vec<u16>,
    gen: u16,
}

impl Visited {
    fn reset(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            self.marks.iter_mut().for_each(|m| *m = 0);
            self.gen = 1;
        }
    }
    /// Marks `s`; false if it was already marked.
    #[inline]
    fn insert(&mut self, s: u32) -> bool {
        let m = &mut self.marks[s as usize];
        if *m == self.gen {
            false
        } else {
            *m = self.gen;
            true
        }
    }
}

thread_local! {
    static VISITED: RefCell<Visited> = const { RefCell::new(Visited { marks: Vec::new(), gen: 0 }) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_graph(n: u32) -> FrozenGraph {
        // nodes on a line; each links to its two neighbours; node 0 has a level-1 link to n-1
        let nodes = (0..n)
            .map(|s| {
                let mut l0 = Vec::new();
                if s > 0 {
                    l0.push(s - 1);
                }
                if s + 1 < n {
                    l0.push(s + 1);
                }
                let mut layers = vec![l0];
                if s == 0 || s == n - 1 {
                    layers.push(vec![if s == 0 { n - 1 } else { 0 }]);
                }
                NodeLinks { slot: s, layers }
            })
            .collect();
        FrozenGraph::from_links(n, 4, 2, nodes, 0)
    }

    #[test]
    fn search_finds_nearest_on_a_line() {
        let g = line_graph(100);
        let target = 73.2f32;
        let r = g.search(5, &|s| (s as f32 - target).abs(), &|_| {}, None, usize::MAX);
        let slots: Vec<u32> = r.iter().map(|x| x.slot).collect();
        assert_eq!(slots, vec![73, 74, 72, 75, 71]);
        let even = |s: u32| s % 2 == 0;
        let r = g.search(3, &|s| (s as f32 - target).abs(), &|_| {}, Some(&even), usize::MAX);
        assert_eq!(r.iter().map(|x| x.slot).collect::<Vec<_>>(), vec![74, 72, 76]);
    }

    #[test]
    fn save_and_open_round_trip() {
        let g = line_graph(10);
        let dir = crate::store::fsutil::test_dir("graph");
        let p = dir.join("g.bin");
        g.save(&p).unwrap();
        let h = FrozenGraph::open(&p).unwrap();
        assert_eq!(h.len(), 10);
        for s in 0..10 {
            assert_eq!(g.neighbours(s, 0), h.neighbours(s, 0));
            assert_eq!(g.neighbours(s, 1), h.neighbours(s, 1));
        }
        // corruption is detected
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[12] ^= 0xff;
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(FrozenGraph::open(&p).err().unwrap().code(), crate::ErrorCode::Corrupt);
        std::fs::write(&p, &bytes[..30]).unwrap();
        assert_eq!(FrozenGraph::open(&p).err().unwrap().code(), crate::ErrorCode::Corrupt);
        // a flipped bit in the links (after the header) is detected too
        g.save(&p).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = HEADER + (bytes.len() - HEADER) / 2;
        bytes[mid] ^= 0x10;
        std::fs::write(&p, &bytes).unwrap();
        let e = FrozenGraph::open(&p).err().unwrap();
        assert_eq!(e.code(), crate::ErrorCode::Corrupt);
        assert!(e.message().contains("g.bin"), "{e}");
    }
}
