//! Helpers of the container end-to-end tests: a busybox root filesystem, a runtime root in a
//! temporary directory, and a guard that removes every container, mount and cgroup the test
//! made, even when it fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use skiff_runtime::container::rootfs::mounts_under;
use skiff_runtime::container::{Binary, ContainerRuntime, ContainerSpec, HostProbe, RuntimeConfig};

const BUSYBOX: &str = "/bin/busybox";

/// Whether a missing prerequisite must fail the test instead of skipping it.
fn e2e_required() -> bool {
    std::env::var("SKIFF_REQUIRE_E2E").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (loudly) or fails when the host cannot run the test.
fn unavailable(test: &str, why: &str) -> Option<TestEnv> {
    if e2e_required() {
        panic!("{test}: {why} (SKIFF_REQUIRE_E2E=1 or CI=true: not skipping)");
    }
    eprintln!("\n!!! SKIPPING {test}: {why} (set SKIFF_REQUIRE_E2E=1 to make this fail)\n");
    None
}

/// One test's world: a runtime root, a busybox rootfs, a log dir and a cgroup parent, all
/// removed on drop.
pub struct TestEnv {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub config: RuntimeConfig,
    pub runtime: Option<ContainerRuntime>,
    pub lower: PathBuf,
    pub cgroup_parent: String,
}

impl TestEnv {
    /// The environment for `test` with `runtime` as the default runtime, or `None` (after a
    /// loud message) when the host lacks something and end-to-end tests are not required.
    pub fn new(test: &str, runtime: Binary) -> Option<Self> {
        let host = HostProbe::detect();
        if !host.is_root {
            return unavailable(test, "must run as root (mounts and cgroups)");
        }
        if let Some(error) = host.missing().into_iter().next() {
            return unavailable(test, &error.to_string());
        }
        if !Path::new(BUSYBOX).exists() {
            return unavailable(test, "/bin/busybox not found (install busybox-static)");
        }
        let default_runtime = host.runtime(runtime).expect("probed above");
        let dir = tempfile::Builder::new()
            .prefix("skiff-ctr-")
            .tempdir()
            .expect("temp dir");
        let lower = dir.path().join("lower");
        build_busybox_rootfs(&lower);
        let config = RuntimeConfig {
            root: dir.path().join("root"),
            default_runtime,
            conmon: host.require(Binary::Conmon).expect("probed above"),
            unshare: host.unshare.clone(),
        };
        let runtime = ContainerRuntime::new(config.clone()).expect("open container runtime");
        Some(Self {
            name: test.to_string(),
            // Top level and unique: a shared parent could be removed by another test's cleanup
            // while this one creates its cgroups.
            cgroup_parent: format!("/skiff-test-{test}-{}", std::process::id()),
            dir,
            config,
            runtime: Some(runtime),
            lower,
        })
    }

    pub fn runtime(&self) -> &ContainerRuntime {
        self.runtime.as_ref().expect("runtime open")
    }

    /// A spec running `args` in the busybox rootfs, logging under the test dir.
    pub fn spec(&self, id: &str, args: &[&str]) -> ContainerSpec {
        ContainerSpec {
            cgroup_parent: Some(self.cgroup_parent.clone()),
            ..ContainerSpec::new(
                id,
                vec![self.lower.clone()],
                args.iter().map(|a| a.to_string()).collect(),
                self.dir.path().join("logs").join(format!("{id}.log")),
            )
        }
    }

    pub fn log_text(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("logs").join(format!("{id}.log")))
            .unwrap_or_default()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // A runtime opened on the same root sees every container, including those of a
        // runtime handle the test dropped.
        if let Ok(runtime) = ContainerRuntime::new(self.config.clone()) {
            for status in runtime.list().unwrap_or_default() {
                if let Err(error) = runtime.remove(&status.id, true) {
                    eprintln!("{}: cleanup of container {}: {error}", self.name, status.id);
                }
            }
            let layout = runtime.cgroup_layout();
            if let Err(error) = layout.remove(&self.cgroup_parent) {
                eprintln!(
                    "{}: cleanup of cgroup {}: {error}",
                    self.name, self.cgroup_parent
                );
            }
        }
        for mount in mounts_under(self.dir.path()).into_iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(&mount).status();
        }
    }
}

/// A root filesystem of the host's static busybox: the binary, one symlink per applet,
/// /etc/passwd and /etc/group.
pub fn build_busybox_rootfs(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
}

/// Whether a process with this PID exists (and is not a zombie).
pub fn process_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

pub const WAIT: Duration = Duration::from_secs(20);
