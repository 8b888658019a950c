//! End-to-end isolation settings of real containers: capabilities, privileged mode,
//! no_new_privileges, OOM score, joining an existing network namespace, a terminal. Needs
//! root, crun, runc, conmon and busybox-static; skips loudly otherwise unless
//! SKIFF_REQUIRE_E2E=1.

mod container_support;

use std::process::Command;

use container_support::{TestEnv, WAIT};
use skiff_runtime::container::logs::{LogStream, messages, read_log};
use skiff_runtime::container::{Binary, CapabilityChanges, ContainerSpec, ContainerState};

/// Runs `script` to completion and returns its stdout messages.
fn run_script(env: &TestEnv, spec: ContainerSpec) -> Vec<String> {
    let rt = env.runtime();
    let id = spec.id.clone();
    rt.run(&spec).unwrap();
    let status = rt.wait(&id, WAIT).unwrap();
    assert_eq!(status.state, ContainerState::Exited, "{status:?}");
    assert_eq!(status.exit_code, Some(0), "{}", env.log_text(&id));
    messages(&read_log(&spec.log_path).unwrap(), LogStream::Stdout)
}

const SHOW_STATUS: &str = "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status | tr -s '\\t ' ' '; \
                           cat /proc/self/oom_score_adj";

#[test]
fn capabilities_no_new_privileges_and_oom_score_follow_the_spec() {
    let Some(env) = TestEnv::new("caps", Binary::Crun) else {
        return;
    };
    let mut spec = env.spec("restricted", &["sh", "-c", SHOW_STATUS]);
    spec.capabilities = CapabilityChanges {
        drop: vec!["ALL".into()],
        add: vec!["NET_BIND_SERVICE".into()],
    };
    spec.no_new_privileges = true;
    spec.oom_score_adj = Some(500);

    let out = run_script(&env, spec);

    // CAP_NET_BIND_SERVICE is bit 10.
    assert_eq!(out, ["CapEff: 0000000000000400", "NoNewPrivs: 1", "500"]);
}

#[test]
fn a_privileged_container_gets_every_capability_and_may_mount() {
    let Some(env) = TestEnv::new("privileged", Binary::Runc) else {
        return;
    };
    let script = format!("{SHOW_STATUS}; mkdir /m && mount -t tmpfs none /m && echo mounted");
    let mut spec = env.spec("root", &["sh", "-c", &script]);
    spec.privileged = true;

    let out = run_script(&env, spec);

    let cap_eff = out[0].trim_start_matches("CapEff: ");
    let bits = u64::from_str_radix(cap_eff, 16).unwrap();
    assert!(bits.count_ones() >= 38, "{out:?}");
    assert_eq!(out[1], "NoNewPrivs: 0");
    assert_eq!(out.last().map(String::as_str), Some("mounted"));
}

/// A named network namespace, deleted on drop.
struct NetNs(String);

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

#[test]
fn a_container_joins_the_given_network_namespace() {
    let Some(env) = TestEnv::new("netns", Binary::Crun) else {
        return;
    };
    let Some(ip) = skiff_runtime::container::host::find_binary("ip") else {
        eprintln!("!!! SKIPPING a_container_joins_the_given_network_namespace: no ip (iproute2)");
        return;
    };
    let name = format!("skiff-test-{}", std::process::id());
    let created = Command::new(ip)
        .args(["netns", "add", &name])
        .status()
        .unwrap();
    assert!(created.success());
    let netns = NetNs(name);
    let path = std::path::PathBuf::from("/run/netns").join(&netns.0);
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&path).unwrap());
    let mut spec = env.spec("joined", &["readlink", "/proc/self/ns/net"]);
    spec.network_namespace = Some(path);

    let out = run_script(&env, spec);

    assert_eq!(out, [format!("net:[{inode}]")]);
}

#[test]
fn a_container_with_a_terminal_sees_a_tty() {
    let Some(env) = TestEnv::new("tty", Binary::Crun) else {
        return;
    };
    let mut spec = env.spec("term", &["sh", "-c", "tty && echo is-a-tty"]);
    spec.tty = true;

    let rt = env.runtime();
    rt.run(&spec).unwrap();
    let status = rt.wait("term", WAIT).unwrap();

    assert_eq!(status.exit_code, Some(0), "{}", env.log_text("term"));
    let log = env.log_text("term");
    assert!(log.contains("/dev/pts/0"), "{log}");
    assert!(log.contains("is-a-tty"), "{log}");
}
