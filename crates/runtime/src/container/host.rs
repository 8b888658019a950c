//! What this host offers for running containers: the OCI runtimes, the monitor, the tools
//! around them and the cgroup layout.

use std::path::{Path, PathBuf};

use super::ContainerError;
use super::cgroups::CgroupLayout;
use super::oci_runtime::Runtime;

/// Directories searched besides `PATH` (runc lives in /usr/sbin, often not on a user's PATH).
const SYSTEM_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// A binary skiff runs, with the Debian package that ships it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// The crun OCI runtime.
    Crun,
    /// The runc OCI runtime.
    Runc,
    /// The conmon container monitor.
    Conmon,
    /// util-linux's unshare, for crun on a hybrid cgroup host.
    Unshare,
}

impl Binary {
    /// The executable's name.
    pub fn name(self) -> &'static str {
        match self {
            Binary::Crun => "crun",
            Binary::Runc => "runc",
            Binary::Conmon => "conmon",
            Binary::Unshare => "unshare",
        }
    }

    /// The Debian package that installs it.
    pub fn package(self) -> &'static str {
        match self {
            Binary::Crun => "crun",
            Binary::Runc => "runc",
            Binary::Conmon => "conmon",
            Binary::Unshare => "util-linux",
        }
    }
}

/// The result of probing the host.
#[derive(Clone, Debug)]
pub struct HostProbe {
    /// Path of crun, if installed.
    pub crun: Option<PathBuf>,
    /// Path of runc, if installed.
    pub runc: Option<PathBuf>,
    /// Path of conmon, if installed.
    pub conmon: Option<PathBuf>,
    /// Path of unshare, if installed.
    pub unshare: Option<PathBuf>,
    /// The cgroup layout, `None` when no cgroup file system is mounted.
    pub cgroups: Option<CgroupLayout>,
    /// Whether this process runs as root (needed for mounts and cgroups).
    pub is_root: bool,
}

impl HostProbe {
    /// Looks for the binaries on `PATH` and in the system directories, and reads the cgroup
    /// layout.
    pub fn detect() -> Self {
        Self {
            crun: find_binary(Binary::Crun.name()),
            runc: find_binary(Binary::Runc.name()),
            conmon: find_binary(Binary::Conmon.name()),
            unshare: find_binary(Binary::Unshare.name()),
            cgroups: CgroupLayout::detect().ok(),
            is_root: rustix::process::geteuid().is_root(),
        }
    }

    /// The path of `binary`, or an error naming it and its package.
    pub fn require(&self, binary: Binary) -> Result<PathBuf, ContainerError> {
        let found = match binary {
            Binary::Crun => &self.crun,
            Binary::Runc => &self.runc,
            Binary::Conmon => &self.conmon,
            Binary::Unshare => &self.unshare,
        };
        found.clone().ok_or(ContainerError::MissingBinary {
            binary: binary.name(),
            package: binary.package(),
        })
    }

    /// The runtime of that kind as installed here.
    pub fn runtime(&self, binary: Binary) -> Result<Runtime, ContainerError> {
        match binary {
            Binary::Crun => Ok(Runtime::Crun {
                path: self.require(binary)?,
            }),
            Binary::Runc => Ok(Runtime::Runc {
                path: self.require(binary)?,
            }),
            other => Err(ContainerError::MissingBinary {
                binary: other.name(),
                package: other.package(),
            }),
        }
    }

    /// Every missing piece needed to run containers with both runtimes, as errors.
    pub fn missing(&self) -> Vec<ContainerError> {
        let mut missing: Vec<ContainerError> =
            [Binary::Crun, Binary::Runc, Binary::Conmon, Binary::Unshare]
                .into_iter()
                .filter_map(|b| self.require(b).err())
                .collect();
        if self.cgroups.is_none() {
            missing.push(ContainerError::NoCgroups);
        }
        missing
    }
}

/// The first executable file named `name` on `PATH` or in the system directories.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain(SYSTEM_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_names_its_debian_package() {
        let probe = HostProbe {
            crun: None,
            runc: Some("/usr/sbin/runc".into()),
            conmon: None,
            unshare: None,
            cgroups: None,
            is_root: true,
        };
        let error = probe.require(Binary::Conmon).unwrap_err().to_string();
        assert_eq!(
            error,
            "conmon not found on this host (install the Debian package conmon)"
        );
        assert!(probe.runtime(Binary::Runc).is_ok());
        assert_eq!(probe.missing().len(), 4);
    }
}
