//! The per-container monitor: conmon. It runs the runtime's `create`, owns the container's
//! stdio (CRI log file, attach socket), reaps the container as its subreaper and writes the
//! exit code and OOM marker. It daemonizes, so containers outlive the agent.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::FdFlags;
use serde::Deserialize;

use super::ContainerError;
use super::bundle::{Bundle, io_err};

/// How long conmon may take to run the runtime's `create`.
const CREATE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serializes the moment an inheritable pipe end exists: a process spawned meanwhile by
/// another thread would inherit it and hold the sync pipe open.
static SPAWN_LOCK: Mutex<()> = Mutex::new(());

/// How to launch the monitor of one container.
pub(crate) struct MonitorLaunch<'a> {
    pub conmon: &'a Path,
    /// The runtime binary conmon runs `create` with (possibly the crun wrapper).
    pub runtime: &'a Path,
    /// The runtime's name, for messages.
    pub runtime_name: &'a str,
    pub runtime_root_arg: String,
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub log_path: &'a Path,
    pub exit_dir: &'a Path,
    pub socket_dir: &'a Path,
    pub stdin: bool,
    pub tty: bool,
}

/// conmon's answer on the sync pipe.
#[derive(Deserialize)]
struct SyncMessage {
    #[serde(alias = "data")]
    pid: i32,
    #[serde(default)]
    message: Option<String>,
}

/// Spawns `command` while holding the lock that keeps [`launch`]'s inheritable sync pipe
/// out of other children.
pub(crate) fn spawn_locked(command: &mut Command) -> std::io::Result<std::process::Child> {
    let _guard = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    command.spawn()
}

/// Starts conmon, which creates the container; returns the container's init PID.
pub(crate) fn launch(launch: &MonitorLaunch<'_>) -> Result<i32, ContainerError> {
    let bundle = launch.bundle;

    // A stale pid file would be taken as the new container's.
    for file in [bundle.container_pid_file(), bundle.monitor_pid_file()] {
        match std::fs::remove_file(&file) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(io_err("remove stale pid file", &file, error));
            }
            _ => {}
        }
    }
    let monitor_log = bundle.monitor_log();
    let stderr = std::fs::File::create(&monitor_log)
        .map_err(|source| io_err("create", &monitor_log, source))?;
    let mut command = conmon_command(launch);
    command
        .current_dir(bundle.dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);

    let (read_end, status) = {
        let _guard = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let (read_end, write_end) = rustix::pipe::pipe().map_err(|e| ContainerError::Monitor {
            id: launch.id.into(),
            reason: format!("sync pipe: {e}"),
        })?;
        rustix::io::fcntl_setfd(&read_end, FdFlags::CLOEXEC).map_err(|e| {
            ContainerError::Monitor {
                id: launch.id.into(),
                reason: format!("sync pipe: {e}"),
            }
        })?;
        command.env("_OCI_SYNCPIPE", write_end.as_raw_fd().to_string());
        let mut child = command.spawn().map_err(|source| ContainerError::Spawn {
            command: format!("{} -c {}", launch.conmon.display(), launch.id),
            source,
        })?;
        drop(write_end);

        // conmon forks its daemon and its first process exits at once.
        let status = child.wait().map_err(|source| ContainerError::Spawn {
            command: format!("{} -c {}", launch.conmon.display(), launch.id),
            source,
        })?;
        (read_end, status)
    };
    if !status.success() {
        return Err(monitor_failed(
            launch,
            format!("conmon exited with {status}"),
        ));
    }
    let message = read_sync(read_end, launch.id)?;
    match serde_json::from_str::<SyncMessage>(message.trim()) {
        Ok(SyncMessage { pid, .. }) if pid > 0 => Ok(pid),
        Ok(SyncMessage { message, .. }) => Err(ContainerError::Runtime {
            id: launch.id.into(),
            command: format!("{} create", launch.runtime_name),
            stderr: message.unwrap_or_default().trim().to_string(),
        }),
        Err(_) if message.is_empty() => Err(monitor_failed(
            launch,
            "conmon exited before reporting the container pid".into(),
        )),
        Err(error) => Err(monitor_failed(
            launch,
            format!("unreadable sync message {message:?}: {error}"),
        )),
    }
}

fn conmon_command(launch: &MonitorLaunch<'_>) -> Command {
    let bundle = launch.bundle;
    let mut command = Command::new(launch.conmon);
    command
        .arg("--cid")
        .arg(launch.id)
        .arg("--cuuid")
        .arg(launch.id)
        .arg("--name")
        .arg(launch.id)
        .arg("--runtime")
        .arg(launch.runtime)
        .arg(format!("--runtime-arg={}", launch.runtime_root_arg))
        .arg("--bundle")
        .arg(bundle.dir())
        .arg("--container-pidfile")
        .arg(bundle.container_pid_file())
        .arg("--conmon-pidfile")
        .arg(bundle.monitor_pid_file())
        .arg("--log-path")
        .arg(format!("k8s-file:{}", launch.log_path.display()))
        .arg("--exit-dir")
        .arg(launch.exit_dir)
        .arg("--persist-dir")
        .arg(bundle.dir())
        .arg("--socket-dir-path")
        .arg(launch.socket_dir)
        .arg("--log-level")
        .arg("error");
    if launch.stdin {
        command.arg("--stdin");
    }
    if launch.tty {
        command.arg("--terminal");
    }
    command
}

/// Reads conmon's one-line JSON answer, or everything up to EOF, within the create timeout.
fn read_sync(read_end: OwnedFd, id: &str) -> Result<String, ContainerError> {
    let deadline = Instant::now() + CREATE_TIMEOUT;
    let mut message = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ContainerError::Timeout {
                id: id.into(),
                what: format!("container creation after {CREATE_TIMEOUT:?}"),
            });
        }
        let timeout = Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(&read_end, PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => {}
            Err(error) => {
                return Err(ContainerError::Monitor {
                    id: id.into(),
                    reason: format!("sync pipe poll: {error}"),
                });
            }
        }
        match rustix::io::read(read_end.as_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                message.extend_from_slice(&buf[..n]);
                if message.contains(&b'\n') {
                    break;
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => {
                return Err(ContainerError::Monitor {
                    id: id.into(),
                    reason: format!("sync pipe read: {error}"),
                });
            }
        }
    }
    Ok(String::from_utf8_lossy(&message).into_owned())
}

fn monitor_failed(launch: &MonitorLaunch<'_>, reason: String) -> ContainerError {
    let log = std::fs::read_to_string(launch.bundle.monitor_log()).unwrap_or_default();
    let reason = if log.trim().is_empty() {
        reason
    } else {
        format!("{reason}; conmon said: {}", log.trim())
    };
    ContainerError::Monitor {
        id: launch.id.into(),
        reason,
    }
}

/// The monitor's PID if it still runs: the PID file's process must be a conmon of this
/// container, so a recycled PID is not taken for it.
pub(crate) fn monitor_pid(bundle: &Bundle, id: &str) -> Option<i32> {
    let pid = Bundle::read_pid(&bundle.monitor_pid_file())?;
    let cmdline = std::fs::read(PathBuf::from(format!("/proc/{pid}/cmdline"))).ok()?;
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let is_conmon = args.first().is_some_and(|arg0| arg0.ends_with(b"conmon"));
    let has_id = args
        .windows(2)
        .any(|pair| pair[0] == b"--cid" && pair[1] == id.as_bytes());
    (is_conmon && has_id && !is_zombie(pid)).then_some(pid)
}

/// A zombie has exited and waits for its parent (PID 1 for a daemonized monitor) to reap it.
fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            // The state follows the parenthesized command name, which may hold spaces.
            let after_name = stat.rsplit(')').next().unwrap_or("");
            after_name.trim_start().starts_with('Z')
        })
        .unwrap_or(true)
}
