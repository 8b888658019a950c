//! Unpacking a layer blob into `<root>/layers/<diff id hex>/`, ready to be an overlayfs lower
//! directory: whiteouts become 0:0 character devices, opaque markers the
//! `trusted.overlay.opaque` xattr. Work happens in a temporary directory renamed into place
//! on success, so a crash never leaves a half layer that looks done.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{PermissionsExt, lchown, symlink};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Mode, Timespec, Timestamps, XattrFlags};
use sha2::{Digest as _, Sha256};
use tracing::debug;

use super::ImageError;
use super::index::LayerRecord;
use super::store::{format_digest, parse_digest, unique_name};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";

/// The directory a layer is (or will be) unpacked into.
pub(crate) fn layer_dir(layers: &Path, layer: &LayerRecord) -> Result<PathBuf, ImageError> {
    Ok(layers.join(parse_digest(&layer.diff_id)?))
}

/// Unpacks `blob` for `layer` unless it already is; returns the layer directory.
pub(crate) fn unpack_layer(
    blob: &Path,
    layer: &LayerRecord,
    layers: &Path,
    tmp: &Path,
) -> Result<PathBuf, ImageError> {
    let dest = layer_dir(layers, layer)?;
    if dest.is_dir() {
        return Ok(dest);
    }

    let work = tmp.join(unique_name("layer"));
    fs::create_dir(&work).map_err(ImageError::io("create", &work))?;
    let result = unpack_into(blob, layer, &work).and_then(|()| {
        match fs::rename(&work, &dest) {
            Ok(()) => Ok(()),
            // Another unpack of the same layer won the race: its result is as good as ours.
            Err(_) if dest.is_dir() => {
                fs::remove_dir_all(&work).map_err(ImageError::io("remove duplicate layer", &work))
            }
            Err(e) => Err(ImageError::io("rename layer into", &dest)(e)),
        }
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&work);
    }
    result?;
    debug!(layer = %layer.digest, diff_id = %layer.diff_id, "unpacked layer");
    Ok(dest)
}

fn unpack_into(blob: &Path, layer: &LayerRecord, work: &Path) -> Result<(), ImageError> {
    fs::set_permissions(work, fs::Permissions::from_mode(0o755))
        .map_err(ImageError::io("chmod", work))?;
    let file = File::open(blob).map_err(ImageError::io("open layer blob", blob))?;
    let read_err = ImageError::io("read layer", blob);
    let reader = HashingReader::new(decompress(BufReader::new(file)).map_err(read_err)?);

    let mut archive = tar::Archive::new(reader);
    let mut dir_times = Vec::new();
    let entries = archive
        .entries()
        .map_err(ImageError::io("read layer", blob))?;
    for entry in entries {
        let mut entry = entry.map_err(ImageError::io("read layer", blob))?;
        apply_entry(work, &mut entry, &layer.digest, &mut dir_times)?;
    }

    // The tar may end before the stream does (padding); the diff ID covers every byte.
    let mut reader = archive.into_inner();
    io::copy(&mut reader, &mut io::sink()).map_err(ImageError::io("read layer", blob))?;
    let actual = reader.digest();
    if actual != layer.diff_id {
        return Err(ImageError::DiffIdMismatch {
            layer: layer.digest.clone(),
            expected: layer.diff_id.clone(),
            actual,
        });
    }

    // Directory times last: creating their children changed them.
    for (path, mtime) in dir_times {
        set_mtime(&path, mtime)?;
    }
    Ok(())
}

/// Picks the decompressor from the stream's magic bytes, so media types that lie (or Docker
/// archives that do not say) still work.
fn decompress(mut reader: BufReader<File>) -> io::Result<Box<dyn Read>> {
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let decoder = ruzstd::decoding::StreamingDecoder::new(reader)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Box::new(decoder))
    } else {
        Ok(Box::new(reader))
    }
}

/// Writes one tar entry below `root`.
fn apply_entry<R: Read>(
    root: &Path,
    entry: &mut tar::Entry<'_, R>,
    layer: &str,
    dir_times: &mut Vec<(PathBuf, u64)>,
) -> Result<(), ImageError> {
    let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    let header = entry.header().clone();
    let kind = header.entry_type();
    if !is_supported(kind) {
        debug!(?kind, entry = raw, "skipping tar entry of unsupported type");
        return Ok(());
    }
    let unsafe_path = |reason| ImageError::UnsafeLayerPath {
        layer: layer.to_owned(),
        entry: raw.clone(),
        reason,
    };
    let relative = sanitize(&raw).map_err(unsafe_path)?;
    let Some(name) = relative
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    else {
        return Ok(()); // the layer root itself
    };
    let parent = prepare_parents(root, &relative).map_err(|e| match e {
        ParentError::Symlink => unsafe_path("a parent directory is a symlink"),
        ParentError::NotDir => unsafe_path("a parent path is not a directory"),
        ParentError::Io(source) => ImageError::Io {
            action: "create parent directories of",
            path: root.join(&relative),
            source,
        },
    })?;

    if name == OPAQUE_MARKER {
        return rustix::fs::lsetxattr(&parent, OPAQUE_XATTR, b"y", XattrFlags::empty())
            .map_err(|e| ImageError::io("mark opaque", &parent)(e.into()));
    }
    if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
        if hidden.is_empty() || hidden == "." || hidden == ".." {
            return Err(unsafe_path("whiteout of an invalid name"));
        }
        let target = parent.join(hidden);
        remove_existing(&target, false)?;
        return make_node(&target, FileType::CharacterDevice, 0, 0);
    }

    let path = root.join(&relative);
    remove_existing(&path, kind.is_dir())?;
    write_node(root, entry, &path, &header, layer, &raw)?;
    apply_metadata(entry, &path, &header, dir_times)
}

fn write_node<R: Read>(
    root: &Path,
    entry: &mut tar::Entry<'_, R>,
    path: &Path,
    header: &tar::Header,
    layer: &str,
    raw: &str,
) -> Result<(), ImageError> {
    let kind = header.entry_type();
    let link_target = || -> Result<PathBuf, ImageError> {
        let target = entry_link(header).ok_or_else(|| ImageError::UnsafeLayerPath {
            layer: layer.to_owned(),
            entry: raw.to_owned(),
            reason: "link without a target",
        })?;
        Ok(target)
    };
    let major = header.device_major().ok().flatten().unwrap_or(0);
    let minor = header.device_minor().ok().flatten().unwrap_or(0);
    match kind {
        tar::EntryType::Directory if !path.is_dir() => {
            fs::create_dir(path).map_err(ImageError::io("create directory", path))?;
        }
        tar::EntryType::Symlink => {
            symlink(link_target()?, path).map_err(ImageError::io("create symlink", path))?;
        }
        tar::EntryType::Link => {
            let target = link_target()?.to_string_lossy().into_owned();
            let relative = sanitize(&target).map_err(|reason| ImageError::UnsafeLayerPath {
                layer: layer.to_owned(),
                entry: raw.to_owned(),
                reason,
            })?;
            // linkat follows symlinks in the target's parents: refuse those like for entries.
            prepare_parents(root, &relative).map_err(|_| ImageError::UnsafeLayerPath {
                layer: layer.to_owned(),
                entry: raw.to_owned(),
                reason: "hard link target goes through a symlink or a missing directory",
            })?;
            let source = root.join(relative);
            fs::hard_link(&source, path).map_err(ImageError::io("create hard link", path))?;
        }
        tar::EntryType::Char => make_node(path, FileType::CharacterDevice, major, minor)?,
        tar::EntryType::Block => make_node(path, FileType::BlockDevice, major, minor)?,
        tar::EntryType::Fifo => make_node(path, FileType::Fifo, 0, 0)?,
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            let mut file = File::options()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(ImageError::io("create file", path))?;
            io::copy(entry, &mut file).map_err(ImageError::io("write file", path))?;
        }
        _ => {}
    }
    Ok(())
}

/// Ownership, mode, xattrs and times. chown comes before chmod: it clears set-id bits.
fn apply_metadata<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    path: &Path,
    header: &tar::Header,
    dir_times: &mut Vec<(PathBuf, u64)>,
) -> Result<(), ImageError> {
    let kind = header.entry_type();
    if kind.is_hard_link() {
        return Ok(()); // shares the target's inode, and so its metadata
    }
    let uid = header.uid().ok().and_then(|u| u32::try_from(u).ok());
    let gid = header.gid().ok().and_then(|g| u32::try_from(g).ok());
    lchown(path, uid, gid).map_err(ImageError::io("chown", path))?;
    if !kind.is_symlink() {
        let mode = header
            .mode()
            .map_err(ImageError::io("read mode of", path))?
            & 0o7777;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(ImageError::io("chmod", path))?;
    }

    if let Ok(Some(extensions)) = entry.pax_extensions() {
        for extension in extensions.flatten() {
            let Ok(key) = extension.key() else { continue };
            if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                rustix::fs::lsetxattr(path, name, extension.value_bytes(), XattrFlags::empty())
                    .map_err(|e| ImageError::io("set xattr on", path)(e.into()))?;
            }
        }
    }

    let mtime = header.mtime().unwrap_or(0);
    if kind.is_dir() {
        dir_times.push((path.to_owned(), mtime));
        Ok(())
    } else {
        set_mtime(path, mtime)
    }
}

/// Entry types that make a node; others (pax global headers, GNU sparse or volume headers)
/// are skipped before anything on disk changes.
fn is_supported(kind: tar::EntryType) -> bool {
    use tar::EntryType::{Block, Char, Continuous, Directory, Fifo, Link, Regular, Symlink};
    matches!(
        kind,
        Regular | Continuous | Directory | Symlink | Link | Char | Block | Fifo
    )
}

fn entry_link(header: &tar::Header) -> Option<PathBuf> {
    header.link_name().ok().flatten().map(|l| l.into_owned())
}

/// Turns a tar path into a relative path with no `..`, so it cannot leave the layer.
fn sanitize(raw: &str) -> Result<PathBuf, &'static str> {
    let mut clean = PathBuf::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir => return Err("path contains '..'"),
            Component::Prefix(_) => return Err("path has a prefix"),
        }
    }
    Ok(clean)
}

enum ParentError {
    Symlink,
    NotDir,
    Io(io::Error),
}

/// Makes sure every parent of `relative` is a real directory below `root` (creating missing
/// ones), never a symlink: following one could write outside the layer.
fn prepare_parents(root: &Path, relative: &Path) -> Result<PathBuf, ParentError> {
    let mut current = root.to_path_buf();
    let Some(parent) = relative.parent() else {
        return Ok(current);
    };
    for part in parent.components() {
        current.push(part);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(ParentError::Symlink),
            Ok(meta) if !meta.is_dir() => return Err(ParentError::NotDir),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&current).map_err(ParentError::Io)?;
                fs::set_permissions(&current, fs::Permissions::from_mode(0o755))
                    .map_err(ParentError::Io)?;
            }
            Err(e) => return Err(ParentError::Io(e)),
        }
    }
    Ok(current)
}

/// Clears the way for a new entry; a directory stays when the new entry is one too.
fn remove_existing(path: &Path, keep_dir: bool) -> Result<(), ImageError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() && keep_dir => Ok(()),
        Ok(meta) if meta.is_dir() => {
            fs::remove_dir_all(path).map_err(ImageError::io("replace directory", path))
        }
        Ok(_) => fs::remove_file(path).map_err(ImageError::io("replace file", path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ImageError::io("inspect", path)(e)),
    }
}

fn make_node(path: &Path, kind: FileType, major: u32, minor: u32) -> Result<(), ImageError> {
    let dev = rustix::fs::makedev(major, minor);
    rustix::fs::mknodat(CWD, path, kind, Mode::empty(), dev)
        .map_err(|e| ImageError::io("create device node", path)(e.into()))
}

fn set_mtime(path: &Path, mtime: u64) -> Result<(), ImageError> {
    let time = Timespec {
        tv_sec: i64::try_from(mtime).unwrap_or(i64::MAX),
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: time,
        last_modification: time,
    };
    rustix::fs::utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| ImageError::io("set times of", path)(e.into()))
}

/// Hashes everything read through it: the diff ID of the uncompressed tar.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn digest(&self) -> String {
        format_digest(self.hasher.clone().finalize().as_slice())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_dot_dot_are_refused_and_absolute_ones_made_relative() {
        assert_eq!(
            sanitize("/etc/passwd").unwrap(),
            PathBuf::from("etc/passwd")
        );
        assert_eq!(sanitize("./a/./b").unwrap(), PathBuf::from("a/b"));
        assert!(sanitize("a/../../etc").is_err());
    }
}
