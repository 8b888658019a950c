//! The OCI runtime CLI (crun or runc): start, kill, delete, state and exec of containers
//! that the monitor created.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::ContainerError;
use super::monitor::spawn_locked;

/// An OCI runtime binary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Runtime {
    /// crun, the default: the fastest to start a container.
    Crun {
        /// Absolute path of the crun binary.
        path: PathBuf,
    },
    /// runc.
    Runc {
        /// Absolute path of the runc binary.
        path: PathBuf,
    },
}

impl Runtime {
    /// crun at its Debian location.
    pub fn crun() -> Self {
        Runtime::Crun {
            path: "/usr/bin/crun".into(),
        }
    }

    /// runc at its Debian location.
    pub fn runc() -> Self {
        Runtime::Runc {
            path: "/usr/sbin/runc".into(),
        }
    }

    /// `crun` or `runc`.
    pub fn name(&self) -> &'static str {
        match self {
            Runtime::Crun { .. } => "crun",
            Runtime::Runc { .. } => "runc",
        }
    }

    /// The kind of binary, for the host probe's messages.
    pub fn binary(&self) -> super::Binary {
        match self {
            Runtime::Crun { .. } => super::Binary::Crun,
            Runtime::Runc { .. } => super::Binary::Runc,
        }
    }

    /// The binary's path.
    pub fn path(&self) -> &Path {
        match self {
            Runtime::Crun { path } | Runtime::Runc { path } => path,
        }
    }
}

/// What a command run by [`OciRuntime::exec`] printed and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    /// The process' exit code (128 + signal number when a signal ended it).
    pub exit_code: i32,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
}

/// The part of `<runtime> state` skiff reads.
#[derive(Clone, Debug, Deserialize)]
pub struct RuntimeState {
    /// `creating`, `created`, `running`, `paused` or `stopped`.
    pub status: String,
    /// Host PID of the container's init process (0 once stopped).
    #[serde(default)]
    pub pid: i32,
}

/// One OCI runtime with its state directory (`--root`).
#[derive(Clone, Debug)]
pub struct OciRuntime {
    runtime: Runtime,
    root: PathBuf,
}

impl OciRuntime {
    /// The runtime keeping its state under `root`, which must be absolute: crun resolves a
    /// relative one against the bundle.
    pub fn new(runtime: Runtime, root: PathBuf) -> Self {
        Self { runtime, root }
    }

    /// The runtime binary.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The `--root` argument, as conmon passes it on to `create`.
    pub fn root_arg(&self) -> String {
        format!("--root={}", self.root.display())
    }

    /// Starts a created container's process.
    pub fn start(&self, id: &str) -> Result<(), ContainerError> {
        self.run(id, &["start", id]).map(drop)
    }

    /// Sends `signal` to the container's init process, or to every process of it with `all`.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<(), ContainerError> {
        let signal = signal.to_string();
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([id, signal.as_str()]);
        self.run(id, &args).map(drop)
    }

    /// Deletes the container's runtime state and cgroup; `force` kills it first if needed.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), ContainerError> {
        let mut args = vec!["delete"];
        if force {
            args.push("--force");
        }
        args.push(id);
        self.run(id, &args).map(drop)
    }

    /// The runtime's view of the container, `None` when it does not know it.
    pub fn state(&self, id: &str) -> Result<Option<RuntimeState>, ContainerError> {
        if !self.root.join(id).exists() {
            return Ok(None);
        }
        let stdout = self.run(id, &["state", id])?;
        serde_json::from_slice(&stdout)
            .map(Some)
            .map_err(|error| ContainerError::Runtime {
                id: id.to_string(),
                command: format!("{} state", self.runtime.name()),
                stderr: format!("unreadable state: {error}"),
            })
    }

    /// Runs `args` in the running container, waiting at most `timeout`; the process is
    /// killed at the deadline.
    pub fn exec(
        &self,
        id: &str,
        args: &[String],
        timeout: Duration,
    ) -> Result<ExecOutput, ContainerError> {
        let mut command = self.command();
        command.arg("exec").arg(id).args(args);
        let command_text = format!("{} exec {id} {}", self.runtime.name(), args.join(" "));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_locked(&mut command).map_err(|source| ContainerError::Spawn {
            command: command_text.clone(),
            source,
        })?;

        // Drain both pipes on threads so a chatty process cannot block on a full pipe.
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(ContainerError::Timeout {
                        id: id.to_string(),
                        what: format!("`{command_text}` after {timeout:?}"),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(source) => {
                    return Err(ContainerError::Spawn {
                        command: command_text,
                        source,
                    });
                }
            }
        };
        let join = |handle: Option<std::thread::JoinHandle<Vec<u8>>>| {
            handle.and_then(|h| h.join().ok()).unwrap_or_default()
        };
        Ok(ExecOutput {
            exit_code: exit_code(status),
            stdout: join(stdout),
            stderr: join(stderr),
        })
    }

    fn command(&self) -> Command {
        let mut command = Command::new(self.runtime.path());
        command.arg(self.root_arg());
        command
    }

    /// Runs one runtime verb to completion; a failure carries the runtime's stderr.
    fn run(&self, id: &str, args: &[&str]) -> Result<Vec<u8>, ContainerError> {
        let command_text = format!("{} {}", self.runtime.name(), args.join(" "));
        tracing::trace!(container = id, command = %command_text, "running oci runtime");
        let mut command = self.command();
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = spawn_locked(&mut command)
            .and_then(|child| child.wait_with_output())
            .map_err(|source| ContainerError::Spawn {
                command: command_text.clone(),
                source,
            })?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(ContainerError::Runtime {
                id: id.to_string(),
                command: command_text,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// Writes the wrapper conmon calls instead of crun on a hybrid cgroup host: crun 1.8
/// refuses `create` while the cgroup2 mount holds a controller ("cgroups in hybrid mode not
/// supported"), so create runs in a private mount namespace without that mount.
pub(crate) fn write_crun_wrapper(
    wrapper: &Path,
    crun: &Path,
    unshare: &Path,
    unified: &Path,
) -> Result<(), ContainerError> {
    let script = format!(
        "#!/bin/sh\n\
         # written by skiff: crun create in a private mount namespace without {unified}\n\
         exec {unshare} --mount --propagation private /bin/sh -c \
         'umount {unified_q} 2>/dev/null; exec \"$0\" \"$@\"' {crun} \"$@\"\n",
        unified = unified.display(),
        unshare = shell_quote(&unshare.to_string_lossy()),
        unified_q = shell_quote_inner(&unified.to_string_lossy()),
        crun = shell_quote(&crun.to_string_lossy()),
    );
    let io_err = |source| ContainerError::Io {
        action: "write crun wrapper",
        path: wrapper.to_path_buf(),
        source,
    };
    if let Some(dir) = wrapper.parent() {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }

    // Write then rename, so a conmon starting meanwhile never runs half a script.
    let tmp = wrapper.with_extension("tmp");
    std::fs::write(&tmp, script).map_err(io_err)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(io_err)?;
    std::fs::rename(&tmp, wrapper).map_err(io_err)
}

/// Quotes `text` as one single-quoted shell word.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Quotes `text` for use inside an already single-quoted `sh -c` script: the inner word is
/// double-quoted, so only `"`, `\`, `$` and `` ` `` need escaping, and `'` must leave the
/// outer quotes.
fn shell_quote_inner(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' | '$' | '`' => {
                out.push('\\');
                out.push(c);
            }
            '\'' => out.push_str(r"'\''"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crun_wrapper_passes_arguments_through_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("fake crun's");
        std::fs::write(
            &fake,
            "#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

        // A stand-in for unshare that drops its own options and runs the rest.
        let unshare = dir.path().join("unshare");
        std::fs::write(&unshare, "#!/bin/sh\nshift 3\nexec \"$@\"\n").unwrap();
        std::fs::set_permissions(&unshare, std::fs::Permissions::from_mode(0o755)).unwrap();
        let wrapper = dir.path().join("wrapper");
        write_crun_wrapper(&wrapper, &fake, &unshare, Path::new("/nonexistent")).unwrap();
        let out = Command::new(&wrapper)
            .args(["--root=/a b", "create", "it's", "$x"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text, "[--root=/a b]\n[create]\n[it's]\n[$x]\n");
    }
}
