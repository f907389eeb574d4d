//! HNSW construction with hnsw_rs.
//!
//! hnsw_rs's `Hnsw<T, D>` stores a copy of every vector inside its points. Here
//! `T = u32`, a slot number, and the distance [`SlotDistance`] looks both slots up in
//! the memory-mapped [`VectorStore`]: the graph holds no vector copies, and the
//! distance is our runtime-dispatched SIMD kernel on vectors that were normalised once
//! at insert (cosine becomes `1 - dot`). Searches do not go through hnsw_rs: the graph
//! is exported to a [`FrozenGraph`] and searched there (see that module for why).
//!
//! hnsw_rs requires non-negative distances (it asserts on them), so the negative inner
//! product of the `dot` metric is passed through a strictly increasing map onto
//! `(0, inf)`, which preserves every comparison the construction makes.

use super::distance::Metric;
use super::graph::{FrozenGraph, NodeLinks, NONE};
use super::store::VectorStore;
use crate::error::{Error, Result};
use hnsw_rs::api::AnnT;
use hnsw_rs::hnsw::Hnsw;
use hnsw_rs::hnswio::HnswIo;
use std::path::Path;
use std::sync::Arc;

/// HNSW parameters of a collection.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct HnswParams {
    /// Links per node on upper layers (layer 0 keeps `2 * m`). Default 16.
    pub m: usize,
    /// Beam width while building. Default 200.
    pub ef_construction: usize,
    /// Default beam width while searching (raised to `k` when smaller). Default 64.
    pub ef_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams { m: 16, ef_construction: 200, ef_search: 64 }
    }
}

impl HnswParams {
    /// Checks the ranges hnsw_rs accepts (it aborts the process on `m > 256`).
    pub fn validate(&self) -> Result<()> {
        if !(2..=128).contains(&self.m) {
            return Err(Error::invalid(format!("hnsw.m must be between 2 and 128, got {}", self.m)));
        }
        if !(1..=4096).contains(&self.ef_construction) {
            return Err(Error::invalid(format!("hnsw.efConstruction must be between 1 and 4096, got {}", self.ef_construction)));
        }
        if !(1..=100_000).contains(&self.ef_search) {
            return Err(Error::invalid(format!("hnsw.efSearch must be between 1 and 100000, got {}", self.ef_search)));
        }
        Ok(())
    }
}

/// The distance hnsw_rs sees: both arguments are one-element slices holding slots.
pub struct SlotDistance {
    store: Arc<VectorStore>,
    metric: Metric,
}

impl SlotDistance {
    /// Maps a metric distance onto `[0, inf)` keeping its order.
    #[inline]
    fn non_negative(&self, d: f32) -> f32 {
        let d = match self.metric {
            Metric::Cosine | Metric::L2 => d.max(0.0),
            Metric::Dot => {
                if d >= 0.0 {
                    1.0 + d
                } else {
                    1.0 / (1.0 - d)
                }
            }
        };
        if d.is_nan() { f32::MAX } else { d }
    }
}

impl hnsw_rs::prelude::Distance<u32> for SlotDistance {
    fn eval(&self, a: &[u32], b: &[u32]) -> f32 {
        let d = self.metric.distance(self.store.get(a[0]), self.store.get(b[0]));
        self.non_negative(d)
    }
}

/// A growing HNSW graph over slots, built by hnsw_rs.
pub struct HnswBuilder {
    hnsw: Hnsw<'static, u32, SlotDistance>,
    params: HnswParams,
    /// Every slot below this watermark that has a vector has been inserted.
    watermark: u32,
}

const MAX_LAYER: usize = 16;

impl HnswBuilder {
    /// An empty graph.
    pub fn new(params: HnswParams, store: Arc<VectorStore>, metric: Metric, capacity_hint: usize) -> HnswBuilder {
        let dist = SlotDistance { store, metric };
        let hnsw = Hnsw::new(params.m, capacity_hint.max(1024), MAX_LAYER, params.ef_construction, dist);
        HnswBuilder { hnsw, params, watermark: 0 }
    }

    /// Reloads a graph written by [`dump`](Self::dump). `watermark` comes from the manifest.
    pub fn load(
        dir: &Path,
        basename: &str,
        params: HnswParams,
        store: Arc<VectorStore>,
        metric: Metric,
        watermark: u32,
    ) -> Result<HnswBuilder> {
        // hnsw_rs ties the reloaded graph's lifetime to the loader; the loader holds
        // only paths and options (no mapped data, as we never enable its mmap), so it is
        // leaked (a few hundred bytes per reload) to obtain a 'static graph.
        let io: &'static HnswIo = Box::leak(Box::new(HnswIo::new(dir, basename)));
        let dist = SlotDistance { store, metric };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| io.load_hnsw_with_dist::<u32, SlotDistance>(dist)));
        let hnsw = match r {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return Err(Error::corrupt(&dir.join(basename), format!("cannot reload HNSW graph: {e}"))),
            Err(_) => return Err(Error::corrupt(&dir.join(basename), "cannot reload HNSW graph (damaged file)")),
        };
        Ok(HnswBuilder { hnsw, params, watermark })
    }

    /// Writes hnsw_rs's own dump (`<basename>.hnsw.graph` and `.hnsw.data`) and fsyncs it.
    pub fn dump(&self, dir: &Path, basename: &str) -> Result<()> {
        if self.hnsw.get_nb_point() == 0 {
            return Ok(());
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.hnsw.file_dump(dir, basename)));
        match r {
            Ok(Ok(name)) if name == basename => {}
            Ok(Ok(name)) => return Err(Error::internal(format!("hnsw_rs wrote {name} instead of {basename}"))),
            Ok(Err(e)) => return Err(Error::new(crate::ErrorCode::Io, format!("writing HNSW graph: {e}"))),
            Err(_) => return Err(Error::new(crate::ErrorCode::Io, "writing HNSW graph failed")),
        }
        for ext in ["hnsw.graph", "hnsw.data"] {
            let p = dir.join(format!("{basename}.{ext}"));
            let f = std::fs::OpenOptions::new().write(true).open(&p).map_err(|e| Error::io(e, format!("opening {}", p.display())))?;
            f.sync_all().map_err(|e| Error::io(e, format!("syncing {}", p.display())))?;
        }
        Ok(())
    }

    /// The parameters.
    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Number of nodes in the graph.
    pub fn len(&self) -> usize {
        self.hnsw.get_nb_point()
    }

    /// True when the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots below this have all been inserted.
    pub fn watermark(&self) -> u32 {
        self.watermark
    }

    /// Inserts `slots` (ascending, all >= the watermark), in parallel for large batches,
    /// and moves the watermark to `upto`.
    pub fn insert(&mut self, slots: &[u32], upto: u32) -> Result<()> {
        let items: Vec<[u32; 1]> = slots.iter().map(|&s| [s]).collect();
        let hnsw = &self.hnsw;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if items.len() >= 64 {
                let data: Vec<(&[u32], usize)> = items.iter().map(|v| (&v[..], v[0] as usize)).collect();
                hnsw.parallel_insert_slice(&data);
            } else {
                for v in &items {
                    hnsw.insert_slice((&v[..], v[0] as usize));
                }
            }
        }));
        if r.is_err() {
            return Err(Error::internal("HNSW insertion panicked; the graph will be rebuilt"));
        }
        self.watermark = self.watermark.max(upto);
        Ok(())
    }

    /// Exports the graph as a [`FrozenGraph`] over slots `0..watermark`.
    pub fn export(&self) -> FrozenGraph {
        let m = self.params.m as u32;
        let n = self.watermark;
        if self.hnsw.get_nb_point() == 0 {
            return FrozenGraph::from_links(n, 2 * m, m, Vec::new(), NONE);
        }
        let pi = self.hnsw.get_point_indexation();
        let top = pi.get_max_level_observed() as usize;
        let entry = pi.get_layer_iterator(top).next().map(|p| p.get_origin_id() as u32).unwrap_or(NONE);
        let mut nodes = Vec::with_capacity(self.hnsw.get_nb_point());
        for p in pi.into_iter() {
            let level = p.get_point_id().0 as usize;
            let hood = p.get_neighborhood_id();
            let layers = hood
                .into_iter()
                .take(level + 1)
                .map(|l| l.into_iter().map(|nb| nb.d_id as u32).collect())
                .collect();
            nodes.push(NodeLinks { slot: p.get_origin_id() as u32, layers });
        }
        FrozenGraph::from_links(n, 2 * m, m, nodes, entry)
    }
}
