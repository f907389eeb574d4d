//! Small file-system helpers: durable writes, directory sync, disk usage.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// fsyncs a directory so that a rename or a new file in it is durable (no-op on Windows).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| Error::io(e, format!("opening {}", dir.display())))?;
        d.sync_all().map_err(|e| Error::io(e, format!("syncing {}", dir.display())))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `bytes` to `path` and fsyncs the file (not the directory).
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::io(e, format!("creating {}", path.display())))?;
    f.write_all(bytes).map_err(|e| Error::io(e, format!("writing {}", path.display())))?;
    f.sync_all().map_err(|e| Error::io(e, format!("syncing {}", path.display())))?;
    Ok(())
}

/// Atomically replaces `path` with `bytes`: write a temp file, fsync, rename, fsync the directory.
pub fn replace_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    write_synced(&tmp, bytes)?;
    fs::rename(&tmp, path).map_err(|e| Error::io(e, format!("renaming {}", tmp.display())))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| Error::io(e, format!("reading {}", path.display())))
}

/// Bytes a file occupies on disk (allocated blocks on Unix, apparent length elsewhere).
pub fn disk_usage(path: &Path) -> u64 {
    match fs::metadata(path) {
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::MetadataExt;
            m.blocks() * 512
        }
        #[cfg(not(unix))]
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// Total disk usage of the regular files directly in `dir`.
pub fn dir_disk_usage(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| disk_usage(&e.path())).sum())
        .unwrap_or(0)
}

/// A fresh, empty directory for a test (under the system temp dir).
#[doc(hidden)]
pub fn test_dir(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = std::env::temp_dir().join(format!(
        "hektor-test-{}-{}-{}",
        name,
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).unwrap();
    p
}
