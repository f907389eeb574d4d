//! The 2-D float dataset whose rows are the records' vectors.

use hdf5::types::TypeDescriptor;
use hdf5::Dataset;

/// An `N x D` dataset of floats, read a block of rows at a time and converted by the
/// library (in C, without going through JSON) to `f32`.
#[derive(Debug)]
pub(crate) struct Vectors {
    /// The dataset path, for messages.
    pub(crate) path: String,
    ds: Dataset,
    /// `D`, the vector dimension.
    pub(crate) dim: usize,
}

/// Why a dataset's type cannot hold vectors.
pub(crate) fn check_type(desc: &TypeDescriptor) -> Result<(), String> {
    match desc {
        TypeDescriptor::Float(_) => Ok(()),
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            Err(format!("holds integers ({desc}); vectors must be a float dataset (float16, float32 or float64): convert it, or map it as metadata"))
        }
        other => Err(format!("holds {}; vectors must be a float dataset (float16, float32 or float64)", crate::column::type_name(other))),
    }
}

impl Vectors {
    /// Vectors over `ds`, an already checked `N x dim` float dataset.
    pub(crate) fn new(path: String, ds: Dataset, dim: usize) -> Vectors {
        Vectors { path, ds, dim }
    }

    /// The vectors of rows `start..end`, as one row-major block of `(end - start) * dim` floats.
    pub(crate) fn read(&self, start: usize, end: usize) -> hdf5::Result<Vec<f32>> {
        if self.dim == 0 || end <= start {
            return Ok(Vec::new());
        }
        let block = self.ds.read_slice_2d::<f32, _>((start..end, ..))?;
        let len = block.len();
        if !block.is_standard_layout() {
            // Not what `read_slice_2d` returns (it fills a fresh row-major buffer); kept for safety.
            return Ok(block.iter().copied().collect());
        }
        let (mut flat, offset) = block.into_raw_vec_and_offset();
        let offset = offset.unwrap_or(0);
        if offset > 0 {
            flat.drain(..offset);
        }
        flat.truncate(len);
        Ok(flat)
    }
}
