//! Where media files are kept: one [`ObjectStore`] for the whole server, the local
//! filesystem by default (the media directory) or an S3-compatible bucket
//! (`--media-url s3://bucket/prefix`), so that every replica writes and serves the same
//! files. Everything else in the server names a file by its name only (`<uuid>.png`).
//!
//! What a client sees does not depend on the store: a file's size and strong ETag come
//! from our own `media_files` row (the SHA-256 taken while the file was written), never
//! from the store's own ETag, so they are the same on every replica and backend.
//!
//! The store's calls are async. Media jobs and tombstone pruning run on blocking threads
//! and call the `*_blocking` twins, which run the call on the server's runtime from a
//! thread of their own (as [`crate::sql::off_async`] does for PostgreSQL), so they work
//! from a blocking-pool thread, from a test's async body and outside any runtime.

use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Where media files are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaLocation {
    /// A directory of this machine (or a mount every replica shares).
    Dir(PathBuf),
    /// An S3-compatible bucket, under `prefix` (no leading or trailing `/`; may be
    /// empty). Region, endpoint and credentials come from the standard `AWS_*`
    /// variables (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, …).
    S3 { bucket: String, prefix: String },
}

/// A media store that cannot be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum MediaStoreError {
    #[error("media URL {url:?}: {why}")]
    BadUrl { url: String, why: &'static str },
    #[error(transparent)]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl MediaLocation {
    /// Reads a `--media-url`: `s3://bucket` or `s3://bucket/prefix/…`, or
    /// `file:///absolute/dir`.
    pub fn parse_url(url: &str) -> Result<MediaLocation, MediaStoreError> {
        let bad = |why| MediaStoreError::BadUrl {
            url: url.to_owned(),
            why,
        };
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name"));
            }
            if rest.contains(['?', '#']) {
                return Err(bad("no query or fragment is read"));
            }
            Ok(MediaLocation::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            })
        } else if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("a file:// URL names an absolute directory"));
            }
            Ok(MediaLocation::Dir(PathBuf::from(path)))
        } else {
            Err(bad("expected s3://bucket/prefix or file:///directory"))
        }
    }
}

/// The media files of the server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    /// Local files are served by reading the file directly (with large reads).
    local: bool,
    /// The runtime the store was opened on, which its HTTP client belongs to: blocking
    /// callers run their calls there.
    runtime: Option<tokio::runtime::Handle>,
}

impl MediaStore {
    /// Opens the store at `location` (a directory is created if missing). Contacts
    /// nothing: a bucket's settings are checked on first use.
    pub fn open(location: &MediaLocation) -> Result<MediaStore, MediaStoreError> {
        let runtime = tokio::runtime::Handle::try_current().ok();
        Ok(match location {
            MediaLocation::Dir(dir) => {
                std::fs::create_dir_all(dir)?;
                MediaStore {
                    store: Arc::new(LocalFileSystem::new_with_prefix(dir)?),
                    local: true,
                    runtime,
                }
            }
            MediaLocation::S3 { bucket, prefix } => {
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()?;
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix.as_str()))
                };
                MediaStore {
                    store,
                    local: false,
                    runtime,
                }
            }
        })
    }

    /// Stores `bytes` as `name`, replacing a file of that name whole (a reader sees
    /// the old file or the new one, never a part).
    pub async fn put(&self, name: &str, bytes: Bytes) -> Result<(), MediaStoreError> {
        self.store.put(&StorePath::from(name), bytes.into()).await?;
        Ok(())
    }

    /// Removes `name`; `false` if there was none.
    pub async fn delete(&self, name: &str) -> Result<bool, MediaStoreError> {
        match self.store.delete(&StorePath::from(name)).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The bytes `range` of `name` as a stream, without reading the file into memory;
    /// `None` if there is no such file.
    pub async fn read(
        &self,
        name: &str,
        range: Range<u64>,
    ) -> Result<Option<BoxStream<'static, std::io::Result<Bytes>>>, MediaStoreError> {
        let options = GetOptions {
            range: (!range.is_empty()).then(|| GetRange::Bounded(range.clone())),
            ..GetOptions::default()
        };
        let result = match self.store.get_opts(&StorePath::from(name), options).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let len = result.range.end - result.range.start;
        let stream = match result.payload {
            // 64 KiB reads: the default 4–8 KiB caps a loopback download near 90 MB/s.
            GetResultPayload::File(file, _) if self.local => {
                let mut file = tokio::fs::File::from_std(file);
                file.seek(std::io::SeekFrom::Start(result.range.start))
                    .await?;
                tokio_util::io::ReaderStream::with_capacity(file.take(len), 64 << 10).boxed()
            }
            payload => object_store::GetResult { payload, ..result }
                .into_stream()
                .map(|chunk| chunk.map_err(std::io::Error::other))
                .boxed(),
        };
        Ok(Some(stream))
    }

    /// [`MediaStore::put`] from blocking code.
    pub fn put_blocking(&self, name: &str, bytes: Bytes) -> Result<(), MediaStoreError> {
        self.block_on(self.put(name, bytes))
    }

    /// [`MediaStore::delete`] from blocking code.
    pub fn delete_blocking(&self, name: &str) -> Result<bool, MediaStoreError> {
        self.block_on(self.delete(name))
    }

    /// Runs `fut` to completion from blocking code: on the store's runtime (else the
    /// current one) from a scoped thread, since a runtime's own threads must not block
    /// on it; on a small runtime of its own when there is none at all. An S3 call needs
    /// that runtime to drive its I/O from its own threads: the server's multi-thread
    /// runtime does (a current-thread runtime blocked in the caller would not; local
    /// files need no I/O driver).
    fn block_on<T: Send>(
        &self,
        fut: impl std::future::Future<Output = Result<T, MediaStoreError>> + Send,
    ) -> Result<T, MediaStoreError> {
        let handle = self
            .runtime
            .clone()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        match handle {
            Some(handle) => std::thread::scope(|s| {
                s.spawn(|| handle.block_on(fut))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }),
            None => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(fut),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_urls() {
        assert_eq!(
            MediaLocation::parse_url("s3://stories-media").unwrap(),
            MediaLocation::S3 {
                bucket: "stories-media".to_owned(),
                prefix: String::new()
            }
        );
        assert_eq!(
            MediaLocation::parse_url("s3://stories-media/prod/media/").unwrap(),
            MediaLocation::S3 {
                bucket: "stories-media".to_owned(),
                prefix: "prod/media".to_owned()
            }
        );
        assert_eq!(
            MediaLocation::parse_url("file:///srv/media").unwrap(),
            MediaLocation::Dir(PathBuf::from("/srv/media"))
        );
        for bad in [
            "s3://",
            "s3:///prefix",
            "http://x/y",
            "/srv/media",
            "file://rel",
            "s3://b?x=1",
        ] {
            assert!(MediaLocation::parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_s3_store_is_configured_without_contacting_it() {
        let location = MediaLocation::parse_url("s3://stories-media/prod").unwrap();
        let store = MediaStore::open(&location).unwrap();
        assert!(!store.local);
        // The prefix wraps the bucket's store.
        assert_eq!(store.store.to_string(), "PrefixObjectStore(prod)");
        let debug = format!("{:?}", store.store);
        assert!(debug.contains("bucket: \"stories-media\""), "{debug}");
        let whole = MediaStore::open(&MediaLocation::parse_url("s3://stories-media").unwrap());
        assert_eq!(whole.unwrap().store.to_string(), "AmazonS3(stories-media)");
    }

    #[test]
    fn local_files_are_written_read_in_ranges_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::open(&MediaLocation::Dir(dir.path().join("media"))).unwrap();
        store
            .put_blocking("a.png", Bytes::from_static(b"0123456789"))
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let read = |range: Range<u64>| {
            rt.block_on(async {
                let mut stream = store.read("a.png", range).await.unwrap()?;
                let mut out = Vec::new();
                while let Some(chunk) = stream.next().await {
                    out.extend_from_slice(&chunk.unwrap());
                }
                Some(out)
            })
        };
        assert_eq!(read(2..5).unwrap(), b"234");
        assert_eq!(read(0..10).unwrap(), b"0123456789");
        assert!(rt.block_on(store.read("b.png", 0..1)).unwrap().is_none());
        assert!(store.delete_blocking("a.png").unwrap());
        assert!(!store.delete_blocking("a.png").unwrap());
    }
}
