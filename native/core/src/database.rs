//! A database: a directory of collections, with a writer lock.

use crate::collection::manifest::{FORMAT_VERSION, MANIFEST};
use crate::collection::{validate_name, Collection, CollectionConfig, RepairOptions, RepairReport, VerifyReport, COLLECTION_FILE};
use crate::error::{Error, ErrorCode, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Name of the lock file inside the database directory.
pub const LOCK_FILE: &str = "LOCK";
/// Marker file identifying a hektor database directory.
pub const MARKER_FILE: &str = "hektor.json";
/// Newest database format (`formatVersion` of [`MARKER_FILE`]) this version reads.
pub const DB_FORMAT_VERSION: u32 = 1;
/// Most threads [`Database::close`] checkpoints collections on (the work waits on fsync).
const CLOSE_THREADS: usize = 8;

/// An I/O error with what was being done. Running out of file descriptors (EMFILE, ENFILE)
/// says so and what to do, rather than passing for a missing file.
fn io_error(e: std::io::Error, context: impl std::fmt::Display) -> Error {
    let out_of_handles = matches!(e.raw_os_error(), Some(code) if is_out_of_handles(code));
    let err = Error::io(e, context);
    if out_of_handles {
        err.context("too many open files (raise the limit, e.g. `ulimit -n`, or close collections no longer used)")
    } else {
        err
    }
}

/// True for the OS error codes of an exhausted file descriptor table.
fn is_out_of_handles(code: i32) -> bool {
    #[cfg(unix)]
    {
        code == 24 || code == 23 // EMFILE, ENFILE
    }
    #[cfg(windows)]
    {
        code == 4 // ERROR_TOO_MANY_OPEN_FILES
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = code;
        false
    }
}

/// Refuses a store file written by a newer format than `supported` (`ERR_VERSION`): its
/// `formatVersion` field is compared. A missing file, or one that is not JSON, passes (the
/// loader that reads it in full reports damage as `ERR_CORRUPT`).
fn check_format(file: &Path, supported: u32, what: &str) -> Result<()> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(e, format!("reading {}", file.display()))),
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return Ok(()) };
    let Some(version) = v.get("formatVersion") else { return Ok(()) };
    match version.as_u64() {
        Some(x) if x <= u64::from(supported) => Ok(()),
        _ => Err(Error::new(
            ErrorCode::Version,
            format!(
                "{what} was written by a newer version of hektor (format version {version} in {}; this version reads up to {supported}): upgrade hektor to open it; nothing was changed",
                file.display()
            ),
        )
        .with_source(file.display().to_string())),
    }
}

/// Refuses a collection directory written by a newer format (`collection.json` and
/// `manifest.json`), before anything in it is opened or rewritten.
fn check_collection_format(dir: &Path, name: &str) -> Result<()> {
    let what = format!("collection '{name}'");
    check_format(&dir.join(COLLECTION_FILE), FORMAT_VERSION, &what)?;
    check_format(&dir.join(MANIFEST), FORMAT_VERSION, &what)
}

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
    /// Opens (creating if needed, unless read-only) the database at `dir`. A database
    /// written by a newer format is refused with `ERR_VERSION`, before anything is changed.
    pub fn open(dir: &Path, opts: OpenOptionsDb) -> Result<Database> {
        if opts.read_only {
            if !dir.is_dir() {
                return Err(Error::new(ErrorCode::NotFound, format!("no database at {}", dir.display())));
            }
        } else {
            std::fs::create_dir_all(dir).map_err(|e| io_error(e, format!("creating {}", dir.display())))?;
        }
        check_format(&dir.join(MARKER_FILE), DB_FORMAT_VERSION, &format!("the database at {}", dir.display()))?;
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
                .map_err(|e| io_error(e, format!("opening {}", p.display())))?;
            match f.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::new(
                        ErrorCode::Locked,
                        format!("{} is open for writing by another process or handle; open it with readOnly: true, or close the other one", dir.display()),
                    ))
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io_error(e, format!("locking {}", p.display()))),
            }
            let marker = dir.join(MARKER_FILE);
            if !marker.try_exists().map_err(|e| io_error(e, format!("checking {}", marker.display())))? {
                let body = format!(r#"{{ "formatVersion": {DB_FORMAT_VERSION} }}"#);
                crate::store::fsutil::replace_atomic(&marker, body.as_bytes())?;
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
    /// systems would otherwise open `Docs` as a second handle on `docs`). An error while
    /// looking (no file descriptor left, permissions) is `ERR_IO`, never "absent".
    fn exists_on_disk(&self, name: &str) -> Result<bool> {
        let marker = self.dir.join(name).join(COLLECTION_FILE);
        Ok(marker.try_exists().map_err(|e| io_error(e, format!("checking {}", marker.display())))? && has_entry(&self.dir, name)?)
    }

    /// Closes and forgets the open handle on `name`, if any.
    fn forget(cols: &mut HashMap<String, Arc<Collection>>, name: &str) {
        if let Some(c) = cols.remove(name) {
            // its files are about to be replaced or deleted: a failure here changes nothing
            let _ = c.close();
        }
    }

    /// Creates a collection; `ERR_EXISTS` if one of that name exists.
    ///
    /// A failed creation leaves nothing behind (a retry does not get `ERR_EXISTS`): the
    /// directory is removed again, marker first. A directory of that name without the
    /// marker file is what a crashed `drop_collection` or creation left; it is removed
    /// before the new collection is made, so none of its files can leak into it.
    pub fn create_collection(&self, name: &str, config: CollectionConfig) -> Result<Arc<Collection>> {
        self.check_writable(name)?;
        config.validate()?;
        let mut cols = self.collections.lock();
        let dir = self.dir.join(name);
        let marker = dir.join(COLLECTION_FILE);
        if cols.contains_key(name) || marker.try_exists().map_err(|e| io_error(e, format!("checking {}", marker.display())))? {
            return Err(Error::new(ErrorCode::Exists, format!("collection '{name}' already exists")));
        }
        if dir.try_exists().map_err(|e| io_error(e, format!("checking {}", dir.display())))? {
            std::fs::remove_dir_all(&dir).map_err(|e| io_error(e, format!("removing the leftover directory {}", dir.display())))?;
        }
        match Collection::create(&dir, name, config) {
            Ok(c) => {
                cols.insert(name.to_string(), c.clone());
                Ok(c)
            }
            Err(e) => {
                // the marker first: if removing the rest fails, the name is free anyway
                let _ = std::fs::remove_file(&marker);
                let _ = std::fs::remove_dir_all(&dir);
                let _ = crate::store::fsutil::sync_dir(&self.dir);
                Err(e)
            }
        }
    }

    /// Opens an existing collection (the same handle for repeated calls); `ERR_NOT_FOUND` if
    /// absent, `ERR_VERSION` if written by a newer format, `ERR_IO` (naming the cause) when
    /// the file system cannot tell, for example with no file descriptor left.
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
        if !self.exists_on_disk(name)? {
            return Err(Error::new(ErrorCode::NotFound, format!("no collection named '{name}'")));
        }
        check_collection_format(&dir, name)?;
        let c = Collection::open(&dir, self.read_only).map_err(|e| e.context(format!("collection '{name}'")))?;
        cols.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// Rebuilds a collection's indexes (slot table, metadata, vectors, BM25, HNSW graph)
    /// from its record log with the default [`RepairOptions`]; see [`repair_with`](Self::repair_with).
    pub fn repair(&self, name: &str) -> Result<Arc<Collection>> {
        self.repair_with(name, RepairOptions::default()).map(|(c, _)| c)
    }

    /// Rebuilds a collection's indexes from its record log beside the current files and
    /// switches to them only when nothing the collection serves would be lost (see
    /// [`Collection::repair_with`]): otherwise `ERR_CORRUPT` naming the damaged frame,
    /// with nothing changed, unless `opts.accept_loss`. The way out of `ERR_CORRUPT` at
    /// open. An open handle on the collection is closed first; the repaired collection is
    /// returned with what was done (and later [`collection`](Self::collection) calls return
    /// it). `ERR_NOT_FOUND` if there is no such collection; `ERR_VERSION`, changing
    /// nothing, if it was written by a newer format.
    pub fn repair_with(&self, name: &str, opts: RepairOptions) -> Result<(Arc<Collection>, RepairReport)> {
        self.check_writable(name)?;
        let dir = self.dir.join(name);
        if !self.exists_on_disk(name)? {
            return Err(Error::new(ErrorCode::NotFound, format!("no collection named '{name}'")));
        }
        check_collection_format(&dir, name)?;
        let mut cols = self.collections.lock();
        Self::forget(&mut cols, name);
        let (c, report) = Collection::repair_with(&dir, opts).map_err(|e| e.context(format!("repairing collection '{name}'")))?;
        cols.insert(name.to_string(), c.clone());
        Ok((c, report))
    }

    /// Checks every stored record, vector row and log frame of a collection against its
    /// checksums (see [`Collection::verify`]); changes nothing. Uses the open handle when
    /// there is one.
    pub fn verify(&self, name: &str) -> Result<VerifyReport> {
        self.collection(name)?.verify()
    }

    /// Names of the collections, sorted.
    pub fn list_collections(&self) -> Result<Vec<String>> {
        self.check_open()?;
        let mut names = Vec::new();
        let rd = std::fs::read_dir(&self.dir).map_err(|e| io_error(e, format!("listing {}", self.dir.display())))?;
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
        if !self.exists_on_disk(name)? {
            return Ok(false);
        }
        // remove the marker first so a crash mid-way leaves no half collection behind
        std::fs::remove_file(dir.join(COLLECTION_FILE)).map_err(|e| Error::io(e, format!("removing {}", dir.display())))?;
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(e, format!("removing {}", dir.display())))?;
        crate::store::fsutil::sync_dir(&self.dir)?;
        Ok(true)
    }

    /// Checkpoints and closes every collection (several at a time: a checkpoint mostly
    /// waits on fsync), releasing their files and maps, then releases the lock. Handles on
    /// the collections fail with `ERR_CLOSED` afterwards. Returns the first error.
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let cols: Vec<Arc<Collection>> = self.collections.lock().drain().map(|(_, c)| c).collect();
        let r = close_all(&cols);
        *self.lock.lock() = None;
        r
    }
}

/// Closes `cols` on up to [`CLOSE_THREADS`] threads; returns the first error.
fn close_all(cols: &[Arc<Collection>]) -> Result<()> {
    let next = AtomicUsize::new(0);
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(c) = cols.get(i) else { break };
        if let Err(e) = c.close() {
            first_err.lock().get_or_insert(e.context(format!("closing collection '{}'", c.name())));
        }
    };
    let threads = cols.len().min(CLOSE_THREADS);
    if threads <= 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 1..threads {
                // a thread that cannot start leaves its share to the others
                let _ = std::thread::Builder::new().name("hektor-close".into()).spawn_scoped(s, work);
            }
            work();
        });
    }
    first_err.into_inner().map_or(Ok(()), Err)
}

/// True when `dir` has an entry spelled exactly `name`. On case-insensitive file systems
/// (macOS, Windows) `Docs` would otherwise reach the directory `docs` and open a second,
/// independent writer on its files. An error listing `dir` is `ERR_IO`.
fn has_entry(dir: &Path, name: &str) -> Result<bool> {
    let rd = std::fs::read_dir(dir).map_err(|e| io_error(e, format!("listing {}", dir.display())))?;
    for e in rd {
        let e = e.map_err(|e| io_error(e, format!("listing {}", dir.display())))?;
        if e.file_name() == name {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fsutil::test_dir;
    use crate::store::record::Parts;
    use crate::Record;
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    fn writer(dir: &Path) -> Database {
        Database::open(dir, OpenOptionsDb::default()).unwrap()
    }

    fn record(id: &str, v: [f32; 3]) -> Record {
        Record { id: id.into(), text: Some(format!("text of {id}")), vector: Some(v.to_vec()), metadata: Some(json!({"n": 1})) }
    }

    /// Every file under `dir` with its bytes.
    fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir).unwrap().flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())).collect()
    }

    /// Sets `formatVersion` of the JSON file `p`.
    fn set_version(p: &Path, version: u64) {
        let mut v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        v["formatVersion"] = json!(version);
        std::fs::write(p, serde_json::to_vec(&v).unwrap()).unwrap();
    }

    #[test]
    fn a_database_of_a_newer_format_is_refused_untouched() {
        let dir = test_dir("db-future");
        std::fs::write(dir.join(MARKER_FILE), r#"{ "formatVersion": 2 }"#).unwrap();
        for read_only in [false, true] {
            let e = Database::open(&dir, OpenOptionsDb { read_only }).err().expect("refused");
            assert_eq!(e.code(), ErrorCode::Version, "{e}");
        }
        assert!(!dir.join(LOCK_FILE).exists(), "nothing written");
        // the current version and a marker without a version still open
        std::fs::write(dir.join(MARKER_FILE), r#"{ "formatVersion": 1 }"#).unwrap();
        writer(&dir).close().unwrap();
        std::fs::write(dir.join(MARKER_FILE), r#"{}"#).unwrap();
        writer(&dir).close().unwrap();
    }

    #[test]
    fn a_collection_of_a_newer_format_is_refused_untouched() {
        let dir = test_dir("col-future");
        let db = writer(&dir);
        let c = db.create_collection("c", CollectionConfig::default()).unwrap();
        c.upsert(vec![record("a", [1.0, 0.0, 0.0])]).unwrap();
        db.close().unwrap();
        let cdir = dir.join("c");
        for file in [COLLECTION_FILE, MANIFEST] {
            let original = std::fs::read(cdir.join(file)).unwrap();
            set_version(&cdir.join(file), u64::from(FORMAT_VERSION) + 1);
            let before = snapshot(&cdir);
            let db = writer(&dir);
            assert_eq!(db.collection("c").err().expect("refused").code(), ErrorCode::Version, "{file}");
            assert_eq!(db.repair("c").err().expect("refused").code(), ErrorCode::Version, "{file}");
            db.close().unwrap();
            let ro = Database::open(&dir, OpenOptionsDb { read_only: true }).unwrap();
            assert_eq!(ro.collection("c").err().expect("refused").code(), ErrorCode::Version, "{file}");
            assert_eq!(snapshot(&cdir), before, "{file}: nothing changed");
            std::fs::write(cdir.join(file), original).unwrap();
        }
        let db = writer(&dir);
        assert_eq!(db.collection("c").unwrap().count(None).unwrap(), 1);
    }

    #[test]
    fn a_leftover_directory_is_not_reused_by_create() {
        let dir = test_dir("leftover");
        let db = writer(&dir);
        let c = db.create_collection("c", CollectionConfig::default()).unwrap();
        c.upsert(vec![record("old", [1.0, 0.0, 0.0])]).unwrap();
        db.close().unwrap();
        // a drop that crashed after removing the marker
        std::fs::remove_file(dir.join("c").join(COLLECTION_FILE)).unwrap();
        let db = writer(&dir);
        assert!(db.list_collections().unwrap().is_empty());
        assert_eq!(db.collection("c").err().expect("absent").code(), ErrorCode::NotFound);
        let c = db.create_collection("c", CollectionConfig { metric: crate::Metric::L2, ..Default::default() }).unwrap();
        assert_eq!(c.count(None).unwrap(), 0, "the old records do not come back");
        assert!(c.get(&["old".to_string()], Parts::ALL).unwrap()[0].is_none());
        db.close().unwrap();
        let db = writer(&dir);
        assert_eq!(db.collection("c").unwrap().count(None).unwrap(), 0);
    }

    #[test]
    fn an_invalid_create_leaves_nothing() {
        let dir = test_dir("bad-create");
        let db = writer(&dir);
        let bad = CollectionConfig { dimension: Some(0), ..Default::default() };
        assert_eq!(db.create_collection("c", bad).err().expect("invalid").code(), ErrorCode::InvalidArg);
        assert!(!dir.join("c").exists());
        db.create_collection("c", CollectionConfig::default()).unwrap();
    }

    #[test]
    fn close_releases_files_and_skips_empty_checkpoints() {
        let dir = test_dir("close");
        let db = writer(&dir);
        let used = db.create_collection("used", CollectionConfig::default()).unwrap();
        used.upsert(vec![record("a", [1.0, 0.0, 0.0]), record("b", [0.0, 1.0, 0.0])]).unwrap();
        let fresh = db.create_collection("fresh", CollectionConfig { dimension: Some(3), ..Default::default() }).unwrap();
        let many: Vec<_> = (0..40).map(|i| db.create_collection(&format!("m{i}"), CollectionConfig::default()).unwrap()).collect();
        db.close().unwrap();
        for c in [&used, &fresh].into_iter().chain(&many) {
            assert!(c.is_closed());
            assert_eq!(c.count(None).err().expect("closed").code(), ErrorCode::Closed);
            let st = c.state.read();
            assert!(st.log.is_none() && st.vectors.is_none() && st.codes.is_none(), "{}: files released", c.name());
        }
        assert!(dir.join("used").join(MANIFEST).exists(), "a written collection is checkpointed");
        assert!(!dir.join("fresh").join(MANIFEST).exists(), "an empty one needs no checkpoint");
        let db = writer(&dir);
        assert_eq!(db.collection("used").unwrap().count(None).unwrap(), 2);
        let fresh = db.collection("fresh").unwrap();
        assert_eq!(fresh.count(None).unwrap(), 0);
        assert_eq!(fresh.config().dimension, Some(3));
        fresh.upsert(vec![record("x", [0.0, 0.0, 1.0])]).unwrap();
        assert_eq!(db.list_collections().unwrap().len(), 42);
    }

    #[test]
    fn out_of_file_descriptors_is_an_io_error_naming_the_cause() {
        let e = io_error(std::io::Error::from_raw_os_error(24), "listing /x");
        assert_eq!(e.code(), ErrorCode::Io);
        assert!(e.message().contains("too many open files"), "{}", e.message());
        let e = io_error(std::io::Error::from_raw_os_error(2), "listing /x");
        assert!(!e.message().contains("too many open files"));
    }
}
