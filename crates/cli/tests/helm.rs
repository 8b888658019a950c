//! End to end with the real helm v4: a chart holding a workload, its settings, a
//! CustomResourceDefinition and a custom resource goes through install, upgrade,
//! rollback, history and uninstall, checked with the real kubectl.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{TestServer, eventually, tool};

const RELEASE: &str = "demo";
const NAMESPACE: &str = "gadgets";
const CRD: &str = "gadgets.demo.skiff.dev";

/// helm's own limit for each Kubernetes operation; the process limit below is a
/// second guard so a stuck client fails the test instead of hanging it.
const HELM_TIMEOUT: &str = "60s";
const HELM_PROCESS_LIMIT: Duration = Duration::from_secs(180);

/// Values a revision was rendered with, as they show up in the objects.
struct Rendered {
    greeting: &'static str,
    replicas: &'static str,
    gadget_size: &'static str,
}

const FIRST: Rendered = Rendered {
    greeting: "hello",
    replicas: "1",
    gadget_size: "3",
};

const UPGRADED: Rendered = Rendered {
    greeting: "bonjour",
    replicas: "2",
    gadget_size: "5",
};

/// The helm binary with its cache, configuration and data homes in a temporary
/// directory, pointed at one server through `--kubeconfig`.
struct Helm {
    bin: PathBuf,
    home: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Helm {
    fn new(server: &TestServer) -> Self {
        Helm {
            bin: tool("SKIFF_HELM", "bin/helm"),
            home: tempfile::tempdir().expect("helm home"),
            kubeconfig: server.kubeconfig.clone(),
        }
    }

    /// Runs helm, killing it if it outlives `HELM_PROCESS_LIMIT`.
    fn run(&self, args: &[&str]) -> Output {
        let home = self.home.path();
        let child = Command::new(&self.bin)
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env_remove("KUBECONFIG")
            .env("HOME", home)
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn helm");
        let pid = child.id().to_string();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(HELM_PROCESS_LIMIT) {
            Ok(output) => output.expect("helm output"),
            Err(_) => {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
                panic!("helm {args:?} did not finish within {HELM_PROCESS_LIMIT:?}");
            }
        }
    }

    /// Runs helm and returns stdout, failing the test on a non-zero exit.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "helm {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `helm list -o json` in the test namespace.
    fn releases(&self) -> Vec<serde_json::Value> {
        let out = self.ok(&["list", "--namespace", NAMESPACE, "--output", "json"]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("helm list json: {e}\n{out}"))
    }

    /// `helm history -o json` of the test release.
    fn history(&self) -> Vec<serde_json::Value> {
        let out = self.ok(&["history", RELEASE, "--namespace", NAMESPACE, "-o", "json"]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("helm history json: {e}\n{out}"))
    }
}

fn chart_dir() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gadget-chart"
    ))
}

/// helm writes a revision as a string in `list` and as a number in `history`.
fn revision(release: &serde_json::Value) -> String {
    match &release["revision"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn assert_single_release(helm: &Helm, want_revision: &str) {
    let releases = helm.releases();
    assert_eq!(releases.len(), 1, "{releases:?}");
    let release = &releases[0];
    assert_eq!(release["name"], RELEASE, "{release}");
    assert_eq!(release["namespace"], NAMESPACE, "{release}");
    assert_eq!(release["status"], "deployed", "{release}");
    assert_eq!(release["chart"], "gadget-0.1.0", "{release}");
    assert_eq!(revision(release), want_revision, "{release}");
}

fn get(server: &TestServer, kind: &str, name: &str, jsonpath: &str) -> String {
    let path = format!("jsonpath={jsonpath}");
    server.kubectl_ok(&["get", kind, name, "--namespace", NAMESPACE, "-o", &path])
}

/// Every object of the chart exists and carries the values of `want`.
fn assert_rendered(server: &TestServer, want: &Rendered) {
    let settings = get(
        server,
        "configmap",
        "demo-settings",
        "{.data.GREETING} {.data.REPLICAS}",
    );
    assert_eq!(settings, format!("{} {}", want.greeting, want.replicas));

    let replicas = get(server, "deployment", "demo-web", "{.spec.replicas}");
    assert_eq!(replicas, want.replicas);
    let image = get(
        server,
        "deployment",
        "demo-web",
        "{.spec.template.spec.containers[0].image}",
    );
    assert_eq!(image, "busybox:1.36");

    let port = get(server, "service", "demo-web", "{.spec.ports[0].port}");
    assert_eq!(port, "80");

    // "s3cret" in base64.
    let token = get(server, "secret", "demo-token", "{.data.TOKEN}");
    assert_eq!(token, "czNjcmV0");

    let size = get(
        server,
        "gadgets.demo.skiff.dev",
        "demo-gadget",
        "{.spec.size} {.spec.color}",
    );
    assert_eq!(size, format!("{} blue", want.gadget_size));
}

/// helm marks what it manages and, applying server-side, owns the fields as "helm".
fn assert_owned_by_the_release(server: &TestServer) {
    let marks = get(
        server,
        "configmap",
        "demo-settings",
        "{.metadata.annotations.meta\\.helm\\.sh/release-name} \
         {.metadata.annotations.meta\\.helm\\.sh/release-namespace} \
         {.metadata.labels.app\\.kubernetes\\.io/managed-by}",
    );
    assert_eq!(marks, format!("{RELEASE} {NAMESPACE} Helm"));

    let managers = get(
        server,
        "configmap",
        "demo-settings",
        "{.metadata.managedFields[*].manager}",
    );
    assert!(
        managers.split_whitespace().any(|m| m == "helm"),
        "helm does not manage any field: {managers:?}"
    );
}

/// The names of helm's release Secrets for the test release.
fn release_secrets(server: &TestServer) -> Vec<String> {
    let selector = format!("owner=helm,name={RELEASE}");
    let out = server.kubectl_ok(&[
        "get",
        "secrets",
        "--namespace",
        NAMESPACE,
        "-l",
        &selector,
        "-o",
        "name",
    ]);
    let mut names: Vec<String> = out.lines().map(str::to_owned).collect();
    names.sort();
    names
}

fn assert_release_secrets(server: &TestServer, revisions: u32) {
    let want: Vec<String> = (1..=revisions)
        .map(|n| format!("secret/sh.helm.release.v1.{RELEASE}.v{n}"))
        .collect();
    assert_eq!(release_secrets(server), want);
}

/// The Gadget kind is served with the printer columns of its definition.
fn assert_gadget_columns(server: &TestServer, want: &Rendered) {
    let table = server.kubectl_ok(&["get", "gadgets", "--namespace", NAMESPACE]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SIZE", "COLOR", "AGE"], "{table}");
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row.get(..3),
        Some(&["demo-gadget", want.gadget_size, "blue"][..]),
        "{table}"
    );
}

fn install(helm: &Helm, server: &TestServer) {
    let chart = chart_dir().to_str().expect("utf-8 chart path");
    helm.ok(&[
        "install",
        RELEASE,
        chart,
        "--namespace",
        NAMESPACE,
        "--create-namespace",
        "--timeout",
        HELM_TIMEOUT,
    ]);

    server.kubectl_ok(&["get", "namespace", NAMESPACE]);
    let established = server.kubectl_ok(&[
        "get",
        "crd",
        CRD,
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status}",
    ]);
    assert_eq!(established, "True");
    assert_rendered(server, &FIRST);
    assert_owned_by_the_release(server);
    assert_gadget_columns(server, &FIRST);
    assert_single_release(helm, "1");
    assert_release_secrets(server, 1);
}

fn upgrade(helm: &Helm, server: &TestServer) {
    let chart = chart_dir().to_str().expect("utf-8 chart path");
    helm.ok(&[
        "upgrade",
        RELEASE,
        chart,
        "--namespace",
        NAMESPACE,
        "--timeout",
        HELM_TIMEOUT,
        "--set",
        "replicaCount=2",
        "--set",
        "greeting=bonjour",
        "--set",
        "gadget.size=5",
    ]);

    assert_rendered(server, &UPGRADED);
    assert_gadget_columns(server, &UPGRADED);
    assert_single_release(helm, "2");
    assert_release_secrets(server, 2);
}

fn rollback(helm: &Helm, server: &TestServer) {
    helm.ok(&[
        "rollback",
        RELEASE,
        "1",
        "--namespace",
        NAMESPACE,
        "--timeout",
        HELM_TIMEOUT,
    ]);

    assert_rendered(server, &FIRST);
    assert_single_release(helm, "3");
    assert_release_secrets(server, 3);

    let history = helm.history();
    let summary: Vec<(String, &str)> = history
        .iter()
        .map(|r| (revision(r), r["status"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        summary,
        [
            ("1".to_owned(), "superseded"),
            ("2".to_owned(), "superseded"),
            ("3".to_owned(), "deployed"),
        ],
        "{history:?}"
    );
    let description = history[2]["description"].as_str().unwrap_or_default();
    assert!(description.contains("Rollback to 1"), "{description}");
}

fn uninstall(helm: &Helm, server: &TestServer) {
    helm.ok(&[
        "uninstall",
        RELEASE,
        "--namespace",
        NAMESPACE,
        "--timeout",
        HELM_TIMEOUT,
    ]);

    let kinds = "deployments,services,configmaps,secrets,gadgets.demo.skiff.dev";
    let gone = eventually(Duration::from_secs(30), || {
        let out = server.kubectl_ok(&[
            "get",
            kinds,
            "--namespace",
            NAMESPACE,
            "-l",
            "app.kubernetes.io/instance=demo",
            "-o",
            "name",
        ]);
        out.trim().is_empty()
    });
    assert!(gone, "the release's objects stayed after uninstall");
    assert!(
        release_secrets(server).is_empty(),
        "helm's release Secrets stayed"
    );
    assert!(helm.releases().is_empty(), "helm still lists the release");

    // helm never deletes the CRDs of a chart's crds/ folder.
    server.kubectl_ok(&["get", "crd", CRD]);
}

#[test]
fn a_chart_with_a_crd_installs_upgrades_rolls_back_and_uninstalls() {
    let server = TestServer::start();
    let helm = Helm::new(&server);

    install(&helm, &server);
    upgrade(&helm, &server);
    rollback(&helm, &server);
    uninstall(&helm, &server);
}
