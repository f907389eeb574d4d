//! `NativeDatabase`: a handle on a database directory.

use crate::collection::NativeCollection;
use crate::run::{blocking, parse_json};
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
#[napi]
pub async fn open_database(path: String, read_only: bool) -> napi::Result<NativeDatabase> {
    let db = blocking(move || Database::open(&PathBuf::from(path), OpenOptionsDb { read_only })).await?;
    Ok(NativeDatabase { inner: Arc::new(db) })
}

#[napi]
impl NativeDatabase {
    /// Creates a collection from JSON options.
    #[napi]
    pub async fn create_collection(&self, name: String, config_json: String) -> napi::Result<NativeCollection> {
        let cfg = CollectionConfig::from_json(&parse_json("collection options", &config_json)?).map_err(crate::error::to_js)?;
        let db = self.inner.clone();
        let c = blocking(move || db.create_collection(&name, cfg)).await?;
        Ok(NativeCollection::new(c))
    }

    /// Opens an existing collection.
    #[napi]
    pub async fn collection(&self, name: String) -> napi::Result<NativeCollection> {
        let db = self.inner.clone();
        Ok(NativeCollection::new(blocking(move || db.collection(&name)).await?))
    }

    /// Collection names.
    #[napi]
    pub async fn list_collections(&self) -> napi::Result<Vec<String>> {
        let db = self.inner.clone();
        blocking(move || db.list_collections()).await
    }

    /// Deletes a collection; false if it did not exist.
    #[napi]
    pub async fn drop_collection(&self, name: String) -> napi::Result<bool> {
        let db = self.inner.clone();
        blocking(move || db.drop_collection(&name)).await
    }

    /// Checkpoints and closes every collection, releases the writer lock.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        let db = self.inner.clone();
        blocking(move || db.close()).await
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
