//! A database: a directory of collections, with a writer lock.

use crate::collection::{validate_name, Collection, CollectionConfig, COLLECTION_FILE};
use crate::error::{Error, ErrorCode, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Name of the lock file inside the database directory.
pub const LOCK_FILE: &str = "LOCK";
/// Marker file identifying a hektor database directory.
pub const MARKER_FILE: &str = "hektor.json";

/// Options for [`Database::open`].
#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptionsDb {
    /// Open without the writer lock; every write fails with `ERR_READ_ONLY`.
    pub read_only: bool,
}

/// An open database directory.
///
/// One process at a time may open a database for writing: it holds an exclusive
/// lock on `LOCK` (released by the OS if the process dies, so a killed writer never
/// leaves a stale lock). Read-only opens take no lock and may run beside the writer;
/// they see the data as of the moment each collection is opened.
pub struct Database {
    dir: PathBuf,
    read_only: bool,
    lock: Mutex<Option<File>>,
    collections: Mutex<HashMap<String, Arc<Collection>>>,
    closed: AtomicBool,
}

impl Database {
    /// Opens (creating if needed, unless read-only) the database at `dir`.
    pub fn open(dir: &Path, opts: OpenOptionsDb) -> Result<Database> {
        if opts.read_only {
            if !dir.is_dir() {
                return Err(Error::new(ErrorCode::NotFound, format!("no database at {}", dir.display())));
            }
        } else {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(e, format!("creating {}", dir.display())))?;
        }
        let lock = if opts.read_only {
            None
        } else {
            let p = dir.join(LOCK_FILE);
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&p)
                .map_err(|e| Error::io(e, format!("opening {}", p.display())))?;
            match f.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::new(
                        ErrorCode::Locked,
                        format!("{} is open for writing by another process or handle; open it with readOnly: true, or close the other one", dir.display()),
                    ))
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(e, format!("locking {}", p.display()))),
            }
            let marker = dir.join(MARKER_FILE);
            if !marker.exists() {
                crate::store::fsutil::replace_atomic(&marker, br#"{ "formatVersion": 1 }"#)?;
            }
            Some(f)
        };
        Ok(Database {
            dir: dir.to_path_buf(),
            read_only: opts.read_only,
            lock: Mutex::new(lock),
            collections: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// True when opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::new(ErrorCode::Closed, "database is closed"));
        }
        Ok(())
    }

    /// Checks that the database is open for writing and `name` is a valid collection name.
    fn check_writable(&self, name: &str) -> Result<()> {
        self.check_open()?;
        validate_name(name)?;
        if self.read_only {
            return Err(Error::new(ErrorCode::ReadOnly, "the database was opened read-only"));
        }
        Ok(())
    }

    /// Whether the collection `name` exists on disk, spelt exactly so (case-insensitive file
    /// systems would otherwise open `Docs` as a second handle on `docs`).
    fn exists_on_disk(&self, name: &str) -> bool {
        self.dir.join(name).join(COLLECTION_FILE).exists() && has_entry(&self.dir, name)
    }

    /// Closes and forgets the open handle on `name`, if any.
    fn forget(cols: &mut HashMap<String, Arc<Collection>>, name: &str) {
        if let Some(c) = cols.remove(name) {
            // its files are about to be replaced or deleted: a failure here changes nothing
            let _ = c.close();
        }
    }

    /// Creates a collection; `ERR_EXISTS` if one of that name exists.
    pub fn create_collection(&self, name: &str, config: CollectionConfig) -> Result<Arc<Collection>> {
        self.check_writable(name)?;
        let mut cols = self.collections.lock();
        let dir = self.dir.join(name);
        if cols.contains_key(name) || dir.join(COLLECTION_FILE).exists() {
            return Err(Error::new(ErrorCode::Exists, format!("collection '{name}' already exists")));
        }
        let c = Arc::new(Collection::create(&dir, name, config)?);
        cols.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// Opens an existing collection (the same handle for repeated calls); `ERR_NOT_FOUND` if absent.
    pub fn collection(&self, name: &str) -> Result<Arc<Collection>> {
        self.check_open()?;
        validate_name(name)?;
        let mut cols = self.collections.lock();
        if let Some(c) = cols.get(name) {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let dir = self.dir.join(name);
        if !self.exists_on_disk(name) {
            return Err(Error::new(ErrorCode::NotFound, format!("no collection named '{name}'")));
        }
        let c = Arc::new(Collection::open(&dir, self.read_only).map_err(|e| e.context(format!("collection '{name}'")))?);
        cols.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// Rebuilds a collection's indexes (slot table, metadata, vectors, BM25, HNSW graph)
    /// from its record log, discarding its checkpoint files, and writes a fresh checkpoint
    /// (see [`Collection::repair`]). The way out of `ERR_CORRUPT` at open for everything
    /// but the log itself and `collection.json`. An open handle on the collection is
    /// closed first; the repaired collection is returned (and later [`collection`](Self::collection)
    /// calls return it). `ERR_NOT_FOUND` if there is no such collection.
    pub fn repair(&self, name: &str) -> Result<Arc<Collection>> {
        self.check_writable(name)?;
        let mut cols = self.collections.lock();
        Self::forget(&mut cols, name);
        let dir = self.dir.join(name);
        if !self.exists_on_disk(name) {
            return Err(Error::new(ErrorCode::NotFound, format!("no collection named '{name}'")));
        }
        let c = Arc::new(Collection::repair(&dir).map_err(|e| e.context(format!("repairing collection '{name}'")))?);
        cols.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// Names of the collections, sorted.
    pub fn list_collections(&self) -> Result<Vec<String>> {
        self.check_open()?;
        let mut names = Vec::new();
        let rd = std::fs::read_dir(&self.dir).map_err(|e| Error::io(e, format!("listing {}", self.dir.display())))?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if validate_name(&name).is_ok() && e.path().join(COLLECTION_FILE).exists() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Closes and deletes a collection; returns false if it did not exist.
    pub fn drop_collection(&self, name: &str) -> Result<bool> {
        self.check_writable(name)?;
        let mut cols = self.collections.lock();
        Self::forget(&mut cols, name);
        let dir = self.dir.join(name);
        if !self.exists_on_disk(name) {
            return Ok(false);
        }
        // remove the marker first so a crash mid-way leaves no half collection behind
        std::fs::remove_file(dir.join(COLLECTION_FILE)).map_err(|e| Error::io(e, format!("removing {}", dir.display())))?;
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(e, format!("removing {}", dir.display())))?;
        crate::store::fsutil::sync_dir(&self.dir)?;
        Ok(true)
    }

    /// Checkpoints and closes every collection, then releases the lock.
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut first_err = None;
        for (_, c) in self.collections.lock().drain() {
            if let Err(e) = c.close() {
                first_err.get_or_insert(e);
            }
        }
        *self.lock.lock() = None;
        first_err.map_or(Ok(()), Err)
    }
}

/// True when `dir` has an entry spelled exactly `name`. On case-insensitive file systems
/// (macOS, Windows) `Docs` would otherwise reach the directory `docs` and open a second,
/// independent writer on its files.
fn has_entry(dir: &Path, name: &str) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| rd.flatten().any(|e| e.file_name() == name))
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
