//! Containers: OCI bundles run by an OCI runtime CLI under a per-container monitor.
//!
//! [`ContainerRuntime`] is the facade the node agent calls. A container lives in a
//! directory under the runtime root (`containers/<id>`): the OCI bundle with its overlay
//! root filesystem, skiff's record of the spec, and the monitor's (conmon's) pid, exit and
//! OOM files. Nothing is kept only in memory, so a restarted agent lists and adopts the
//! containers a previous one started. Calls block (they run the runtime CLI); an async
//! caller runs them on a blocking thread.
//!
//! Layout under the root: `containers/<id>/` (bundle), `exits/<id>` (exit codes),
//! `sockets/<id>` (attach sockets), `oci/<crun|runc>/` (the runtime's own `--root`),
//! `bin/` (the crun wrapper of hybrid cgroup hosts).

mod bundle;
pub mod cgroups;
pub mod host;
pub mod logs;
mod monitor;
pub mod oci_runtime;
pub mod rootfs;
pub mod spec;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use bundle::{Bundle, ContainerRecord, io_err};
pub use cgroups::CgroupLayout;
pub use host::{Binary, HostProbe};
pub use logs::{LogLine, LogReader, LogStream};
pub use oci_runtime::{ExecOutput, OciRuntime, Runtime};
pub use spec::{CapabilityChanges, ContainerSpec, MountSpec, Resources, UserSpec};

/// SIGTERM's number, for [`ContainerRuntime::kill`].
pub const SIGTERM: i32 = 15;
/// SIGKILL's number, for [`ContainerRuntime::kill`].
pub const SIGKILL: i32 = 9;

/// How long a SIGKILLed container may take to be reaped before stop gives up.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the monitor may take to exit after its container.
const MONITOR_EXIT_TIMEOUT: Duration = Duration::from_secs(5);
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Serializes writing the crun wrapper, which concurrent creates may all want.
static WRAPPER_LOCK: Mutex<()> = Mutex::new(());

/// Errors of the container runtime.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The container spec cannot be run.
    #[error("invalid spec for container {id}: {reason}")]
    InvalidSpec {
        /// Container id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The runtime configuration is unusable.
    #[error("invalid container runtime configuration: {reason}")]
    InvalidConfig {
        /// What is wrong.
        reason: String,
    },
    /// oci-spec refused to build the config.
    #[error("failed to build the OCI config of container {id}")]
    OciSpec {
        /// Container id.
        id: String,
        /// The builder's error.
        #[source]
        source: oci_spec::OciSpecError,
    },
    /// A file operation failed.
    #[error("failed to {action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file could not be written or read.
    #[error("failed to encode or decode {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A mount or unmount failed.
    #[error("failed to mount or unmount {path} ({detail})")]
    Mount {
        /// The mount point.
        path: PathBuf,
        /// The operation and options.
        detail: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A command could not be run at all.
    #[error("failed to run {command}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The OCI runtime failed; its stderr says why.
    #[error("`{command}` failed for container {id}: {stderr}")]
    Runtime {
        /// Container id.
        id: String,
        /// The runtime command.
        command: String,
        /// The runtime's stderr.
        stderr: String,
    },
    /// The monitor (conmon) failed.
    #[error("monitor of container {id} failed: {reason}")]
    Monitor {
        /// Container id.
        id: String,
        /// What went wrong, with conmon's own output when there is some.
        reason: String,
    },
    /// Something took too long.
    #[error("container {id}: timed out waiting for {what}")]
    Timeout {
        /// Container id.
        id: String,
        /// What was awaited.
        what: String,
    },
    /// No such container under the runtime root.
    #[error("container {id} not found")]
    NotFound {
        /// Container id.
        id: String,
    },
    /// A container with this id exists already.
    #[error("container {id} already exists")]
    AlreadyExists {
        /// Container id.
        id: String,
    },
    /// The operation does not apply to the container's state.
    #[error("cannot {action} container {id}: it is {state}")]
    InvalidState {
        /// Container id.
        id: String,
        /// Its state.
        state: ContainerState,
        /// The refused operation.
        action: &'static str,
    },
    /// A binary skiff needs is not installed.
    #[error("{binary} not found on this host (install the Debian package {package})")]
    MissingBinary {
        /// The executable.
        binary: &'static str,
        /// The Debian package shipping it.
        package: &'static str,
    },
    /// No cgroup file system is mounted.
    #[error("no cgroup file system is mounted (looked in /proc/self/mountinfo)")]
    NoCgroups,
}

/// Where a container is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerState {
    /// Created by the runtime, process not started yet.
    Created,
    /// Its process runs.
    Running,
    /// Its process ended; the exit code is known.
    Exited,
    /// The monitor is gone without recording an exit: the container's fate is unknown.
    Unknown,
}

impl std::fmt::Display for ContainerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Exited => "exited",
            ContainerState::Unknown => "unknown",
        })
    }
}

/// A container's status, read from the files under the runtime root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerStatus {
    /// Container id.
    pub id: String,
    /// Its state.
    pub state: ContainerState,
    /// Host PID of its init process while it runs.
    pub pid: Option<i32>,
    /// PID of its monitor while that runs.
    pub monitor_pid: Option<i32>,
    /// Exit code once exited (128 + signal number when a signal ended it).
    pub exit_code: Option<i32>,
    /// Whether the OOM killer acted in the container's cgroup.
    pub oom_killed: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its process was started.
    pub started_at: Option<DateTime<Utc>>,
    /// When its exit was recorded.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its CRI log file.
    pub log_path: PathBuf,
    /// The runtime running it.
    pub runtime: Runtime,
    /// Its cgroup path, relative to the hierarchy roots.
    pub cgroups_path: String,
}

/// Where the container runtime keeps its state and which binaries it runs.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Absolute directory for all container state (for example `/var/lib/skiff/containers`).
    pub root: PathBuf,
    /// The runtime of containers whose spec names none.
    pub default_runtime: Runtime,
    /// The conmon binary.
    pub conmon: PathBuf,
    /// The unshare binary (crun on hybrid cgroup hosts); found on the host when unset.
    pub unshare: Option<PathBuf>,
}

impl RuntimeConfig {
    /// A configuration with the host's binaries: crun if installed, else runc.
    pub fn detect(root: impl Into<PathBuf>) -> Result<Self, ContainerError> {
        let host = HostProbe::detect();
        let default_runtime = host
            .runtime(Binary::Crun)
            .or_else(|_| host.runtime(Binary::Runc))?;
        Ok(Self {
            root: root.into(),
            default_runtime,
            conmon: host.require(Binary::Conmon)?,
            unshare: host.unshare.clone(),
        })
    }
}

/// Runs containers: the facade over bundles, overlay rootfs, the OCI runtime and conmon.
#[derive(Debug)]
pub struct ContainerRuntime {
    config: RuntimeConfig,
    layout: CgroupLayout,
}

impl ContainerRuntime {
    /// Opens (creating if needed) the runtime root. Containers already there, from an
    /// earlier agent, are visible at once through [`ContainerRuntime::list`].
    pub fn new(config: RuntimeConfig) -> Result<Self, ContainerError> {
        if !config.root.is_absolute() {
            return Err(ContainerError::InvalidConfig {
                reason: format!("root {} must be absolute", config.root.display()),
            });
        }
        let required = [
            (config.conmon.as_path(), Binary::Conmon),
            (
                config.default_runtime.path(),
                config.default_runtime.binary(),
            ),
        ];
        for (path, binary) in required {
            if !path.exists() {
                return Err(ContainerError::MissingBinary {
                    binary: binary.name(),
                    package: binary.package(),
                });
            }
        }
        let layout = CgroupLayout::detect()?;
        let runtime = Self { config, layout };
        for dir in [
            runtime.containers_dir(),
            runtime.exits_dir(),
            runtime.sockets_dir(),
        ] {
            std::fs::create_dir_all(&dir).map_err(|source| io_err("create", &dir, source))?;
        }
        tracing::debug!(root = %runtime.config.root.display(), cgroups = %runtime.layout,
            "container runtime opened");
        Ok(runtime)
    }

    /// The host's cgroup layout.
    pub fn cgroup_layout(&self) -> &CgroupLayout {
        &self.layout
    }

    /// The runtime root.
    pub fn root(&self) -> &Path {
        &self.config.root
    }

    /// The directory holding a container's bundle, overlay dirs and monitor files.
    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    /// Creates a container: bundle, overlay rootfs, and the runtime's `create` under a
    /// freshly launched monitor. The process is not started yet.
    pub fn create(&self, spec: &ContainerSpec) -> Result<ContainerStatus, ContainerError> {
        spec.validate()?;
        let id = spec.id.as_str();
        let runtime = spec
            .runtime
            .clone()
            .unwrap_or_else(|| self.config.default_runtime.clone());
        let bundle = Bundle::new(&self.containers_dir(), id);
        bundle.create_dirs(id)?;
        let record = ContainerRecord {
            spec: spec.clone(),
            runtime: runtime.clone(),
            cgroups_path: spec.cgroups_path(),
            created_at: Utc::now(),
        };
        let created = self.prepare_and_launch(spec, &record, &bundle);
        if let Err(error) = created {
            self.discard(id, &bundle, &runtime);
            return Err(error);
        }
        tracing::info!(
            container = id,
            runtime = runtime.name(),
            "container created"
        );
        self.read_status(id, false)
    }

    /// Starts a created container's process.
    pub fn start(&self, id: &str) -> Result<(), ContainerError> {
        let (bundle, record) = self.open(id)?;

        // Only the cheap checks: the runtime itself refuses a container that is not created.
        // The monitor is read before the exit file it writes before exiting (see status).
        let monitor_pid = monitor::monitor_pid(&bundle, id);
        let state = match (bundle.exit(), monitor_pid) {
            (Some(_), _) => Some(ContainerState::Exited),
            (None, None) => Some(ContainerState::Unknown),
            _ if bundle.started_file().exists() => Some(ContainerState::Running),
            _ => None,
        };
        if let Some(state) = state {
            return Err(ContainerError::InvalidState {
                id: id.into(),
                state,
                action: "start",
            });
        }
        self.oci(&record.runtime).start(id)?;
        bundle.mark_started()?;
        tracing::info!(container = id, "container started");
        Ok(())
    }

    /// Creates and starts a container.
    pub fn run(&self, spec: &ContainerSpec) -> Result<ContainerStatus, ContainerError> {
        self.create(spec)?;
        self.start(&spec.id)?;
        self.status(&spec.id)
    }

    /// The container's status, from its files.
    pub fn status(&self, id: &str) -> Result<ContainerStatus, ContainerError> {
        self.read_status(id, true)
    }

    /// The status; `probe_runtime` asks the runtime about a container without a start
    /// marker (skipped right after create, when it cannot have started).
    fn read_status(
        &self,
        id: &str,
        probe_runtime: bool,
    ) -> Result<ContainerStatus, ContainerError> {
        let (bundle, record) = self.open(id)?;

        // The monitor writes the exit file before it exits: reading in the other order could
        // take a container that just exited for one whose monitor vanished.
        let monitor_pid = monitor::monitor_pid(&bundle, id);
        let exit = bundle.exit();
        let state = match (&exit, monitor_pid) {
            (Some(_), _) => ContainerState::Exited,
            (None, Some(_)) if bundle.started_file().exists() => ContainerState::Running,
            (None, Some(_)) if probe_runtime => self.created_or_running(&bundle, &record)?,
            (None, Some(_)) => ContainerState::Created,
            (None, None) => ContainerState::Unknown,
        };
        let pid = match state {
            ContainerState::Created | ContainerState::Running => {
                Bundle::read_pid(&bundle.container_pid_file())
            }
            _ => None,
        };
        Ok(ContainerStatus {
            id: id.into(),
            state,
            pid,
            monitor_pid,
            exit_code: exit.map(|(code, _)| code),
            oom_killed: exit.is_some() && self.oom_killed(&bundle, &record),
            created_at: record.created_at,
            started_at: bundle.started_at(),
            finished_at: exit.map(|(_, at)| at),
            log_path: record.spec.log_path,
            runtime: record.runtime,
            cgroups_path: record.cgroups_path,
        })
    }

    /// The spec a container was created from.
    pub fn spec(&self, id: &str) -> Result<ContainerSpec, ContainerError> {
        self.open(id).map(|(_, record)| record.spec)
    }

    /// Every container under the runtime root, whoever started it.
    pub fn list(&self) -> Result<Vec<ContainerStatus>, ContainerError> {
        let dir = self.containers_dir();
        let entries = std::fs::read_dir(&dir).map_err(|source| io_err("list", &dir, source))?;
        let mut statuses = Vec::new();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            match self.status(&id) {
                Ok(status) => statuses.push(status),
                // A container being created or removed right now has no record yet or anymore.
                Err(error) => tracing::debug!(container = %id, %error, "skipping container"),
            }
        }
        statuses.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(statuses)
    }

    /// Sends a signal to the container's init process.
    pub fn kill(&self, id: &str, signal: i32) -> Result<(), ContainerError> {
        let (_, record) = self.open(id)?;
        self.oci(&record.runtime).kill(id, signal, false)
    }

    /// Stops a container: SIGTERM, then SIGKILL once `grace` has passed (a shell or busybox
    /// as PID 1 ignores SIGTERM). Returns the final status.
    pub fn stop(&self, id: &str, grace: Duration) -> Result<ContainerStatus, ContainerError> {
        let status = self.status(id)?;
        if !matches!(
            status.state,
            ContainerState::Running | ContainerState::Created
        ) {
            return Ok(status);
        }
        if let Err(error) = self.kill(id, SIGTERM) {
            if self.status(id)?.state == ContainerState::Exited {
                return self.status(id);
            }
            return Err(error);
        }
        let status = self.wait(id, grace)?;
        if status.state == ContainerState::Exited {
            tracing::info!(container = id, exit_code = ?status.exit_code, "container stopped");
            return Ok(status);
        }
        tracing::debug!(
            container = id,
            ?grace,
            "grace period over, killing container"
        );
        if let Err(error) = self.kill(id, SIGKILL)
            && self.status(id)?.state != ContainerState::Exited
        {
            return Err(error);
        }
        let status = self.wait(id, KILL_TIMEOUT)?;
        if status.state != ContainerState::Exited {
            return Err(ContainerError::Timeout {
                id: id.into(),
                what: "exit after SIGKILL".into(),
            });
        }
        tracing::info!(container = id, exit_code = ?status.exit_code, "container killed");
        Ok(status)
    }

    /// Waits until the container has exited (or its monitor vanished) or `timeout` passed;
    /// returns the status then.
    pub fn wait(&self, id: &str, timeout: Duration) -> Result<ContainerStatus, ContainerError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let status = self.status(id)?;
            let done = matches!(
                status.state,
                ContainerState::Exited | ContainerState::Unknown
            );
            if done || std::time::Instant::now() >= deadline {
                return Ok(status);
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Runs a command in the running container, capturing its output and exit code.
    pub fn exec(
        &self,
        id: &str,
        args: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, ContainerError> {
        let status = self.status(id)?;
        if status.state != ContainerState::Running {
            return Err(ContainerError::InvalidState {
                id: id.into(),
                state: status.state,
                action: "exec in",
            });
        }
        self.oci(&status.runtime).exec(id, args, timeout)
    }

    /// Removes a container: the runtime's state and cgroup, the overlay mount, the bundle
    /// and the monitor. A container still running is refused unless `force`, which kills
    /// it. The log file stays: it belongs to the caller.
    pub fn remove(&self, id: &str, force: bool) -> Result<(), ContainerError> {
        let (bundle, record) = self.open(id)?;
        let status = self.status(id)?;
        if matches!(
            status.state,
            ContainerState::Running | ContainerState::Created
        ) {
            if !force {
                return Err(ContainerError::InvalidState {
                    id: id.into(),
                    state: status.state,
                    action: "remove",
                });
            }
            self.stop(id, Duration::ZERO)?;
        }
        let oci = self.oci(&record.runtime);
        if oci.state(id)?.is_some() {
            oci.delete(id, true)?;
        }
        self.reap_monitor(&bundle, id);
        rootfs::unmount(&bundle.rootfs())?;
        self.layout.remove(&record.cgroups_path)?;
        remove_path(&self.exits_dir().join(id))?;
        remove_path(&self.sockets_dir().join(id))?;
        std::fs::remove_dir_all(bundle.dir())
            .map_err(|source| io_err("remove", bundle.dir(), source))?;
        tracing::info!(container = id, "container removed");
        Ok(())
    }

    fn prepare_and_launch(
        &self,
        spec: &ContainerSpec,
        record: &ContainerRecord,
        bundle: &Bundle,
    ) -> Result<(), ContainerError> {
        bundle.write_record(record)?;
        rootfs::mount_overlay(
            &spec.lower_dirs,
            &bundle.upper(),
            &bundle.work(),
            &bundle.rootfs(),
        )?;
        bundle.write_config(&spec.to_oci(Path::new("rootfs"))?)?;
        if let Some(dir) = spec.log_path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| io_err("create", dir, source))?;
        }
        let oci = self.oci(&record.runtime);
        let create_binary = self.create_binary(&record.runtime)?;
        let pid = monitor::launch(&monitor::MonitorLaunch {
            conmon: &self.config.conmon,
            runtime: &create_binary,
            runtime_name: record.runtime.name(),
            runtime_root_arg: oci.root_arg(),
            id: &spec.id,
            bundle,
            log_path: &spec.log_path,
            exit_dir: &self.exits_dir(),
            socket_dir: &self.sockets_dir(),
            stdin: spec.stdin,
            tty: spec.tty,
        })?;
        tracing::debug!(container = %spec.id, pid, "runtime created container");
        Ok(())
    }

    /// Best-effort cleanup of a container whose creation failed half-way.
    fn discard(&self, id: &str, bundle: &Bundle, runtime: &Runtime) {
        let oci = self.oci(runtime);
        if let Ok(Some(_)) = oci.state(id) {
            let _ = oci.delete(id, true);
        }
        self.reap_monitor(bundle, id);
        let _ = rootfs::unmount(&bundle.rootfs());
        let _ = std::fs::remove_dir_all(bundle.dir());
        let _ = remove_path(&self.exits_dir().join(id));
        let _ = remove_path(&self.sockets_dir().join(id));
    }

    /// Waits for the monitor to exit after its container, killing it if it lingers.
    fn reap_monitor(&self, bundle: &Bundle, id: &str) {
        let deadline = std::time::Instant::now() + MONITOR_EXIT_TIMEOUT;
        while let Some(pid) = monitor::monitor_pid(bundle, id) {
            if std::time::Instant::now() >= deadline {
                tracing::warn!(
                    container = id,
                    pid,
                    "monitor outlived its container, killing it"
                );
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
                return;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Asks the runtime whether a container without a start marker was started after all
    /// (an agent may die between `start` and writing the marker).
    fn created_or_running(
        &self,
        bundle: &Bundle,
        record: &ContainerRecord,
    ) -> Result<ContainerState, ContainerError> {
        let state = self.oci(&record.runtime).state(&record.spec.id)?;
        match state.as_ref().map(|s| s.status.as_str()) {
            Some("created") | Some("creating") | None => Ok(ContainerState::Created),
            Some(_) => {
                bundle.mark_started()?;
                Ok(ContainerState::Running)
            }
        }
    }

    /// Whether the OOM killer acted: conmon's marker, or the cgroup's counter (conmon may
    /// quit before handling the OOM event when the container dies of it at once).
    fn oom_killed(&self, bundle: &Bundle, record: &ContainerRecord) -> bool {
        if bundle.oom_file().exists() {
            return true;
        }
        let killed = self
            .layout
            .oom_kills(&record.cgroups_path)
            .is_some_and(|n| n > 0);
        if killed {
            // Keep the verdict once the runtime deletes the cgroup.
            let _ = std::fs::write(bundle.oom_file(), b"");
        }
        killed
    }

    /// The binary conmon runs `create` with: crun on a hybrid cgroup host goes through a
    /// wrapper that hides the cgroup2 mount (crun 1.8 refuses to create otherwise).
    fn create_binary(&self, runtime: &Runtime) -> Result<PathBuf, ContainerError> {
        let (Runtime::Crun { path }, Some(unified)) =
            (runtime, self.layout.hybrid_unified_with_controllers())
        else {
            return Ok(runtime.path().to_path_buf());
        };
        let unshare = match &self.config.unshare {
            Some(unshare) => unshare.clone(),
            None => HostProbe::detect().require(Binary::Unshare)?,
        };
        let name: String = path
            .to_string_lossy()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let wrapper = self.config.root.join("bin").join(format!("create{name}"));
        let _guard = WRAPPER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        if !wrapper.exists() {
            oci_runtime::write_crun_wrapper(&wrapper, path, &unshare, unified)?;
        }
        Ok(wrapper)
    }

    fn open(&self, id: &str) -> Result<(Bundle, ContainerRecord), ContainerError> {
        spec::validate_id(id)?;
        let bundle = Bundle::new(&self.containers_dir(), id);
        if !bundle.record().exists() {
            return Err(ContainerError::NotFound { id: id.into() });
        }
        let record = bundle.read_record()?;
        Ok((bundle, record))
    }

    fn oci(&self, runtime: &Runtime) -> OciRuntime {
        OciRuntime::new(
            runtime.clone(),
            self.config.root.join("oci").join(runtime.name()),
        )
    }

    fn containers_dir(&self) -> PathBuf {
        self.config.root.join("containers")
    }

    fn exits_dir(&self) -> PathBuf {
        self.config.root.join("exits")
    }

    fn sockets_dir(&self) -> PathBuf {
        self.config.root.join("sockets")
    }
}

/// Removes a file or symlink, ignoring one that is already gone.
fn remove_path(path: &Path) -> Result<(), ContainerError> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(io_err("remove", path, error))
        }
        _ => Ok(()),
    }
}
