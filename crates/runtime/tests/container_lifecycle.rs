//! End-to-end lifecycle of real containers (crun and runc under conmon): run to completion,
//! exit codes, exec, stop, adoption by a new runtime handle, and removal. Needs root, crun,
//! runc, conmon and busybox-static; skips loudly otherwise unless SKIFF_REQUIRE_E2E=1.

mod container_support;

use std::time::{Duration, Instant};

use container_support::{TestEnv, WAIT, process_alive};
use skiff_runtime::container::logs::{LogReader, LogStream, read_log};
use skiff_runtime::container::rootfs::mounts_under;
use skiff_runtime::container::{
    Binary, CgroupLayout, ContainerRuntime, ContainerSpec, ContainerState, HostProbe, RuntimeConfig,
};

fn echo_hello_runs_to_completion(test: &str, runtime: Binary) {
    let Some(env) = TestEnv::new(test, runtime) else {
        return;
    };
    let rt = env.runtime();
    let spec = env.spec("hello", &["echo", "hello"]);

    let created = rt.run(&spec).expect("run echo");
    let status = rt.wait("hello", WAIT).unwrap();

    assert_eq!(status.state, ContainerState::Exited, "{status:?}");
    assert_eq!(status.exit_code, Some(0));
    assert!(!status.oom_killed);
    assert!(status.started_at.is_some() && status.finished_at.is_some());
    assert!(status.created_at <= status.finished_at.unwrap());
    assert_eq!(created.runtime.name(), runtime.name());
    let lines = read_log(&spec.log_path).unwrap();
    let hello = lines
        .iter()
        .find(|l| l.text == "hello")
        .unwrap_or_else(|| panic!("no hello in {:?}", env.log_text("hello")));
    assert_eq!(hello.stream, LogStream::Stdout);
    assert!(!hello.partial);
    assert!(
        env.log_text("hello").contains(" stdout F hello\n"),
        "{}",
        env.log_text("hello")
    );
    rt.remove("hello", false).unwrap();
}

#[test]
fn echo_hello_runs_to_completion_with_crun() {
    echo_hello_runs_to_completion("echo_crun", Binary::Crun);
}

#[test]
fn echo_hello_runs_to_completion_with_runc() {
    echo_hello_runs_to_completion("echo_runc", Binary::Runc);
}

#[test]
fn exit_code_and_stderr_of_the_process_are_recorded() {
    let Some(env) = TestEnv::new("exit_code", Binary::Crun) else {
        return;
    };
    let rt = env.runtime();
    rt.run(&env.spec("three", &["sh", "-c", "echo oops >&2; exit 3"]))
        .unwrap();

    let status = rt.wait("three", WAIT).unwrap();

    assert_eq!(status.exit_code, Some(3), "{status:?}");
    assert!(
        env.log_text("three").contains(" stderr F oops\n"),
        "{}",
        env.log_text("three")
    );
}

#[test]
fn a_long_running_container_execs_and_stops_with_sigkill_after_grace() {
    let Some(env) = TestEnv::new("stop", Binary::Crun) else {
        return;
    };
    let rt = env.runtime();
    rt.run(&env.spec("sleeper", &["sleep", "1000"])).unwrap();

    let status = rt.status("sleeper").unwrap();
    assert_eq!(status.state, ContainerState::Running);
    assert!(process_alive(status.pid.unwrap()));

    let out = rt
        .exec(
            "sleeper",
            &["echo".into(), "in".into()],
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(
        (out.exit_code, String::from_utf8_lossy(&out.stdout).as_ref()),
        (0, "in\n")
    );
    let failing = rt
        .exec(
            "sleeper",
            &["sh".into(), "-c".into(), "exit 4".into()],
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(failing.exit_code, 4);

    // busybox sleep as PID 1 ignores SIGTERM: only the SIGKILL after the grace ends it.
    let grace = Duration::from_millis(300);
    let started = Instant::now();
    let stopped = rt.stop("sleeper", grace).unwrap();
    assert!(started.elapsed() >= grace);
    assert_eq!(stopped.state, ContainerState::Exited);
    assert_eq!(stopped.exit_code, Some(137));
    assert!(rt.exec("sleeper", &["true".into()], WAIT).is_err());
}

#[test]
fn a_container_outlives_its_runtime_handle_and_a_new_one_adopts_it() {
    let Some(mut env) = TestEnv::new("adopt", Binary::Crun) else {
        return;
    };
    let spec = env.spec("survivor", &["sleep", "1000"]);
    let pid = env.runtime().run(&spec).unwrap().pid.unwrap();

    // The agent goes away: nothing of the container lives in its memory.
    drop(env.runtime.take());
    std::thread::sleep(Duration::from_millis(100));
    assert!(process_alive(pid));

    let adopted = ContainerRuntime::new(env.config.clone()).unwrap();
    let listed = adopted.list().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "survivor");
    assert_eq!(listed[0].state, ContainerState::Running);
    assert_eq!(listed[0].pid, Some(pid));
    assert_eq!(adopted.spec("survivor").unwrap(), spec);
    let out = adopted
        .exec("survivor", &["hostname".into()], Duration::from_secs(10))
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "survivor\n");
    let stopped = adopted.stop("survivor", Duration::ZERO).unwrap();
    assert_eq!(stopped.state, ContainerState::Exited);
    env.runtime = Some(adopted);
}

fn removal_leaves_nothing_behind(test: &str, runtime: Binary) {
    let Some(env) = TestEnv::new(test, runtime) else {
        return;
    };
    let rt = env.runtime();
    let status = rt.run(&env.spec("doomed", &["sleep", "1000"])).unwrap();
    let bundle = rt.bundle_dir("doomed");
    let monitor = status.monitor_pid.expect("monitor runs");
    let cgroup_dirs = rt.cgroup_layout().dirs(&status.cgroups_path);
    assert!(!mounts_under(&bundle).is_empty());
    assert!(cgroup_dirs.iter().any(|d| d.exists()));

    assert!(rt.remove("doomed", false).is_err(), "running needs force");
    rt.remove("doomed", true).unwrap();

    assert!(mounts_under(&bundle).is_empty());
    assert!(!bundle.exists());
    let left: Vec<_> = cgroup_dirs.iter().filter(|d| d.exists()).collect();
    assert!(left.is_empty(), "cgroups left: {left:?}");
    assert!(!process_alive(monitor), "monitor {monitor} still alive");
    assert!(!process_alive(status.pid.unwrap()));
    assert!(rt.list().unwrap().is_empty());
    assert!(matches!(
        rt.status("doomed"),
        Err(skiff_runtime::container::ContainerError::NotFound { .. })
    ));
}

#[test]
fn removal_leaves_no_mount_cgroup_or_monitor_with_crun() {
    removal_leaves_nothing_behind("remove_crun", Binary::Crun);
}

#[test]
fn removal_leaves_no_mount_cgroup_or_monitor_with_runc() {
    removal_leaves_nothing_behind("remove_runc", Binary::Runc);
}

#[test]
fn creating_twice_the_same_id_is_refused_and_leaves_the_first_intact() {
    let Some(env) = TestEnv::new("twice", Binary::Crun) else {
        return;
    };
    let rt = env.runtime();
    rt.run(&env.spec("one", &["sleep", "1000"])).unwrap();

    let again = rt.create(&env.spec("one", &["true"]));

    assert!(matches!(
        again,
        Err(skiff_runtime::container::ContainerError::AlreadyExists { .. })
    ));
    assert_eq!(rt.status("one").unwrap().state, ContainerState::Running);
}

#[test]
fn a_failing_create_reports_the_runtime_error_and_cleans_up() {
    let Some(env) = TestEnv::new("bad_create", Binary::Crun) else {
        return;
    };
    let rt = env.runtime();
    let spec = env.spec("broken", &["/no/such/binary"]);

    let error = rt.run(&spec).map(|_| ()).unwrap_err().to_string();

    assert!(error.contains("broken"), "{error}");
    // crun reports a missing executable at create or start; either way the text names it.
    assert!(
        error.contains("/no/such/binary") || error.contains("No such file"),
        "{error}"
    );
}

/// Not an assertion of speed: prints the median create+start+exit time of `true` per
/// runtime, for the report.
#[test]
fn create_start_latency_of_true_is_reported() {
    for (test, runtime) in [
        ("latency_crun", Binary::Crun),
        ("latency_runc", Binary::Runc),
    ] {
        let Some(env) = TestEnv::new(test, runtime) else {
            return;
        };
        let rt = env.runtime();
        let mut runs = Vec::new();
        for i in 0..7 {
            let id = format!("t{i}");
            let started = Instant::now();
            rt.run(&env.spec(&id, &["true"])).unwrap();
            let create_start = started.elapsed();
            let status = rt.wait(&id, WAIT).unwrap();
            assert_eq!(status.exit_code, Some(0));
            runs.push(create_start);
            rt.remove(&id, false).unwrap();
        }
        runs.sort();
        eprintln!(
            "{}: median create+start of `true`: {:?}",
            runtime.name(),
            runs[3]
        );
    }
}

const AGENT_ROOT: &str = "SKIFF_TEST_AGENT_ROOT";
const AGENT_SPEC: &str = "SKIFF_TEST_AGENT_SPEC";

/// Plays an agent process that starts a container and exits; the test below runs it as a
/// child process.
#[test]
#[ignore = "helper: run as a child process by a_container_outlives_the_agent_process_that_started_it"]
fn helper_agent_starts_a_container_and_exits() {
    let (Ok(root), Ok(spec)) = (std::env::var(AGENT_ROOT), std::env::var(AGENT_SPEC)) else {
        return;
    };
    let spec: ContainerSpec = serde_json::from_str(&spec).unwrap();
    let runtime = ContainerRuntime::new(RuntimeConfig::detect(root).unwrap()).unwrap();
    runtime.run(&spec).unwrap();
}

#[test]
fn a_container_outlives_the_agent_process_that_started_it() {
    let Some(env) = TestEnv::new("agent_exit", Binary::Crun) else {
        return;
    };
    let spec = env.spec("orphan", &["sleep", "1000"]);
    let agent = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "helper_agent_starts_a_container_and_exits",
            "--exact",
            "--ignored",
            "--quiet",
        ])
        .env(AGENT_ROOT, &env.config.root)
        .env(AGENT_SPEC, serde_json::to_string(&spec).unwrap())
        .output()
        .unwrap();
    assert!(agent.status.success(), "agent failed: {agent:?}");

    let rt = env.runtime();
    let status = rt.status("orphan").unwrap();
    assert_eq!(status.state, ContainerState::Running, "{status:?}");
    assert!(process_alive(status.pid.unwrap()));
    assert!(process_alive(status.monitor_pid.unwrap()));
    let out = rt
        .exec("orphan", &["echo".into(), "still here".into()], WAIT)
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "still here\n");
    assert_eq!(
        rt.stop("orphan", Duration::ZERO).unwrap().exit_code,
        Some(137)
    );
}

#[test]
fn following_a_log_yields_lines_while_the_container_runs() {
    let Some(env) = TestEnv::new("follow", Binary::Crun) else {
        return;
    };
    let rt = env.runtime();
    let spec = env.spec(
        "talker",
        &[
            "sh",
            "-c",
            "for i in 1 2 3; do echo line$i; sleep 0.2; done",
        ],
    );
    rt.run(&spec).unwrap();

    let mut lines = Vec::new();
    let mut first_seen_running = None;
    LogReader::new(&spec.log_path)
        .follow(
            Duration::from_millis(20),
            WAIT,
            || rt.status("talker").unwrap().state == ContainerState::Exited,
            |line| {
                if first_seen_running.is_none() {
                    first_seen_running = Some(rt.status("talker").unwrap().state);
                }
                lines.push(line.text);
            },
        )
        .unwrap();

    assert_eq!(lines, ["line1", "line2", "line3"]);
    assert_eq!(first_seen_running, Some(ContainerState::Running));
}

#[test]
fn a_container_that_handles_sigterm_stops_within_the_grace_period() {
    let Some(env) = TestEnv::new("graceful", Binary::Runc) else {
        return;
    };
    let rt = env.runtime();
    let script = "trap 'echo got term; exit 7' TERM; echo ready; while true; do sleep 0.1; done";
    rt.run(&env.spec("polite", &["sh", "-c", script])).unwrap();
    let deadline = Instant::now() + WAIT;
    while !env.log_text("polite").contains(" F ready") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }

    let started = Instant::now();
    let status = rt.stop("polite", Duration::from_secs(15)).unwrap();

    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status.exit_code, Some(7), "{status:?}");
    assert!(env.log_text("polite").contains(" stdout F got term\n"));
}

#[test]
fn a_created_container_that_never_started_is_removed() {
    let Some(env) = TestEnv::new("never_started", Binary::Crun) else {
        return;
    };
    let rt = env.runtime();
    let created = rt.create(&env.spec("idle", &["echo", "never"])).unwrap();
    assert_eq!(created.state, ContainerState::Created);
    assert!(process_alive(created.pid.unwrap()));

    rt.remove("idle", true).unwrap();

    assert!(!process_alive(created.pid.unwrap()));
    assert!(!process_alive(created.monitor_pid.unwrap()));
    assert!(!env.log_text("idle").contains("never"));
}

#[test]
fn a_container_whose_monitor_died_is_unknown_and_still_removable() {
    let Some(env) = TestEnv::new("monitor_died", Binary::Runc) else {
        return;
    };
    let rt = env.runtime();
    let status = rt.run(&env.spec("stray", &["sleep", "1000"])).unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &status.monitor_pid.unwrap().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + WAIT;
    while rt.status("stray").unwrap().state != ContainerState::Unknown && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(rt.status("stray").unwrap().state, ContainerState::Unknown);
    assert!(
        process_alive(status.pid.unwrap()),
        "the container outlives its monitor"
    );

    rt.remove("stray", true).unwrap();

    assert!(!process_alive(status.pid.unwrap()));
    assert!(mounts_under(&rt.bundle_dir("stray")).is_empty());
}

/// Turns this process' (private) mount namespace into a pure cgroup v2 host, then runs
/// `echo` with each runtime; the test below runs it under `unshare --mount`.
#[test]
#[ignore = "helper: run in a private mount namespace by containers_run_on_a_pure_cgroup_v2_host"]
fn helper_pure_cgroup_v2_host_runs_echo() {
    let (Ok(root), Ok(spec)) = (std::env::var(AGENT_ROOT), std::env::var(AGENT_SPEC)) else {
        return;
    };
    let remount = std::process::Command::new("sh")
        .args([
            "-c",
            "umount -R /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup",
        ])
        .status()
        .unwrap();
    assert!(remount.success());
    let layout = CgroupLayout::detect().unwrap();
    assert!(matches!(layout, CgroupLayout::Unified { .. }), "{layout:?}");

    let base: ContainerSpec = serde_json::from_str(&spec).unwrap();
    let host = HostProbe::detect();
    let rt = ContainerRuntime::new(RuntimeConfig::detect(root).unwrap()).unwrap();
    for runtime in [Binary::Crun, Binary::Runc] {
        if runtime == Binary::Crun && !has_cap_sys_resource() {
            // crun raises RLIMIT_MEMLOCK for its eBPF device filter on cgroup v2, which
            // needs CAP_SYS_RESOURCE; some sandboxes (firecracker VMs here) drop it.
            eprintln!("!!! pure v2: skipping crun, this process lacks CAP_SYS_RESOURCE");
            continue;
        }
        let id = format!("v2-{}", runtime.name());
        let spec = ContainerSpec {
            id: id.clone(),
            runtime: Some(host.runtime(runtime).unwrap()),
            log_path: base.log_path.with_file_name(format!("{id}.log")),
            ..base.clone()
        };
        let status = rt.run(&spec).unwrap();
        let cgroup = layout.dirs(&status.cgroups_path);
        let done = rt.wait(&id, WAIT).unwrap();
        assert_eq!(done.exit_code, Some(0), "{done:?}");
        let log = std::fs::read_to_string(&spec.log_path).unwrap();
        assert!(log.contains(" stdout F hello\n"), "{log}");
        rt.remove(&id, false).unwrap();
        assert!(cgroup.iter().all(|d| !d.exists()), "{cgroup:?} left");
    }
}

fn has_cap_sys_resource() -> bool {
    const CAP_SYS_RESOURCE: u32 = 24;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & (1 << CAP_SYS_RESOURCE) != 0)
}

#[test]
fn containers_run_on_a_pure_cgroup_v2_host() {
    let Some(env) = TestEnv::new("pure_v2", Binary::Crun) else {
        return;
    };
    if !matches!(
        env.runtime().cgroup_layout(),
        CgroupLayout::Legacy {
            unified: Some(_),
            ..
        }
    ) {
        // On a pure v2 host every other test covers this already; on pure v1 there is no
        // cgroup2 hierarchy to show.
        eprintln!("containers_run_on_a_pure_cgroup_v2_host: host is not hybrid, nothing to add");
        return;
    }
    let spec = env.spec("v2", &["echo", "hello"]);
    let unshare = HostProbe::detect().require(Binary::Unshare).unwrap();
    let helper = std::process::Command::new(unshare)
        .args(["--mount", "--propagation", "private"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "helper_pure_cgroup_v2_host_runs_echo",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(AGENT_ROOT, &env.config.root)
        .env(AGENT_SPEC, serde_json::to_string(&spec).unwrap())
        .output()
        .unwrap();
    assert!(
        helper.status.success() && String::from_utf8_lossy(&helper.stdout).contains("1 passed"),
        "pure v2 helper failed:\n{}\n{}",
        String::from_utf8_lossy(&helper.stdout),
        String::from_utf8_lossy(&helper.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&helper.stderr));
}
