//! Private, atomically written PEM files holding the certificates and their keys.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{CertAndKey, PkiError};

pub(super) fn pem_paths(pki_dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        pki_dir.join(format!("{stem}.pem")),
        pki_dir.join(format!("{stem}-key.pem")),
    )
}

/// Reads a certificate and its key; `None` when either file is absent, which is what a
/// first start (or a crash between the two writes) leaves behind.
pub(super) fn load_pair(pki_dir: &Path, stem: &str) -> Result<Option<CertAndKey>, PkiError> {
    let (cert_path, key_path) = pem_paths(pki_dir, stem);
    let Some(cert_pem) = read_optional(&cert_path)? else {
        return Ok(None);
    };
    let Some(key_pem) = read_optional(&key_path)? else {
        return Ok(None);
    };
    Ok(Some(CertAndKey { cert_pem, key_pem }))
}

fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PkiError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

pub(super) fn store_pair(
    pki_dir: &Path,
    stem: &str,
    pair: CertAndKey,
) -> Result<CertAndKey, PkiError> {
    let (cert_path, key_path) = pem_paths(pki_dir, stem);
    write_atomic(&key_path, pair.key_pem.as_bytes(), 0o600)?;
    write_atomic(&cert_path, pair.cert_pem.as_bytes(), 0o644)?;
    Ok(pair)
}

pub(super) fn create_private_dir(path: &Path) -> Result<(), PkiError> {
    match DirBuilder::new().recursive(true).mode(0o700).create(path) {
        Ok(()) => Ok(()),
        Err(source) => Err(PkiError::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `contents` to a temporary file beside `path` and renames it into place, so a
/// reader (or a restart after a crash) sees either the old file or the whole new one.
pub(super) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let write_error = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp.{}", std::process::id()));

    let result = write_then_rename(&tmp, path, contents, mode);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write_error)
}

fn write_then_rename(tmp: &Path, path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(tmp)?;
    // The mode given to open applies only to a file it creates, not to a stale leftover.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(tmp, path)
}
