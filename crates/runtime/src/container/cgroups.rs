//! The host's cgroup layout (pure v2, or v1 hierarchies with an optional v2 mount beside
//! them) and the few cgroup files skiff reads or cleans up itself. Limits are written by the
//! OCI runtime (cgroupfs driver), not here.

use std::fmt;
use std::path::{Path, PathBuf};

use super::ContainerError;

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// How cgroups are mounted on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupLayout {
    /// cgroup v2 only, mounted at `mount` (normally `/sys/fs/cgroup`).
    Unified {
        /// The cgroup2 mount point.
        mount: PathBuf,
    },
    /// cgroup v1 hierarchies, possibly with a cgroup2 mount beside them (hybrid).
    Legacy {
        /// One entry per v1 hierarchy.
        hierarchies: Vec<Hierarchy>,
        /// The cgroup2 mount of a hybrid host (normally `/sys/fs/cgroup/unified`).
        unified: Option<PathBuf>,
    },
}

/// One cgroup v1 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// Mount point, for example `/sys/fs/cgroup/memory`.
    pub mount: PathBuf,
    /// Controllers attached to it (`name=systemd` for a named hierarchy).
    pub controllers: Vec<String>,
}

impl fmt::Display for CgroupLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CgroupLayout::Unified { mount } => write!(f, "cgroup v2 at {}", mount.display()),
            CgroupLayout::Legacy {
                hierarchies,
                unified: Some(unified),
            } => write!(
                f,
                "cgroup v1 ({} hierarchies) + v2 at {} (hybrid)",
                hierarchies.len(),
                unified.display()
            ),
            CgroupLayout::Legacy { hierarchies, .. } => {
                write!(f, "cgroup v1 ({} hierarchies)", hierarchies.len())
            }
        }
    }
}

impl CgroupLayout {
    /// Reads the layout from `/proc/self/mountinfo`.
    pub fn detect() -> Result<Self, ContainerError> {
        let text = std::fs::read_to_string(MOUNTINFO).map_err(|source| ContainerError::Io {
            action: "read",
            path: MOUNTINFO.into(),
            source,
        })?;
        Self::from_mountinfo(&text).ok_or(ContainerError::NoCgroups)
    }

    /// Parses a mountinfo table; `None` when it holds no cgroup mount.
    pub fn from_mountinfo(text: &str) -> Option<Self> {
        let mut hierarchies = Vec::new();
        let mut unified = None;
        for line in text.lines() {
            let Some((before, after)) = line.split_once(" - ") else {
                continue;
            };
            let mount_point = before.split(' ').nth(4)?;
            let mut after = after.split(' ');
            let fs_type = after.next()?;
            let super_options = after.nth(1).unwrap_or("");
            match fs_type {
                "cgroup2" => unified = Some(PathBuf::from(mount_point)),
                "cgroup" => hierarchies.push(Hierarchy {
                    mount: mount_point.into(),
                    controllers: super_options
                        .split(',')
                        .filter(|o| !matches!(*o, "rw" | "ro") && !o.starts_with("release_agent"))
                        .map(str::to_string)
                        .collect(),
                }),
                _ => {}
            }
        }
        match (hierarchies.is_empty(), unified) {
            (true, Some(mount)) => Some(CgroupLayout::Unified { mount }),
            (true, None) => None,
            (false, unified) => Some(CgroupLayout::Legacy {
                hierarchies,
                unified,
            }),
        }
    }

    /// The cgroup2 mount of a hybrid host when it holds controllers: crun 1.8 refuses to
    /// create containers there unless that mount is hidden from it.
    pub fn hybrid_unified_with_controllers(&self) -> Option<&Path> {
        match self {
            CgroupLayout::Legacy {
                unified: Some(unified),
                ..
            } => {
                let controllers =
                    std::fs::read_to_string(unified.join("cgroup.controllers")).unwrap_or_default();
                (!controllers.trim().is_empty()).then_some(unified.as_path())
            }
            _ => None,
        }
    }

    /// Every directory a cgroup path (relative to the hierarchy roots) maps to.
    pub fn dirs(&self, cgroup_path: &str) -> Vec<PathBuf> {
        let relative = cgroup_path.trim_start_matches('/');
        match self {
            CgroupLayout::Unified { mount } => vec![mount.join(relative)],
            CgroupLayout::Legacy {
                hierarchies,
                unified,
            } => hierarchies
                .iter()
                .map(|h| &h.mount)
                .chain(unified)
                .map(|mount| mount.join(relative))
                .collect(),
        }
    }

    /// The directory of `cgroup_path` that holds `controller`'s files.
    pub fn controller_dir(&self, controller: &str, cgroup_path: &str) -> Option<PathBuf> {
        let relative = cgroup_path.trim_start_matches('/');
        match self {
            CgroupLayout::Unified { mount } => Some(mount.join(relative)),
            CgroupLayout::Legacy { hierarchies, .. } => hierarchies
                .iter()
                .find(|h| h.controllers.iter().any(|c| c == controller))
                .map(|h| h.mount.join(relative)),
        }
    }

    /// The CPU quota and period (microseconds) applied to a cgroup; quota `None` is
    /// unlimited.
    pub fn cpu_quota(&self, cgroup_path: &str) -> Result<(Option<i64>, u64), ContainerError> {
        let dir = self
            .controller_dir("cpu", cgroup_path)
            .ok_or(ContainerError::NoCgroups)?;
        if matches!(self, CgroupLayout::Unified { .. }) {
            let text = read_trimmed(&dir.join("cpu.max"))?;
            let (quota, period) = text.split_once(' ').unwrap_or((text.as_str(), "100000"));
            return Ok((quota.parse().ok(), period.parse().unwrap_or(100_000)));
        }
        let quota: i64 = read_trimmed(&dir.join("cpu.cfs_quota_us"))?
            .parse()
            .unwrap_or(-1);
        let period = read_trimmed(&dir.join("cpu.cfs_period_us"))?
            .parse()
            .unwrap_or(100_000);
        Ok(((quota >= 0).then_some(quota), period))
    }

    /// How many times the OOM killer acted in the cgroup; `None` when the cgroup or the
    /// counter is missing.
    pub fn oom_kills(&self, cgroup_path: &str) -> Option<u64> {
        let dir = self.controller_dir("memory", cgroup_path)?;
        let file = match self {
            CgroupLayout::Unified { .. } => dir.join("memory.events"),
            CgroupLayout::Legacy { .. } => dir.join("memory.oom_control"),
        };
        let text = std::fs::read_to_string(file).ok()?;
        text.lines()
            .find_map(|line| line.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
    }

    /// Removes the cgroup and any child cgroups left behind (the runtime removes a
    /// container's own cgroup on delete; parents and leftovers of crashes stay otherwise).
    /// Fails when a process still lives in one of them.
    pub fn remove(&self, cgroup_path: &str) -> Result<(), ContainerError> {
        if cgroup_path.trim_matches('/').is_empty() {
            return Ok(());
        }
        for dir in self.dirs(cgroup_path) {
            remove_tree(&dir)?;
        }
        Ok(())
    }
}

fn remove_tree(dir: &Path) -> Result<(), ContainerError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ContainerError::Io {
                action: "list cgroup",
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }

    // A cgroup directory is removed with rmdir even though it lists files.
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ContainerError::Io {
            action: "remove cgroup",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

fn read_trimmed(path: &Path) -> Result<String, ContainerError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| ContainerError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_mountinfo_gives_v1_hierarchies_and_the_v2_mount() {
        let layout = CgroupLayout::from_mountinfo(HYBRID).unwrap();
        let CgroupLayout::Legacy {
            hierarchies,
            unified,
        } = &layout
        else {
            panic!("{layout:?}");
        };
        assert_eq!(hierarchies.len(), 3);
        assert_eq!(
            unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup/unified"))
        );
        assert_eq!(
            layout.controller_dir("cpu", "/skiff/c1").unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/skiff/c1")
        );
        assert_eq!(layout.dirs("/skiff/c1").len(), 4);
    }

    #[test]
    fn pure_v2_mountinfo_is_unified() {
        let text = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            CgroupLayout::from_mountinfo(text),
            Some(CgroupLayout::Unified {
                mount: "/sys/fs/cgroup".into()
            })
        );
    }
}
