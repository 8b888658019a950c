//! End to end with the real kubectl: output formats, selectors, label and annotate,
//! patch, scale, watch, wait, dry run, api-resources and finalizers.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{TestServer, eventually, kubectl_path};

fn configmaps(server: &TestServer) {
    for (name, tier, n) in [
        ("alpha", "web", "3"),
        ("beta", "db", "1"),
        ("gamma", "web", "2"),
    ] {
        server.kubectl_ok(&[
            "create",
            "configmap",
            name,
            &format!("--from-literal=n={n}"),
        ]);
        server.kubectl_ok(&["label", "configmap", name, &format!("tier={tier}")]);
    }
}

#[test]
fn get_supports_output_formats_selectors_and_sorting() {
    let server = TestServer::start();
    configmaps(&server);
    server.kubectl_ok(&["create", "namespace", "other"]);
    server.kubectl_ok(&["create", "configmap", "delta", "-n", "other"]);

    let names = server.kubectl_ok(&["get", "cm", "-o", "name", "-l", "tier=web"]);
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        ["configmap/alpha", "configmap/gamma"]
    );
    let names = server.kubectl_ok(&["get", "cm", "-o", "name", "-l", "tier in (db),tier!=web"]);
    assert_eq!(names.trim(), "configmap/beta");
    let names = server.kubectl_ok(&[
        "get",
        "cm",
        "-o",
        "name",
        "--field-selector",
        "metadata.name=gamma",
    ]);
    assert_eq!(names.trim(), "configmap/gamma");
    let names = server.kubectl_ok(&[
        "get",
        "cm",
        "-o",
        "name",
        "--field-selector",
        "metadata.name!=gamma",
        "-l",
        "tier",
    ]);
    assert_eq!(names.lines().count(), 2, "{names}");

    let all = server.kubectl_ok(&["get", "cm", "-A"]);
    assert!(all.starts_with("NAMESPACE"), "{all}");
    assert!(all.contains("other") && all.contains("delta"), "{all}");

    let labels = server.kubectl_ok(&["get", "cm", "alpha", "--show-labels"]);
    assert!(
        labels.contains("LABELS") && labels.contains("tier=web"),
        "{labels}"
    );

    let sorted = server.kubectl_ok(&[
        "get",
        "cm",
        "-l",
        "tier",
        "--sort-by",
        ".data.n",
        "-o",
        "name",
    ]);
    assert_eq!(
        sorted.lines().collect::<Vec<_>>(),
        ["configmap/beta", "configmap/gamma", "configmap/alpha"]
    );

    let value = server.kubectl_ok(&["get", "cm", "alpha", "-o", "jsonpath={.data.n}"]);
    assert_eq!(value, "3");
    let yaml = server.kubectl_ok(&["get", "cm", "alpha", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: ConfigMap") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    let json = server.kubectl_ok(&["get", "cm", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(3), "{json}");
}

#[test]
fn get_wide_shows_the_priority_columns() {
    let server = TestServer::start();
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  nodeName: node-a\n  containers: [{name: c, image: nginx}]\n";
    server.kubectl_apply_stdin(&["create", "-f", "-"], manifest);
    let wide = server.kubectl_ok(&["get", "pods", "-o", "wide"]);
    let header = wide.lines().next().unwrap_or_default();
    for column in [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ] {
        assert!(header.contains(column), "missing {column}: {header}");
    }
    assert!(wide.contains("node-a"), "{wide}");
}

#[test]
fn label_annotate_and_patch_change_objects() {
    let server = TestServer::start();
    server.kubectl_ok(&["create", "configmap", "c", "--from-literal=a=1"]);
    server.kubectl_ok(&["label", "cm", "c", "color=red"]);
    let out = server.kubectl(&["label", "cm", "c", "color=blue"]);
    assert!(
        !out.status.success(),
        "relabel without --overwrite must fail"
    );
    server.kubectl_ok(&["label", "cm", "c", "color=blue", "--overwrite"]);
    server.kubectl_ok(&["annotate", "cm", "c", "note=one"]);
    server.kubectl_ok(&["annotate", "cm", "c", "note=two", "--overwrite"]);
    let got = server.kubectl_ok(&[
        "get",
        "cm",
        "c",
        "-o",
        "jsonpath={.metadata.labels.color} {.metadata.annotations.note}",
    ]);
    assert_eq!(got, "blue two");

    server.kubectl_ok(&[
        "patch",
        "cm",
        "c",
        "--type=merge",
        "-p",
        r#"{"data":{"b":"2"}}"#,
    ]);
    server.kubectl_ok(&[
        "patch",
        "cm",
        "c",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/data/a"},{"op":"add","path":"/data/c","value":"3"}]"#,
    ]);
    let data = server.kubectl_ok(&["get", "cm", "c", "-o", "jsonpath={.data}"]);
    let data: serde_json::Value = serde_json::from_str(&data).expect("json");
    assert_eq!(data, serde_json::json!({"b": "2", "c": "3"}));

    let out = server.kubectl(&[
        "patch",
        "cm",
        "c",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/data/b","value":"nope"}]"#,
    ]);
    assert!(
        !out.status.success(),
        "a failing json patch test must be rejected"
    );
}

#[test]
fn scale_changes_replicas_through_the_scale_subresource() {
    let server = TestServer::start();
    server.kubectl_ok(&[
        "create",
        "deployment",
        "web",
        "--image=nginx:1.27",
        "--replicas=2",
    ]);
    let gen1 = server.kubectl_ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.metadata.generation}",
    ]);
    server.kubectl_ok(&["scale", "deployment", "web", "--replicas=5"]);
    let replicas = server.kubectl_ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "5");
    let gen2 = server.kubectl_ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.metadata.generation}",
    ]);
    assert_eq!(
        gen2.parse::<i64>().unwrap(),
        gen1.parse::<i64>().unwrap() + 1
    );
    let out = server.kubectl(&[
        "scale",
        "deployment",
        "web",
        "--replicas=1",
        "--resource-version=1",
    ]);
    assert!(
        !out.status.success(),
        "a stale resourceVersion must conflict"
    );
}

/// Runs `kubectl get -w` in the background and hands its output lines over.
fn watch_lines(
    server: &TestServer,
    args: &[&str],
) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = Command::new(kubectl_path())
        .args(args)
        .env("KUBECONFIG", &server.kubeconfig)
        .env("HOME", server.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kubectl");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn expect_line(rx: &mpsc::Receiver<String>, want: &[&str]) -> String {
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("no line with {want:?}"));
        if want.iter().all(|w| line.contains(w)) {
            return line;
        }
    }
}

#[test]
fn get_watch_reports_additions_changes_and_deletions() {
    let server = TestServer::start();
    server.kubectl_ok(&["create", "configmap", "first"]);
    let (mut child, rx) = watch_lines(&server, &["get", "cm", "-w", "--output-watch-events"]);
    expect_line(&rx, &["ADDED", "first"]);
    server.kubectl_ok(&["create", "configmap", "second"]);
    expect_line(&rx, &["ADDED", "second"]);
    server.kubectl_ok(&["label", "cm", "second", "x=y"]);
    expect_line(&rx, &["MODIFIED", "second"]);
    server.kubectl_ok(&["delete", "cm", "second"]);
    expect_line(&rx, &["DELETED", "second"]);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn wait_sees_conditions_and_deletions() {
    let server = TestServer::start();
    let manifest = "apiVersion: v1\nkind: Pod\nmetadata: {name: w}\nspec:\n  containers: [{name: c, image: nginx}]\n";
    server.kubectl_apply_stdin(&["create", "-f", "-"], manifest);
    let waiter =
        server.kubectl_background(&["wait", "--for=condition=Ready", "pod/w", "--timeout=30s"]);
    std::thread::sleep(Duration::from_millis(500));
    let status = r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#;
    server.kubectl_ok(&[
        "patch",
        "pod",
        "w",
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ]);
    let out = waiter.join().expect("waiter");
    assert!(
        out.status.success(),
        "wait failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("condition met"));

    let waiter = server.kubectl_background(&["wait", "--for=delete", "pod/w", "--timeout=30s"]);
    std::thread::sleep(Duration::from_millis(500));
    server.kubectl_ok(&["delete", "pod", "w"]);
    let out = waiter.join().expect("waiter");
    assert!(
        out.status.success(),
        "wait --for=delete failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn server_dry_run_stores_nothing() {
    let server = TestServer::start();
    let out = server.kubectl_ok(&[
        "create",
        "configmap",
        "dry",
        "--dry-run=server",
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    assert!(
        !out.is_empty(),
        "dry run answers the object it would create"
    );
    let gone = server.kubectl(&["get", "cm", "dry"]);
    assert!(!gone.status.success());
}

#[test]
fn api_resources_lists_kinds_with_short_names() {
    let server = TestServer::start();
    let out = server.kubectl_ok(&["api-resources"]);
    for row in [
        ("pods", "po"),
        ("deployments", "deploy"),
        ("namespaces", "ns"),
        ("cronjobs", "cj"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(row.0) && l.split_whitespace().nth(1) == Some(row.1)),
            "{row:?} missing:\n{out}"
        );
    }
    let namespaced = server.kubectl_ok(&["api-resources", "--namespaced=false", "-o", "name"]);
    assert!(namespaced.lines().any(|l| l == "nodes") && !namespaced.lines().any(|l| l == "pods"));
}

#[test]
fn delete_waits_for_finalizers_to_be_removed() {
    let server = TestServer::start();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n";
    server.kubectl_apply_stdin(&["create", "-f", "-"], manifest);
    let deleter = server.kubectl_background(&["delete", "cm", "held", "--timeout=30s"]);
    assert!(eventually(Duration::from_secs(10), || {
        let ts = server.kubectl_ok(&[
            "get",
            "cm",
            "held",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ]);
        !ts.is_empty()
    }));
    assert!(
        !deleter.is_finished(),
        "delete must wait while a finalizer holds the object"
    );
    server.kubectl_ok(&[
        "patch",
        "cm",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    let out = deleter.join().expect("deleter");
    assert!(
        out.status.success(),
        "delete failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!server.kubectl(&["get", "cm", "held"]).status.success());
}

#[test]
fn create_of_an_existing_object_conflicts() {
    let server = TestServer::start();
    server.kubectl_ok(&["create", "configmap", "twice"]);
    let out = server.kubectl(&["create", "configmap", "twice"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("configmaps \"twice\" already exists"));
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: applied, labels: {app: applied}}
spec:
  replicas: 2
  selector: {matchLabels: {app: applied}}
  template:
    metadata: {labels: {app: applied}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        env: [{name: A, value: '1'}, {name: B, value: '2'}]
";

#[test]
fn apply_creates_leaves_unchanged_and_updates_through_strategic_merge() {
    let server = TestServer::start();
    let out = server.kubectl_apply_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert!(out.contains("created"), "{out}");
    let rv1 = server.kubectl_ok(&[
        "get",
        "deploy",
        "applied",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    let out = server.kubectl_apply_stdin(&["apply", "-f", "-"], DEPLOYMENT);
    assert!(out.contains("unchanged"), "{out}");
    let rv2 = server.kubectl_ok(&[
        "get",
        "deploy",
        "applied",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    assert_eq!(rv1, rv2, "a second apply of the same file changes nothing");

    let edited = DEPLOYMENT
        .replace("nginx:1.27", "nginx:1.28")
        .replace(", {name: B, value: '2'}", "");
    let out = server.kubectl_apply_stdin(&["apply", "-f", "-"], &edited);
    assert!(out.contains("configured"), "{out}");
    let got = server.kubectl_ok(&[
        "get", "deploy", "applied", "-o",
        "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[*].name} {.metadata.generation}",
    ]);
    assert_eq!(
        got, "nginx:1.28 A 2",
        "image changed, env B removed, generation bumped once"
    );
}

#[test]
fn explain_reads_the_openapi_schemas() {
    let server = TestServer::start();
    let out = server.kubectl_ok(&["explain", "pod.spec.containers"]);
    assert!(out.contains("FIELD: containers <[]Container>"), "{out}");
    assert!(out.contains("image"), "{out}");
    let out = server.kubectl_ok(&["explain", "deployment.spec.strategy"]);
    assert!(out.contains("rollingUpdate"), "{out}");
}

#[test]
fn create_with_strict_validation_rejects_unknown_fields() {
    let server = TestServer::start();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndatta: {a: b}\n";
    let out = server.kubectl_stdin(&["create", "-f", "-"], Some(manifest));
    assert!(!out.status.success(), "unknown field must be rejected");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field \"datta\""), "{err}");
    assert!(!server.kubectl(&["get", "cm", "typo"]).status.success());
}
