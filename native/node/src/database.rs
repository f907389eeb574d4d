//! `NativeDatabase`: a handle on a database directory.

use crate::collection::NativeCollection;
use crate::report::{NativeRepairReport, NativeVerifyReport};
use crate::run::{job, parse_json, Job};
use napi::bindgen_prelude::AsyncTask;
use hektor_core::{CollectionConfig, Database, OpenOptionsDb};
use napi_derive::napi;
use std::path::PathBuf;
use std::sync::Arc;

/// A database handle (private: wrapped by the SDK's `Database`).
#[napi]
pub struct NativeDatabase {
    inner: Arc<Database>,
}

/// Opens (creating if needed unless `readOnly`) the database at `path`.
#[napi(ts_return_type = "Promise<NativeDatabase>")]
pub fn open_database(path: String, read_only: bool) -> AsyncTask<Job<NativeDatabase>> {
    job(move || Ok(NativeDatabase { inner: Arc::new(Database::open(&PathBuf::from(path), OpenOptionsDb { read_only })?) }))
}

#[napi]
impl NativeDatabase {
    /// Creates a collection from JSON options.
    #[napi(ts_return_type = "Promise<NativeCollection>")]
    pub fn create_collection(&self, name: String, config_json: String) -> napi::Result<AsyncTask<Job<NativeCollection>>> {
        let cfg = CollectionConfig::from_json(&parse_json("collection options", &config_json)?).map_err(crate::error::to_js)?;
        let db = self.inner.clone();
        Ok(job(move || Ok(NativeCollection::new(db.create_collection(&name, cfg)?))))
    }

    /// Opens an existing collection.
    #[napi(ts_return_type = "Promise<NativeCollection>")]
    pub fn collection(&self, name: String) -> AsyncTask<Job<NativeCollection>> {
        let db = self.inner.clone();
        job(move || Ok(NativeCollection::new(db.collection(&name)?)))
    }

    /// Collection names.
    #[napi(ts_return_type = "Promise<Array<string>>")]
    pub fn list_collections(&self) -> AsyncTask<Job<Vec<String>>> {
        let db = self.inner.clone();
        job(move || db.list_collections())
    }

    /// Deletes a collection; false if it did not exist.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn drop_collection(&self, name: String) -> AsyncTask<Job<bool>> {
        let db = self.inner.clone();
        job(move || db.drop_collection(&name))
    }

    /// Rebuilds a collection's indexes from its record log beside the current files;
    /// switches only when nothing is lost, unless `acceptLoss`.
    #[napi(ts_return_type = "Promise<NativeRepairReport>")]
    pub fn repair(&self, name: String, accept_loss: Option<bool>) -> AsyncTask<Job<NativeRepairReport>> {
        let db = self.inner.clone();
        let opts = hektor_core::RepairOptions { accept_loss: accept_loss.unwrap_or(false) };
        job(move || db.repair_with(&name, opts).map(|(_, r)| r.into()))
    }

    /// Checks a collection's records, vector rows and log frames against their checksums.
    #[napi(ts_return_type = "Promise<NativeVerifyReport>")]
    pub fn verify(&self, name: String) -> AsyncTask<Job<NativeVerifyReport>> {
        let db = self.inner.clone();
        job(move || db.verify(&name).map(Into::into))
    }

    /// Checkpoints and closes every collection, releases the writer lock.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Job<()>> {
        let db = self.inner.clone();
        job(move || db.close())
    }

    /// The directory.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.inner.dir().display().to_string()
    }

    /// True when opened read-only.
    #[napi(getter)]
    pub fn read_only(&self) -> bool {
        self.inner.is_read_only()
    }
}
