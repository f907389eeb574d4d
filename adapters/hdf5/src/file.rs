//! Finding things in the file: opening it, resolving dataset paths, and opening datasets
//! with errors that say what is missing, plus the per-dataset checks and tuning done once
//! when a source opens (filters, chunk cache).

use std::collections::VecDeque;
use std::io::ErrorKind;

use hdf5::{Dataset, File, Group};
use hektor_adapters_api::{AdapterError, AdapterErrorCode, Position};

use crate::error::{h5, open_reason};
use crate::raw;

/// The library's default chunk cache per dataset, when the file does not say (8 MiB, as HDF5 2.x).
const DEFAULT_CHUNK_CACHE: usize = 8 << 20;
/// The most chunk cache given to one dataset: memory stays bounded even for files chunked
/// in huge blocks (which are then decompressed once per batch that touches them).
const MAX_CHUNK_CACHE: usize = 64 << 20;
/// How many dataset paths an error lists.
const LISTED_DATASETS: usize = 20;

/// One dataset named by the options: the record field it fills, the option that named it
/// and its resolved path.
pub(crate) struct Named {
    /// The record field (`vector`, `id`, `text` or a metadata name).
    pub(crate) field: String,
    /// The option, as the user wrote it (`vectors`, `metadata.year`), for messages.
    pub(crate) option: String,
    /// The absolute dataset path.
    pub(crate) path: String,
}

/// Opens `path` read-only, with errors that say whether the file is missing, unreadable,
/// not HDF5 or truncated.
pub(crate) fn open_file(path: &str, name: &str) -> Result<File, AdapterError> {
    let at = || Position { source: name.to_owned(), ..Default::default() };
    // The file system's answer first: it says "missing" or "permission denied" plainly.
    match std::fs::File::open(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(AdapterError::new(AdapterErrorCode::NotFound, "no such file", at())),
        Err(e) => return Err(AdapterError::new(AdapterErrorCode::Io, format!("cannot open the file: {e}"), at())),
        Ok(f) => {
            if f.metadata().map(|m| m.is_dir()).unwrap_or(false) {
                return Err(AdapterError::new(AdapterErrorCode::InvalidArg, "is a directory, not an HDF5 file", at()));
            }
        }
    }
    // Read-only, with file locking that is skipped (not failed) on file systems without
    // locks, such as many NFS mounts.
    File::with_options().with_fapl(|p| p.file_locking(true)).open(path).map_err(|e| AdapterError::new(AdapterErrorCode::Parse, open_reason(&e), at()))
}

/// The base group path (`/` or `/a/b`, no trailing slash except the root), checked to exist.
pub(crate) fn base_group(file: &File, group: Option<&str>, name: &str) -> Result<String, AdapterError> {
    let Some(g) = group else { return Ok("/".into()) };
    let path = resolve("/", g);
    let path = if path.len() > 1 { path.trim_end_matches('/').to_owned() } else { path };
    if file.group(&path).is_err() {
        let at = Position { source: name.into(), ..Default::default() };
        return Err(if exists(file, &path) {
            AdapterError::new(AdapterErrorCode::InvalidArg, format!("'{path}' (`group`) is not a group"), at)
        } else {
            AdapterError::new(AdapterErrorCode::NotFound, format!("group '{path}' (`group`) not found in the file"), at)
        });
    }
    Ok(path)
}

/// An absolute dataset path: `p` itself when it starts with `/`, else `p` under `base`.
pub(crate) fn resolve(base: &str, p: &str) -> String {
    if p.starts_with('/') {
        p.to_owned()
    } else if base.ends_with('/') {
        format!("{base}{p}")
    } else {
        format!("{base}/{p}")
    }
}

/// True when every link along `path` exists (asking for `a/b/c` when `a` is missing is
/// an error in the library, hence the walk).
fn exists(file: &File, path: &str) -> bool {
    let mut prefix = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        if !file.link_exists(&prefix) {
            return false;
        }
    }
    true
}

/// Opens the dataset at `path`, or explains why not: missing (listing the datasets the
/// file does have), a group, or unreadable.
pub(crate) fn open_dataset(file: &File, n: &Named, name: &str) -> Result<Dataset, AdapterError> {
    let (path, option) = (n.path.as_str(), n.option.as_str());
    let at = || Position { source: name.to_owned(), field: Some(n.field.clone()), ..Default::default() };
    match file.dataset(path) {
        Ok(ds) => Ok(ds),
        Err(e) => {
            if !exists(file, path) {
                let list = list_datasets(file);
                let have = if list.is_empty() { "the file holds no datasets".to_owned() } else { format!("the file's datasets: {list}") };
                let msg = format!("dataset '{path}' (`{option}`) not found; {have}");
                Err(AdapterError::new(AdapterErrorCode::NotFound, msg, at()))
            } else if file.group(path).is_ok() {
                Err(AdapterError::new(AdapterErrorCode::InvalidArg, format!("'{path}' (`{option}`) is a group, not a dataset"), at()))
            } else {
                Err(h5(&e, &format!("cannot open dataset '{path}' (`{option}`)"), at()))
            }
        }
    }
}

/// Up to [`LISTED_DATASETS`] dataset paths of the file, breadth first, for messages.
fn list_datasets(file: &File) -> String {
    let mut found = Vec::new();
    let mut more = 0usize;
    let mut queue: VecDeque<Group> = VecDeque::from([(**file).clone()]);
    let mut visited = 0;
    // Bounded: hard links can make cycles, and a huge file should not stall an error.
    while let Some(g) = queue.pop_front() {
        visited += 1;
        if visited > 200 {
            break;
        }
        for ds in g.datasets().unwrap_or_default() {
            if found.len() < LISTED_DATASETS {
                found.push(ds.name());
            } else {
                more += 1;
            }
        }
        queue.extend(g.groups().unwrap_or_default());
    }
    let mut s = found.join(", ");
    if more > 0 {
        s.push_str(&format!(" (and {more} more)"));
    }
    s
}

/// Fails when the dataset's data needs a filter (compression) this build cannot decode.
///
/// A filter counts when the first chunk was written through it: a filter added as
/// optional (as h5py and the `hdf5` crate add third-party ones) is skipped by writers that
/// lack it, and such data reads fine.
pub(crate) fn check_filters(ds: &Dataset, n: &Named, name: &str) -> Result<(), AdapterError> {
    let filters = ds.filters();
    if filters.is_empty() {
        return Ok(());
    }
    let first_chunk = ds.chunk_info(0);
    for (i, f) in filters.iter().enumerate() {
        let id = f.id();
        let applied = first_chunk.as_ref().is_some_and(|c| i >= 32 || c.filter_mask & (1 << i) == 0);
        if !applied || raw::filter_available(id) {
            continue;
        }
        let known = match id {
            4 => " (szip)",
            307 => " (bzip2)",
            32001 => " (blosc)",
            32004 => " (lz4)",
            32008 => " (bitshuffle)",
            32013 => " (zfp)",
            32015 => " (zstd)",
            32026 => " (blosc2)",
            _ => "",
        };
        let msg = format!(
            "dataset '{}' (`{}`) is compressed with HDF5 filter {id}{known}, which this build cannot decode (it reads gzip, lzf, shuffle, fletcher32, n-bit and scale-offset); rewrite it with one of those, e.g. `h5repack -f GZIP=4`",
            n.path, n.option
        );
        let pos = Position { source: name.to_owned(), field: Some(n.field.clone()), ..Default::default() };
        return Err(AdapterError::new(AdapterErrorCode::Parse, msg, pos));
    }
    Ok(())
}

/// Reopens a chunked dataset with a chunk cache that holds two rows of its chunks (a
/// batch may straddle a chunk boundary) when that is more than the file's default cache
/// (8 MiB per dataset in HDF5 2.x, 1 MiB before); otherwise, or if reopening fails, keeps
/// the dataset as it is.
pub(crate) fn with_chunk_cache(file: &File, ds: Dataset, path: &str) -> hdf5::Result<Dataset> {
    let Some(chunk) = ds.chunk() else { return Ok(ds) };
    let shape = ds.shape();
    let elem = ds.dtype().map(|t| t.size()).unwrap_or(1);
    let chunk_bytes = chunk.iter().product::<usize>().saturating_mul(elem);
    // Chunks across the non-row dimensions: all of them are touched by a block of rows.
    let across: usize = shape.iter().zip(&chunk).skip(1).map(|(&s, &c)| s.div_ceil(c.max(1)).max(1)).product();
    let need = chunk_bytes.saturating_mul(across).saturating_mul(2);
    let default = file.fapl().map(|p| p.chunk_cache().nbytes).unwrap_or(DEFAULT_CHUNK_CACHE);
    if need <= default {
        return Ok(ds);
    }
    // The library shares one cache between all handles of an open dataset, set by the
    // first open: close this handle before opening with the bigger cache.
    drop(ds);
    raw::open_with_chunk_cache(file, path, need.min(MAX_CHUNK_CACHE)).or_else(|_| file.dataset(path))
}
#[cfg(test)]
mod tests {
    use super::*;

    /// A dataset whose chunk rows outgrow the default cache is reopened with its own; a
    /// small-chunked one keeps the default.
    #[test]
    fn chunk_cache_fits_a_row_of_chunks() {
        let path = std::env::temp_dir().join(format!("hk-hdf5-unit-{}-cache.h5", std::process::id()));
        {
            let f = File::create(&path).unwrap();
            // 6 MiB chunks (and two chunks across): 24 MiB for two rows of chunks.
            f.new_dataset::<f32>().shape((4000, 1024)).chunk((3000, 512)).deflate(1).create("big").unwrap();
            f.new_dataset::<f32>().shape((4000, 16)).chunk((500, 16)).create("small").unwrap();
        }
        let file = File::open(&path).unwrap();
        let big = with_chunk_cache(&file, file.dataset("big").unwrap(), "/big").unwrap();
        assert_eq!(big.access_plist().unwrap().chunk_cache().nbytes, 2 * 2 * 3000 * 512 * 4);
        let small = with_chunk_cache(&file, file.dataset("small").unwrap(), "/small").unwrap();
        let default = file.fapl().unwrap().chunk_cache().nbytes;
        assert_eq!(small.access_plist().unwrap().chunk_cache().nbytes, default);
        // The data reads through the reopened handle.
        assert_eq!(big.read_slice_2d::<f32, _>((2990..3010, ..)).unwrap().shape(), [20, 1024]);
        drop((big, small, file));
        let _ = std::fs::remove_file(&path);
    }
}
