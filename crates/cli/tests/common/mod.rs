//! Shared end-to-end harness: a real `skiff server` on a free port with a temporary
//! data dir, and the real kubectl, Python client and an HTTPS client pointed at it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A tool the end-to-end tests drive, from its environment variable or the default
/// location `scripts/install-deps.sh` installs it to.
pub fn tool(var: &str, default_rel: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        let dir =
            std::env::var_os("SKIFF_TOOLS_DIR").unwrap_or_else(|| "/var/lib/skiff-tools".into());
        Path::new(&dir).join(default_rel)
    });
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-deps.sh (or set {var})",
        path.display()
    );
    path
}

pub fn kubectl_path() -> PathBuf {
    tool("SKIFF_KUBECTL", "bin/kubectl")
}

pub fn python_path() -> PathBuf {
    tool("SKIFF_PYTHON", "venv/bin/python")
}

/// A running server; killed and cleaned up on drop.
pub struct TestServer {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub kubeconfig: PathBuf,
}

impl TestServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir)
    }

    /// Starts a server on an existing data dir (for restart tests).
    pub fn start_in(dir: tempfile::TempDir) -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["server", "--data-dir"])
            .arg(dir.path())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env(
                "SKIFF_LOG",
                std::env::var("SKIFF_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn skiff server");
        wait_listening(&mut child);
        let kubeconfig = dir.path().join("admin.kubeconfig");
        TestServer {
            child,
            dir,
            port,
            kubeconfig,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Runs kubectl against this server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(kubectl_path());
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kubectl");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// Starts kubectl on a thread, for commands that wait (wait, delete) while the
    /// test changes the world.
    pub fn kubectl_background(&self, args: &[&str]) -> std::thread::JoinHandle<Output> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let kubeconfig = self.kubeconfig.clone();
        let home = self.dir.path().to_path_buf();
        std::thread::spawn(move || {
            Command::new(kubectl_path())
                .args(&args)
                .env("KUBECONFIG", kubeconfig)
                .env("HOME", home)
                .output()
                .expect("kubectl in the background")
        })
    }

    /// Runs kubectl and returns stdout, failing the test on a non-zero exit.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn kubectl_apply_stdin(&self, args: &[&str], manifest: &str) -> String {
        let out = self.kubectl_stdin(args, Some(manifest));
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An HTTPS client authenticated as the admin.
    pub fn http(&self) -> reqwest::blocking::Client {
        let config: serde_yaml_ng::Value =
            serde_yaml_ng::from_slice(&std::fs::read(&self.kubeconfig).expect("kubeconfig"))
                .expect("yaml");
        let b64 = |v: &serde_yaml_ng::Value| {
            use base64::Engine;
            let s = v.as_str().expect("base64 field");
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .expect("valid base64")
        };
        let ca = b64(&config["clusters"][0]["cluster"]["certificate-authority-data"]);
        let mut identity = b64(&config["users"][0]["user"]["client-certificate-data"]);
        identity.extend(b64(&config["users"][0]["user"]["client-key-data"]));
        reqwest::blocking::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("ca"))
            .identity(reqwest::Identity::from_pem(&identity).expect("identity"))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    }

    /// An HTTPS client without credentials.
    pub fn anonymous_http(&self) -> reqwest::blocking::Client {
        reqwest::blocking::Client::builder()
            .danger_accept_invalid_certs(true)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited 0.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Stops the server, keeping its data dir.
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("placeholder dir");
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Reads the server's log until it says it listens; forwards the rest to stderr.
fn wait_listening(child: &mut Child) {
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("API server listening")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(());
            }
            eprintln!("[skiff] {line}");
        }
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        panic!("skiff server did not start listening within 30 s");
    }
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
