//! The content-addressed blob store: `<root>/blobs/sha256/<hex>`, each blob hashed while it is
//! written and renamed into place only once its digest is proven.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

use super::ImageError;

const SHA256_PREFIX: &str = "sha256:";

/// Checks that `digest` is `sha256:<64 lower-case hex>` and returns the hex part.
pub fn parse_digest(digest: &str) -> Result<&str, ImageError> {
    let hex = digest.strip_prefix(SHA256_PREFIX).filter(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    hex.ok_or_else(|| ImageError::InvalidDigest {
        digest: digest.to_owned(),
    })
}

/// The `sha256:<hex>` digest of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format_digest(Sha256::digest(bytes).as_slice())
}

pub(crate) fn format_digest(hash: &[u8]) -> String {
    let mut text = String::with_capacity(SHA256_PREFIX.len() + 64);
    text.push_str(SHA256_PREFIX);
    for byte in hash {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// A name no other writer of this process or another one uses at the same time.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// Blobs by digest under one root directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    /// Opens (creating if needed) the store under `root`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        let blobs = root.join("blobs").join("sha256");
        let tmp = root.join("tmp");
        for dir in [&blobs, &tmp] {
            fs::create_dir_all(dir).map_err(ImageError::io("create", dir))?;
        }
        Ok(BlobStore { blobs, tmp })
    }

    /// Where the blob with this digest lives (whether or not it is there).
    pub fn path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self.blobs.join(parse_digest(digest)?))
    }

    /// Whether the blob is stored.
    pub fn contains(&self, digest: &str) -> bool {
        self.path(digest).is_ok_and(|path| path.is_file())
    }

    /// Reads a whole (small) blob: manifests and configs.
    pub fn read(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.path(digest)?;
        fs::read(&path).map_err(ImageError::io("read blob", path))
    }

    /// Stores bytes that must hash to `expected`.
    pub fn put_bytes(&self, expected: &str, bytes: &[u8]) -> Result<(), ImageError> {
        let mut writer = self.writer(Some(expected))?;
        writer.write(bytes)?;
        writer.commit().map(|_| ())
    }

    /// Stores everything `reader` yields; with `expected`, only if it hashes to it.
    /// Returns the digest and size.
    pub fn put_reader(
        &self,
        expected: Option<&str>,
        mut reader: impl Read,
    ) -> Result<(String, u64), ImageError> {
        let mut writer = self.writer(expected)?;
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ImageError::io("read blob content for", &writer.tmp)(e)),
            };
            writer.write(&buf[..n])?;
        }
        writer.commit()
    }

    /// Starts writing a blob into a temporary file; nothing is visible until `commit`.
    pub fn writer(&self, expected: Option<&str>) -> Result<BlobWriter, ImageError> {
        if let Some(expected) = expected {
            parse_digest(expected)?;
        }
        let tmp = self.tmp.join(unique_name("blob"));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(ImageError::io("create temporary blob", &tmp))?;
        Ok(BlobWriter {
            file: Some(file),
            tmp,
            blobs: self.blobs.clone(),
            hasher: Sha256::new(),
            size: 0,
            expected: expected.map(str::to_owned),
        })
    }

    /// Removes a blob; a missing one is not an error.
    pub fn remove(&self, digest: &str) -> Result<(), ImageError> {
        let path = self.path(digest)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(ImageError::io("remove blob", path)(e))
            }
            _ => Ok(()),
        }
    }

    /// The digests of every stored blob.
    pub fn digests(&self) -> Result<Vec<String>, ImageError> {
        let entries = fs::read_dir(&self.blobs).map_err(ImageError::io("list", &self.blobs))?;
        let mut digests = Vec::new();
        for entry in entries {
            let entry = entry.map_err(ImageError::io("list", &self.blobs))?;
            let digest = format!("{SHA256_PREFIX}{}", entry.file_name().to_string_lossy());
            if parse_digest(&digest).is_ok() {
                digests.push(digest);
            }
        }
        Ok(digests)
    }

    /// Removes temporary files left by a crash.
    pub fn clear_tmp(&self) -> Result<(), ImageError> {
        let entries = fs::read_dir(&self.tmp).map_err(ImageError::io("list", &self.tmp))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let removed = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
            removed.map_err(ImageError::io("remove stale temporary", &path))?;
        }
        Ok(())
    }
}

/// A blob being written: hashed as it goes, renamed into the store by `commit` only if the
/// digest matches. Dropping it uncommitted deletes the temporary file.
#[derive(Debug)]
pub struct BlobWriter {
    file: Option<File>,
    tmp: PathBuf,
    blobs: PathBuf,
    hasher: Sha256,
    size: u64,
    expected: Option<String>,
}

impl BlobWriter {
    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), ImageError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(bytes)
            .map_err(ImageError::io("write blob", &self.tmp))?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// How many bytes were written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of what was written so far, without committing.
    pub fn current_digest(&self) -> String {
        format_digest(self.hasher.clone().finalize().as_slice())
    }

    /// Verifies the digest, syncs and renames the blob into place. Returns digest and size.
    pub fn commit(mut self) -> Result<(String, u64), ImageError> {
        let actual = self.current_digest();
        if let Some(expected) = &self.expected
            && *expected != actual
        {
            return Err(ImageError::DigestMismatch {
                expected: expected.clone(),
                actual,
            });
        }

        if let Some(file) = self.file.take() {
            file.sync_all()
                .map_err(ImageError::io("sync blob", &self.tmp))?;
        }
        let dest = self.blobs.join(parse_digest(&actual)?);
        fs::rename(&self.tmp, &dest).map_err(ImageError::io("rename blob into", &dest))?;
        self.tmp = PathBuf::new();
        Ok((actual, self.size))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_stored_under_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let digest = sha256_digest(b"hello");
        store.put_bytes(&digest, b"hello").unwrap();
        assert!(store.contains(&digest));
        assert_eq!(store.read(&digest).unwrap(), b"hello");
        assert_eq!(store.digests().unwrap(), vec![digest]);
    }

    #[test]
    fn content_that_does_not_match_its_digest_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let wrong = sha256_digest(b"other");
        let err = store.put_bytes(&wrong, b"hello").unwrap_err();
        assert!(
            matches!(err, ImageError::DigestMismatch { ref expected, .. } if *expected == wrong)
        );
        assert!(store.digests().unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn malformed_digests_are_refused() {
        assert!(parse_digest("sha256:ABC").is_err());
        assert!(parse_digest("sha512:00").is_err());
        assert!(parse_digest(&sha256_digest(b"")).is_ok());
    }
}
