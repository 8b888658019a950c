//! A container's root filesystem: an overlay of the image's read-only layers with a
//! per-container upper and work directory.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags};

use super::ContainerError;

/// Mounts an overlay of `lower_dirs` (top-most first) with `upper` and `work` at `target`.
pub(crate) fn mount_overlay(
    lower_dirs: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<(), ContainerError> {
    let lower = lower_dirs
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let options = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    let mount_err = |errno: Errno| ContainerError::Mount {
        path: target.to_path_buf(),
        detail: format!("overlay {options}"),
        source: std::io::Error::from(errno),
    };
    let data = CString::new(options.clone()).map_err(|_| ContainerError::Mount {
        path: target.to_path_buf(),
        detail: "overlay options hold a NUL byte".into(),
        source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
    })?;
    rustix::mount::mount(
        "overlay",
        target,
        "overlay",
        MountFlags::NODEV,
        Some(data.as_c_str()),
    )
    .map_err(mount_err)
}

/// Unmounts `target` if something is mounted there; a busy mount is detached lazily.
pub(crate) fn unmount(target: &Path) -> Result<(), ContainerError> {
    match rustix::mount::unmount(target, UnmountFlags::empty()) {
        Ok(()) | Err(Errno::INVAL) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::BUSY) => rustix::mount::unmount(target, UnmountFlags::DETACH).map_err(|e| {
            ContainerError::Mount {
                path: target.to_path_buf(),
                detail: "lazy unmount".into(),
                source: e.into(),
            }
        }),
        Err(errno) => Err(ContainerError::Mount {
            path: target.to_path_buf(),
            detail: "unmount".into(),
            source: errno.into(),
        }),
    }
}

/// Every mount point at or below `dir`, from this process' mount table.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .filter(|point| point.starts_with(dir))
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/a\040b/c"), "/a b/c");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }
}
