//! End-to-end cgroup limits of real containers: the OOM killer at the memory limit, CPU
//! quota and pids limit in the container's cgroup. Needs root, crun, runc, conmon and
//! busybox-static; skips loudly otherwise unless SKIFF_REQUIRE_E2E=1.

mod container_support;

use container_support::{TestEnv, WAIT};
use skiff_runtime::container::logs::{LogStream, messages, read_log};
use skiff_runtime::container::{Binary, ContainerState, MountSpec, Resources};

fn memory_hog_is_oom_killed(test: &str, runtime: Binary) {
    let Some(env) = TestEnv::new(test, runtime) else {
        return;
    };
    let rt = env.runtime();
    // dd's 64 MiB buffer is filled from /dev/zero, so every page is charged to the cgroup.
    let mut spec = env.spec(
        "hog",
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"],
    );
    spec.resources = Resources {
        memory_limit: Some(16 << 20),
        ..Resources::default()
    };
    rt.run(&spec).unwrap();

    let status = rt.wait("hog", WAIT).unwrap();

    assert_eq!(status.state, ContainerState::Exited);
    assert_eq!(status.exit_code, Some(137), "{status:?}");
    assert!(status.oom_killed, "{status:?}");
}

#[test]
fn a_process_beyond_the_memory_limit_is_reported_oom_killed_with_crun() {
    memory_hog_is_oom_killed("oom_crun", Binary::Crun);
}

#[test]
fn a_process_beyond_the_memory_limit_is_reported_oom_killed_with_runc() {
    memory_hog_is_oom_killed("oom_runc", Binary::Runc);
}

#[test]
fn a_process_within_the_memory_limit_is_not_oom_killed() {
    let Some(env) = TestEnv::new("no_oom", Binary::Crun) else {
        return;
    };
    let rt = env.runtime();
    let mut spec = env.spec(
        "small",
        &["dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=4"],
    );
    spec.resources.memory_limit = Some(64 << 20);
    rt.run(&spec).unwrap();

    let status = rt.wait("small", WAIT).unwrap();

    assert_eq!(status.exit_code, Some(0), "{status:?}");
    assert!(!status.oom_killed);
}

fn limits_are_visible_in_the_cgroup(test: &str, runtime: Binary) {
    let Some(env) = TestEnv::new(test, runtime) else {
        return;
    };
    let rt = env.runtime();
    let mut spec = env.spec("limited", &["sleep", "1000"]);
    spec.resources = Resources {
        cpu_quota: Some(50_000),
        cpu_period: Some(100_000),
        cpu_shares: Some(512),
        pids_limit: Some(32),
        ..Resources::default()
    };
    let status = rt.run(&spec).unwrap();
    let layout = rt.cgroup_layout();

    assert_eq!(
        layout.cpu_quota(&status.cgroups_path).unwrap(),
        (Some(50_000), 100_000)
    );
    let pids_dir = layout.controller_dir("pids", &status.cgroups_path).unwrap();
    let pids_max = std::fs::read_to_string(pids_dir.join("pids.max")).unwrap();
    assert_eq!(pids_max.trim(), "32");
}

#[test]
fn cpu_quota_and_pids_limit_are_visible_in_the_cgroup_with_crun() {
    limits_are_visible_in_the_cgroup("cpu_crun", Binary::Crun);
}

#[test]
fn cpu_quota_and_pids_limit_are_visible_in_the_cgroup_with_runc() {
    limits_are_visible_in_the_cgroup("cpu_runc", Binary::Runc);
}

#[test]
fn mounts_read_only_rootfs_and_user_apply_inside_the_container() {
    let Some(env) = TestEnv::new("mounts", Binary::Crun) else {
        return;
    };
    let rt = env.runtime();
    let host_dir = env.dir.path().join("shared");
    std::fs::create_dir(&host_dir).unwrap();
    std::fs::write(host_dir.join("greeting"), "from host").unwrap();
    let mut spec = env.spec(
        "mounted",
        &[
            "sh",
            "-c",
            "cat /data/greeting; echo; id -u; touch /rootfile 2>/dev/null || echo ro; \
             touch /data/x 2>/dev/null || echo data-ro; grep -q ' /scratch tmpfs ' /proc/mounts && echo tmpfs",
        ],
    );
    spec.read_only_rootfs = true;
    spec.user.uid = 65534;
    spec.user.gid = 65534;
    spec.mounts = vec![
        MountSpec::Bind {
            source: host_dir,
            destination: "/data".into(),
            read_only: true,
        },
        MountSpec::Tmpfs {
            destination: "/scratch".into(),
            size_bytes: Some(1 << 20),
        },
    ];
    rt.run(&spec).unwrap();

    let status = rt.wait("mounted", WAIT).unwrap();

    assert_eq!(status.state, ContainerState::Exited);
    // `cat` writes without a newline and `echo` adds it: a P line then an F line.
    let lines = read_log(&spec.log_path).unwrap();
    let messages = messages(&lines, LogStream::Stdout);
    assert_eq!(messages, ["from host", "65534", "ro", "data-ro", "tmpfs"]);
}
