//! Where file columns keep their bytes: a directory (`<project>/.ward/files` by default) or an
//! S3-compatible bucket, both through `object_store`. An object's key is
//! `TABLE/COLUMN/UUIDv7`: one object per upload, never shared between rows or versions, so
//! deleting the object a write released can never break another row.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    GetOptions, GetRange, GetResult, ObjectMeta, ObjectStore, ObjectStoreExt, WriteMultipart,
};
use ward_ir::Storage;

use crate::error::ApiError;

/// The file store a server uses.
#[derive(Debug, Clone)]
pub struct FileStore {
    inner: Arc<dyn ObjectStore>,
    /// For the start banner: where the bytes go.
    place: String,
}

impl FileStore {
    /// The store `storage` names (`None`: the project's `.ward/files`). A local directory is
    /// created when missing; S3 credentials come from the environment (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, …), as `object_store` reads them.
    pub fn open(storage: Option<&Storage>, project_dir: &FsPath) -> Result<FileStore, String> {
        match storage {
            None => local(&project_dir.join(".ward").join("files")),
            Some(Storage::Local { path }) => local(&project_dir.join(path)),
            Some(Storage::S3 {
                bucket,
                endpoint,
                region,
                prefix,
            }) => {
                let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
                if let Some(e) = endpoint {
                    b = b
                        .with_endpoint(e)
                        .with_allow_http(e.starts_with("http://"))
                        // Path-style addressing: what S3-compatible servers (MinIO, moto, R2)
                        // answer on a plain endpoint.
                        .with_virtual_hosted_style_request(false);
                }
                if let Some(r) = region {
                    b = b.with_region(r);
                }
                let s3 = b.build().map_err(|e| format!("storage s3: {e}"))?;
                let place = format!("s3://{bucket}/{}", prefix.as_deref().unwrap_or(""));
                let inner: Arc<dyn ObjectStore> = match prefix {
                    Some(p) => Arc::new(PrefixStore::new(s3, p.as_str())),
                    None => Arc::new(s3),
                };
                Ok(FileStore { inner, place })
            }
        }
    }

    pub fn place(&self) -> &str {
        &self.place
    }

    /// A fresh key for an upload to `table`.`column`.
    pub fn new_key(table: &str, column: &str) -> String {
        let id = uuid::Uuid::now_v7().simple().to_string();
        Path::from_iter([table, column, id.as_str()]).to_string()
    }

    /// A streaming writer of the object `key` (parts of 5 MiB, as S3 needs at least).
    pub async fn writer(&self, key: &str) -> Result<WriteMultipart, ApiError> {
        let upload = self
            .inner
            .put_multipart(&Path::from(key))
            .await
            .map_err(ApiError::file_store_unavailable)?;
        Ok(WriteMultipart::new(upload))
    }

    /// The object `key`, or the bytes `range` of it.
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<GetResult, ApiError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        self.inner
            .get_opts(&Path::from(key), options)
            .await
            .map_err(ApiError::file_store_unavailable)
    }

    /// Deletes the object `key`; one already gone counts as deleted.
    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.inner.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every object in the store.
    pub fn list(&self) -> BoxStream<'static, Result<ObjectMeta, object_store::Error>> {
        self.inner.list(None).boxed()
    }
}

/// A directory store. The directory is made by the first upload (a project without file
/// columns never gets one); writes are fsynced before the row that names them commits.
fn local(dir: &FsPath) -> Result<FileStore, String> {
    let dir = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // `object_store` paths have no `..`: `proj/../other/files` is written out as `other/files`.
    let mut plain = std::path::PathBuf::new();
    for part in dir.components() {
        match part {
            std::path::Component::ParentDir => {
                plain.pop();
            }
            std::path::Component::CurDir => {}
            other => plain.push(other),
        }
    }
    let dir = plain;
    let prefix = Path::from_absolute_path(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let fs = LocalFileSystem::new()
        .with_fsync(true)
        .with_automatic_cleanup(true);
    Ok(FileStore {
        inner: Arc::new(PrefixStore::new(fs, prefix)),
        place: dir.display().to_string(),
    })
}
