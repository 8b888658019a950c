//! A container's directory under the runtime root: the OCI bundle (`config.json`, `rootfs`),
//! the overlay's upper and work dirs, the monitor's pid, exit and OOM files, and skiff's own
//! record of the container. Everything a restarted agent needs lives here, none of it only
//! in memory.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ContainerError;
use super::oci_runtime::Runtime;
use super::spec::ContainerSpec;

/// skiff's record of a container, written once at creation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct ContainerRecord {
    pub spec: ContainerSpec,
    pub runtime: Runtime,
    pub cgroups_path: String,
    pub created_at: DateTime<Utc>,
}

/// Paths of one container's directory.
#[derive(Clone, Debug)]
pub(crate) struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    pub fn new(containers_dir: &Path, id: &str) -> Self {
        Self {
            dir: containers_dir.join(id),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    pub fn record(&self) -> PathBuf {
        self.dir.join("skiff.json")
    }

    pub fn container_pid_file(&self) -> PathBuf {
        self.dir.join("container.pid")
    }

    pub fn monitor_pid_file(&self) -> PathBuf {
        self.dir.join("conmon.pid")
    }

    pub fn monitor_log(&self) -> PathBuf {
        self.dir.join("conmon.log")
    }

    /// Written by the monitor (its persist dir) when the container exits: the exit code.
    pub fn exit_file(&self) -> PathBuf {
        self.dir.join("exit")
    }

    /// Created by the monitor (or by skiff from the cgroup's counter) after an OOM kill.
    pub fn oom_file(&self) -> PathBuf {
        self.dir.join("oom")
    }

    /// Holds the time `start` succeeded.
    pub fn started_file(&self) -> PathBuf {
        self.dir.join("started")
    }

    /// Creates the directory and the overlay's dirs; fails if the container exists.
    pub fn create_dirs(&self, id: &str) -> Result<(), ContainerError> {
        if let Some(parent) = self.dir.parent() {
            std::fs::create_dir_all(parent).map_err(|source| io_err("create", parent, source))?;
        }
        match std::fs::create_dir(&self.dir) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(ContainerError::AlreadyExists { id: id.into() });
            }
            Err(source) => return Err(io_err("create", &self.dir, source)),
        }
        for dir in [self.rootfs(), self.upper(), self.work()] {
            std::fs::create_dir(&dir).map_err(|source| io_err("create", &dir, source))?;
        }
        Ok(())
    }

    pub fn write_config(&self, config: &oci_spec::runtime::Spec) -> Result<(), ContainerError> {
        let json = serde_json::to_vec_pretty(config).map_err(|source| ContainerError::Json {
            path: self.config(),
            source,
        })?;
        write_atomic(&self.config(), &json)
    }

    pub fn write_record(&self, record: &ContainerRecord) -> Result<(), ContainerError> {
        let json = serde_json::to_vec_pretty(record).map_err(|source| ContainerError::Json {
            path: self.record(),
            source,
        })?;
        write_atomic(&self.record(), &json)
    }

    pub fn read_record(&self) -> Result<ContainerRecord, ContainerError> {
        let path = self.record();
        let bytes = std::fs::read(&path).map_err(|source| io_err("read", &path, source))?;
        serde_json::from_slice(&bytes).map_err(|source| ContainerError::Json { path, source })
    }

    pub fn mark_started(&self) -> Result<(), ContainerError> {
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        write_atomic(&self.started_file(), now.as_bytes())
    }

    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        let text = std::fs::read_to_string(self.started_file()).ok()?;
        DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The exit code and the time the monitor recorded it, once the container has exited.
    pub fn exit(&self) -> Option<(i32, DateTime<Utc>)> {
        let path = self.exit_file();
        let text = std::fs::read_to_string(&path).ok()?;
        let code = text.trim().parse().ok()?;
        let finished = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .unwrap_or_else(|_| SystemTime::now());
        Some((code, finished.into()))
    }

    pub fn read_pid(path: &Path) -> Option<i32> {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    }
}

pub(crate) fn io_err(action: &'static str, path: &Path, source: std::io::Error) -> ContainerError {
    ContainerError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ContainerError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|source| io_err("write", &tmp, source))?;
    std::fs::rename(&tmp, path).map_err(|source| io_err("rename", path, source))
}
