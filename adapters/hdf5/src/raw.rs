//! The HDF5 calls the high-level `hdf5` crate does not offer: opening a dataset with
//! its own chunk cache, reading rows in a datatype chosen at run time (fixed-length
//! strings of any width, enums), and asking whether a filter is available. Everything
//! unsafe in this crate is here.

use std::ffi::CString;

use hdf5::dataset::DatasetAccess;
use hdf5::{Dataset, Dataspace, Datatype, File};
use hdf5_sys::h5d::{H5Dopen2, H5Dread};
use hdf5_sys::h5p::H5P_DEFAULT;

/// The library's current error stack as an [`hdf5::Error`].
fn last_error() -> hdf5::Error {
    hdf5::Error::query().unwrap_or_else(|e| e)
}

/// Opens the dataset at `path` with a chunk cache of `cache_bytes` (the library default
/// is 1 MiB per dataset, too small to hold one row of large chunks: every batch would then
/// read and decompress the chunks it only partly needs again). Fully read chunks are
/// evicted first (`w0 = 1`).
pub(crate) fn open_with_chunk_cache(file: &File, path: &str, cache_bytes: usize) -> hdf5::Result<Dataset> {
    let dapl = DatasetAccess::build().chunk_cache(1009, cache_bytes, 1.0).finish()?;
    let name = CString::new(path).map_err(|_| hdf5::Error::from("dataset path contains a NUL byte"))?;
    hdf5::sync::sync(|| {
        // SAFETY: `file` and `dapl` are open handles kept alive across the call and `name`
        // is NUL-terminated; the returned id is owned by the new `Dataset` (refcount 1).
        let id = unsafe { H5Dopen2(file.id(), name.as_ptr(), dapl.id()) };
        if id < 0 {
            return Err(last_error());
        }
        // SAFETY: `id` was just returned by H5Dopen2 and is not owned by anything else.
        unsafe { hdf5::from_id::<Dataset>(id) }
    })
}

/// Reads rows `start..end` of the 1-D dataset `ds`, converted by the library to
/// `mem_type`, as raw bytes (`(end - start) * mem_type.size()` of them).
///
/// `mem_type` must be a fixed-size type without pointers (a fixed-length string, an enum,
/// a number): variable-length data would leave library-allocated memory in the buffer.
pub(crate) fn read_rows_as(ds: &Dataset, mem_type: &Datatype, start: usize, end: usize) -> hdf5::Result<Vec<u8>> {
    let rows = end.saturating_sub(start);
    let len = rows.checked_mul(mem_type.size()).ok_or_else(|| hdf5::Error::from("selection too large"))?;
    let mut buf = vec![0u8; len];
    if rows == 0 {
        return Ok(buf);
    }
    let fspace = ds.space()?.select(start..end)?;
    let mspace = Dataspace::try_new(rows)?;
    hdf5::sync::sync(|| {
        // SAFETY: the handles outlive the call; `buf` holds exactly `rows` elements of
        // `mem_type`, the number of points selected in both dataspaces; `mem_type` has no
        // variable-length parts, so the library writes plain bytes and allocates nothing.
        let rc = unsafe { H5Dread(ds.id(), mem_type.id(), mspace.id(), fspace.id(), H5P_DEFAULT, buf.as_mut_ptr().cast()) };
        if rc < 0 {
            Err(last_error())
        } else {
            Ok(())
        }
    })?;
    Ok(buf)
}

/// True when the library can decode data written with the filter `id` (built in, or
/// registered by the `hdf5` crate at start-up like lzf).
pub(crate) fn filter_available(id: hdf5_sys::h5z::H5Z_filter_t) -> bool {
    // SAFETY: a query by value with no pointers, made under the library lock.
    hdf5::sync::sync(|| unsafe { hdf5_sys::h5z::H5Zfilter_avail(id) } > 0)
}
