//! Where file columns keep their bytes: a directory (`<project>/.ward/files` by default) or an
//! S3-compatible bucket, both through `object_store`. An object's key is
//! `TABLE/COLUMN/UUIDv7`: one object per upload, never shared between rows or versions, so
//! deleting the object a write released can never break another row.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    GetOptions, GetRange, GetResult, GetResultPayload, ObjectMeta, ObjectStore, ObjectStoreExt,
    WriteMultipart,
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

    /// The bytes of the object `key`, or of `range` of it, as a stream.
    pub async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, std::io::Error>>, ApiError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let got: GetResult = self
            .inner
            .get_opts(&Path::from(key), options)
            .await
            .map_err(ApiError::file_store_unavailable)?;
        Ok(match got.payload {
            GetResultPayload::File(file, _) => read_file(file, got.range),
            GetResultPayload::Stream(s) => s.map_err(std::io::Error::other).boxed(),
        })
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

/// Bytes of a local object are read this much at a time: `object_store`'s own stream of a
/// local file reads 8 KiB per blocking task, a quarter of what the disk gives.
const READ_CHUNK: u64 = 256 * 1024;

/// `range` of `file`, a blocking read of [`READ_CHUNK`] at a time.
fn read_file(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    futures_util::stream::try_unfold((file, range.start), move |(mut file, at)| async move {
        if at >= range.end {
            return Ok(None);
        }
        let n = usize::try_from((range.end - at).min(READ_CHUNK)).unwrap_or(0);
        let (file, buf) = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Seek, SeekFrom};
            file.seek(SeekFrom::Start(at))?;
            let mut buf = vec![0u8; n];
            file.read_exact(&mut buf)?;
            Ok::<_, std::io::Error>((file, buf))
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(Some((Bytes::from(buf), (file, at + n as u64))))
    })
    .boxed()
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
