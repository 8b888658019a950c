//! The container specification the node agent hands in, and its translation into an OCI
//! runtime-spec `config.json`.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder,
    LinuxDeviceCgroupBuilder, LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceType,
    LinuxPidsBuilder, LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder,
    Spec, UserBuilder, get_default_mounts, get_default_namespaces,
};
use serde::{Deserialize, Serialize};

use super::ContainerError;
use super::oci_runtime::Runtime;

/// The capabilities a container gets unless it adds or drops some: the set containerd and
/// CRI-O give by default.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability a privileged container gets, in kernel bit order.
const ALL_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Paths hidden from unprivileged containers (bind-mounted over with /dev/null or an empty
/// read-only tmpfs by the OCI runtime).
const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths made read-only in unprivileged containers.
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Everything needed to run one container, in plain Rust: no Kubernetes types.
///
/// Build it with struct update syntax over [`ContainerSpec::new`]:
/// `ContainerSpec { env: vec![..], ..ContainerSpec::new(id, lowers, args, log) }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Container id: 1 to 128 characters of `[A-Za-z0-9_.-]`, starting alphanumeric.
    pub id: String,
    /// Read-only layers of the root filesystem (unpacked image layers), top-most first.
    pub lower_dirs: Vec<PathBuf>,
    /// The process to run: executable and arguments.
    pub args: Vec<String>,
    /// Environment as `NAME=value` strings; a default `PATH` is added when absent.
    pub env: Vec<String>,
    /// Working directory inside the container; `/` when unset.
    pub working_dir: Option<String>,
    /// User the process runs as.
    pub user: UserSpec,
    /// Hostname inside the container's UTS namespace.
    pub hostname: Option<String>,
    /// Extra mounts, in order.
    pub mounts: Vec<MountSpec>,
    /// Capabilities added to or dropped from [`DEFAULT_CAPABILITIES`].
    pub capabilities: CapabilityChanges,
    /// All capabilities, no masked or read-only kernel paths, every device allowed.
    pub privileged: bool,
    /// Mount the root filesystem read-only.
    pub read_only_rootfs: bool,
    /// Forbid the process from gaining privileges (setuid binaries, file capabilities).
    pub no_new_privileges: bool,
    /// cgroup limits.
    pub resources: Resources,
    /// Parent cgroup path, relative to each hierarchy's root (for example `/skiff/pod-uid`);
    /// `/skiff` when unset. The container's cgroup is `<parent>/<id>`.
    pub cgroup_parent: Option<String>,
    /// An existing network namespace to join (the pod's), for example `/run/netns/pod-uid`;
    /// a fresh one when unset.
    pub network_namespace: Option<PathBuf>,
    /// OOM score adjustment of the container's processes.
    pub oom_score_adj: Option<i32>,
    /// Keep stdin open through the monitor's attach socket.
    pub stdin: bool,
    /// Allocate a terminal for the process.
    pub tty: bool,
    /// Where the monitor writes the container's output, in the CRI log format.
    pub log_path: PathBuf,
    /// The OCI runtime to run this container with; the [`super::RuntimeConfig`] default when
    /// unset.
    pub runtime: Option<Runtime>,
}

/// The user a container's process runs as.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSpec {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids.
    pub additional_gids: Vec<u32>,
}

/// One extra mount inside the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountSpec {
    /// A bind mount of a host path.
    Bind {
        /// Host path (file or directory).
        source: PathBuf,
        /// Absolute path inside the container.
        destination: PathBuf,
        /// Mount read-only.
        read_only: bool,
    },
    /// A fresh tmpfs.
    Tmpfs {
        /// Absolute path inside the container.
        destination: PathBuf,
        /// Size limit in bytes; the kernel default (half the RAM) when unset.
        size_bytes: Option<u64>,
    },
}

/// Capabilities added to and dropped from the default set. Names may omit the `CAP_`
/// prefix and are case-insensitive; `ALL` stands for every capability.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilityChanges {
    /// Capabilities to add.
    pub add: Vec<String>,
    /// Capabilities to drop (applied before `add`, as Kubernetes does).
    pub drop: Vec<String>,
}

/// cgroup limits of a container. Unset fields leave the kernel defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// Relative CPU weight (cgroup v1 `cpu.shares`; converted to `cpu.weight` on v2).
    pub cpu_shares: Option<u64>,
    /// CPU time the container may use per period, in microseconds.
    pub cpu_quota: Option<i64>,
    /// Length of the CPU accounting period, in microseconds (100000 by default).
    pub cpu_period: Option<u64>,
    /// Memory limit in bytes; the OOM killer acts beyond it.
    pub memory_limit: Option<i64>,
    /// Maximum number of processes and threads.
    pub pids_limit: Option<i64>,
}

impl ContainerSpec {
    /// A spec with the required fields set and defaults for everything else.
    pub fn new(
        id: impl Into<String>,
        lower_dirs: Vec<PathBuf>,
        args: Vec<String>,
        log_path: impl Into<PathBuf>,
    ) -> Self {
        Self {
            id: id.into(),
            lower_dirs,
            args,
            log_path: log_path.into(),
            ..Self::default()
        }
    }

    /// The container's cgroup path relative to the hierarchy roots: `<parent>/<id>`.
    pub fn cgroups_path(&self) -> String {
        let parent = self.cgroup_parent.as_deref().unwrap_or("/skiff");
        format!("/{}/{}", parent.trim_matches('/'), self.id)
    }

    /// Checks what the OCI runtime or the overlay mount would otherwise reject late.
    pub fn validate(&self) -> Result<(), ContainerError> {
        let invalid = |reason: String| ContainerError::InvalidSpec {
            id: self.id.clone(),
            reason,
        };
        validate_id(&self.id)?;
        if self.args.is_empty() {
            return Err(invalid("args must not be empty".into()));
        }
        if self.lower_dirs.is_empty() {
            return Err(invalid("at least one rootfs lower dir is required".into()));
        }
        for dir in &self.lower_dirs {
            let text = dir.to_string_lossy();
            if !dir.is_absolute() || text.contains([':', ',']) {
                return Err(invalid(format!(
                    "lower dir {} must be absolute and free of ':' and ','",
                    dir.display()
                )));
            }
        }
        if !self.log_path.is_absolute() {
            return Err(invalid(format!(
                "log path {} must be absolute",
                self.log_path.display()
            )));
        }
        for mount in &self.mounts {
            let destination = match mount {
                MountSpec::Bind { destination, .. } | MountSpec::Tmpfs { destination, .. } => {
                    destination
                }
            };
            if !destination.is_absolute() {
                return Err(invalid(format!(
                    "mount destination {} must be absolute",
                    destination.display()
                )));
            }
        }
        Ok(())
    }

    /// The OCI runtime-spec configuration for this container, with the root filesystem at
    /// `rootfs` (relative to the bundle or absolute).
    pub fn to_oci(&self, rootfs: &Path) -> Result<Spec, ContainerError> {
        let oci_err = |source| ContainerError::OciSpec {
            id: self.id.clone(),
            source,
        };
        let mut spec = Spec::default();
        spec.set_version("1.0.2".into());
        spec.set_hostname(Some(
            self.hostname.clone().unwrap_or_else(|| self.id.clone()),
        ));
        spec.set_root(Some(
            RootBuilder::default()
                .path(rootfs)
                .readonly(self.read_only_rootfs)
                .build()
                .map_err(oci_err)?,
        ));
        spec.set_process(Some(self.process().map_err(oci_err)?));
        spec.set_mounts(Some(self.oci_mounts().map_err(oci_err)?));
        spec.set_linux(Some(self.linux().map_err(oci_err)?));
        Ok(spec)
    }

    fn process(&self) -> Result<oci_spec::runtime::Process, oci_spec::OciSpecError> {
        let mut env = self.env.clone();
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.insert(
                0,
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            );
        }
        let user = UserBuilder::default()
            .uid(self.user.uid)
            .gid(self.user.gid)
            .additional_gids(self.user.additional_gids.clone())
            .build()?;
        let caps = self
            .effective_capabilities()
            .map_err(|name| oci_spec::OciSpecError::Other(format!("unknown capability {name}")))?;
        // The builder's defaults are oci-spec's own (ambient and inheritable holding
        // AUDIT_WRITE, KILL, NET_BIND_SERVICE): capset refuses ambient capabilities that are
        // not permitted, so both are set empty explicitly.
        let capabilities = LinuxCapabilitiesBuilder::default()
            .bounding(caps.clone())
            .effective(caps.clone())
            .permitted(caps)
            .inheritable(Capabilities::new())
            .ambient(Capabilities::new())
            .build()?;
        let mut builder = ProcessBuilder::default()
            .terminal(self.tty)
            .user(user)
            .args(self.args.clone())
            .env(env)
            .cwd(self.working_dir.clone().unwrap_or_else(|| "/".into()))
            .capabilities(capabilities)
            .no_new_privileges(self.no_new_privileges)
            // No rlimits: the process inherits the monitor's (the builder would default
            // RLIMIT_NOFILE to 1024).
            .rlimits(Vec::new());
        if let Some(adj) = self.oom_score_adj {
            builder = builder.oom_score_adj(adj);
        }
        builder.build()
    }

    /// The capability set after privileged, drop and add; `Err` names an unknown capability.
    fn effective_capabilities(&self) -> Result<Capabilities, String> {
        if self.privileged {
            return Ok(all_capabilities());
        }
        let mut caps: Capabilities = DEFAULT_CAPABILITIES
            .iter()
            .map(|name| parse_capability(name))
            .collect::<Result<_, _>>()?;
        for name in &self.capabilities.drop {
            if name.eq_ignore_ascii_case("ALL") {
                caps.clear();
            } else {
                caps.remove(&parse_capability(name)?);
            }
        }
        for name in &self.capabilities.add {
            if name.eq_ignore_ascii_case("ALL") {
                caps = all_capabilities();
            } else {
                caps.insert(parse_capability(name)?);
            }
        }
        Ok(caps)
    }

    fn oci_mounts(&self) -> Result<Vec<Mount>, oci_spec::OciSpecError> {
        let mut mounts = get_default_mounts();
        if self.privileged {
            // A privileged container may write to /sys, as it can under runc and containerd.
            for mount in &mut mounts {
                let sys = mount.destination() == Path::new("/sys")
                    || mount.destination() == Path::new("/sys/fs/cgroup");
                if let (true, Some(options)) = (sys, mount.options_mut()) {
                    options.retain(|o| o != "ro");
                }
            }
        }
        for mount in &self.mounts {
            mounts.push(match mount {
                MountSpec::Bind {
                    source,
                    destination,
                    read_only,
                } => {
                    let mut options = vec!["rbind".to_string(), "rprivate".to_string()];
                    options.push(if *read_only { "ro" } else { "rw" }.to_string());
                    MountBuilder::default()
                        .destination(destination)
                        .typ("bind")
                        .source(source)
                        .options(options)
                        .build()?
                }
                MountSpec::Tmpfs {
                    destination,
                    size_bytes,
                } => {
                    let mut options = vec!["nosuid".to_string(), "nodev".to_string()];
                    if let Some(size) = size_bytes {
                        options.push(format!("size={size}"));
                    }
                    MountBuilder::default()
                        .destination(destination)
                        .typ("tmpfs")
                        .source("tmpfs")
                        .options(options)
                        .build()?
                }
            });
        }
        Ok(mounts)
    }

    fn linux(&self) -> Result<oci_spec::runtime::Linux, oci_spec::OciSpecError> {
        let mut namespaces: Vec<LinuxNamespace> = get_default_namespaces();
        if let Some(netns) = &self.network_namespace {
            for ns in &mut namespaces {
                if ns.typ() == LinuxNamespaceType::Network {
                    ns.set_path(Some(netns.clone()));
                }
            }
        }
        let mut builder = LinuxBuilder::default()
            .namespaces(namespaces)
            .cgroups_path(PathBuf::from(self.cgroups_path()))
            .resources(self.oci_resources()?);
        if !self.privileged {
            builder = builder
                .masked_paths(
                    MASKED_PATHS
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>(),
                )
                .readonly_paths(
                    READONLY_PATHS
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>(),
                );
        }
        builder.build()
    }

    fn oci_resources(&self) -> Result<oci_spec::runtime::LinuxResources, oci_spec::OciSpecError> {
        let limits = &self.resources;

        // Deny every device, then let the runtime add its default ones (null, zero, tty, ...);
        // a privileged container gets them all.
        let devices = vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(self.privileged)
                .access("rwm")
                .build()?,
        ];
        let mut builder = LinuxResourcesBuilder::default().devices(devices);
        if let Some(limit) = limits.memory_limit {
            builder = builder.memory(LinuxMemoryBuilder::default().limit(limit).build()?);
        }
        if limits.cpu_shares.is_some() || limits.cpu_quota.is_some() || limits.cpu_period.is_some()
        {
            let mut cpu = LinuxCpuBuilder::default();
            if let Some(shares) = limits.cpu_shares {
                cpu = cpu.shares(shares);
            }
            if let Some(quota) = limits.cpu_quota {
                cpu = cpu.quota(quota);
            }
            if let Some(period) = limits.cpu_period {
                cpu = cpu.period(period);
            } else if limits.cpu_quota.is_some() {
                cpu = cpu.period(100_000u64);
            }
            builder = builder.cpu(cpu.build()?);
        }
        if let Some(limit) = limits.pids_limit {
            builder = builder.pids(LinuxPidsBuilder::default().limit(limit).build()?);
        }
        builder.build()
    }
}

/// Checks a container id: it names files, cgroups and runtime state, so it stays simple.
pub(crate) fn validate_id(id: &str) -> Result<(), ContainerError> {
    let valid = !id.is_empty()
        && id.len() <= 128
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(ContainerError::InvalidSpec {
            id: id.to_string(),
            reason: "id must be 1-128 characters of [A-Za-z0-9_.-] starting alphanumeric".into(),
        })
    }
}

fn parse_capability(name: &str) -> Result<Capability, String> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    serde_json::from_value(serde_json::Value::String(full)).map_err(|_| name.to_string())
}

/// Every capability this process may pass on: those of its bounding set, as containerd
/// gives privileged containers (asking for one outside it makes `capset` fail).
fn all_capabilities() -> Capabilities {
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("CapBnd:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| bounding & (1u64 << bit) != 0)
        .filter_map(|(_, name)| parse_capability(name).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ContainerSpec {
        ContainerSpec::new(
            "c1",
            vec!["/layers/a".into()],
            vec!["true".into()],
            "/logs/c1.log",
        )
    }

    #[test]
    fn default_capabilities_follow_drop_then_add() {
        let mut s = spec();
        s.capabilities.drop = vec!["ALL".into()];
        s.capabilities.add = vec!["net_admin".into(), "CAP_KILL".into()];
        let caps = s.effective_capabilities().unwrap();
        assert_eq!(caps.len(), 2);
        assert!(caps.contains(&Capability::NetAdmin));
    }

    #[test]
    fn privileged_gets_every_capability() {
        let mut s = spec();
        s.privileged = true;
        assert!(s.effective_capabilities().unwrap().len() >= 30);
    }

    #[test]
    fn unknown_capability_is_rejected() {
        let mut s = spec();
        s.capabilities.add = vec!["FLY".into()];
        assert!(s.to_oci(Path::new("rootfs")).is_err());
    }

    #[test]
    fn config_carries_limits_netns_and_cgroup_path() {
        let mut s = spec();
        s.cgroup_parent = Some("/skiff/pod1/".into());
        s.network_namespace = Some("/run/netns/pod1".into());
        s.resources.memory_limit = Some(16 << 20);
        s.resources.cpu_quota = Some(50_000);
        let json = serde_json::to_value(s.to_oci(Path::new("rootfs")).unwrap()).unwrap();
        assert_eq!(json["linux"]["cgroupsPath"], "/skiff/pod1/c1");
        assert_eq!(json["linux"]["resources"]["memory"]["limit"], 16 << 20);
        assert_eq!(json["linux"]["resources"]["cpu"]["period"], 100_000);
        let netns = json["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|ns| ns["type"] == "network")
            .unwrap();
        assert_eq!(netns["path"], "/run/netns/pod1");
    }

    #[test]
    fn ambient_and_inheritable_capabilities_and_rlimits_stay_empty() {
        let json = serde_json::to_value(spec().to_oci(Path::new("rootfs")).unwrap()).unwrap();
        let caps = &json["process"]["capabilities"];
        assert_eq!(caps["ambient"], serde_json::json!([]));
        assert_eq!(caps["inheritable"], serde_json::json!([]));
        assert_eq!(caps["bounding"].as_array().unwrap().len(), 14);
        assert_eq!(json["process"]["rlimits"], serde_json::json!([]));
    }

    #[test]
    fn ids_with_slashes_are_invalid() {
        assert!(validate_id("a/b").is_err());
        assert!(validate_id("-a").is_err());
        assert!(validate_id("pod_1.app-2").is_ok());
    }
}
