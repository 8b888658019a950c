//! End to end with the real kubectl: the namespace controller empties a deleted
//! namespace, waits for finalizers, and then lets the namespace go.

mod common;

use std::time::Duration;

use common::{TestServer, eventually};

const CONTENT: &str = "\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: token}
stringData: {password: hunter2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx:1.27}
";

const HELD_CONFIGMAP: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: held
  finalizers: [example.com/hold]
data: {a: b}
";

fn namespace_exists(server: &TestServer, name: &str) -> bool {
    server.kubectl(&["get", "namespace", name]).status.success()
}

fn condition_status(server: &TestServer, namespace: &str, kind: &str) -> String {
    let path = format!("jsonpath={{.status.conditions[?(@.type==\"{kind}\")].status}}");
    server.kubectl_ok(&["get", "namespace", namespace, "-o", &path])
}

#[test]
fn deleting_a_namespace_removes_its_objects_and_then_the_namespace() {
    let server = TestServer::start();
    server.kubectl_ok(&["create", "namespace", "shop"]);
    server.kubectl_apply_stdin(&["apply", "-n", "shop", "-f", "-"], CONTENT);

    server.kubectl_ok(&["delete", "namespace", "shop", "--timeout=60s"]);

    assert!(!namespace_exists(&server, "shop"));
    let out = server.kubectl(&[
        "get",
        "configmaps,secrets,deployments",
        "-n",
        "shop",
        "-o",
        "name",
    ]);
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let everywhere = server.kubectl_ok(&[
        "get",
        "configmaps,secrets,deployments",
        "--all-namespaces",
        "-o",
        "jsonpath={.items[*].metadata.namespace}",
    ]);
    assert!(
        !everywhere.split_whitespace().any(|ns| ns == "shop"),
        "{everywhere}"
    );
    let names = server.kubectl_ok(&["get", "namespaces", "-o", "name"]);
    assert!(names.contains("namespace/default"), "{names}");
}

#[test]
fn an_object_with_a_finalizer_keeps_its_namespace_terminating_until_the_finalizer_goes() {
    let server = TestServer::start();
    server.kubectl_ok(&["create", "namespace", "held"]);
    server.kubectl_apply_stdin(&["apply", "-n", "held", "-f", "-"], HELD_CONFIGMAP);
    server.kubectl_ok(&["create", "configmap", "free", "-n", "held"]);

    server.kubectl_ok(&["delete", "namespace", "held", "--wait=false"]);
    let reported = eventually(Duration::from_secs(30), || {
        condition_status(&server, "held", "NamespaceFinalizersRemaining") == "True"
    });
    assert!(
        reported,
        "the namespace never reported the remaining finalizer"
    );
    let free = server.kubectl(&["get", "configmap", "free", "-n", "held"]);
    assert!(
        !free.status.success(),
        "the configmap without finalizer stayed"
    );
    let deleting = server.kubectl_ok(&[
        "get",
        "configmap",
        "held",
        "-n",
        "held",
        "-o",
        "jsonpath={.metadata.deletionTimestamp}",
    ]);
    assert!(
        !deleting.is_empty(),
        "the held configmap was not marked for deletion"
    );

    std::thread::sleep(Duration::from_secs(1));
    let phase = server.kubectl_ok(&["get", "namespace", "held", "-o", "jsonpath={.status.phase}"]);
    assert_eq!(phase, "Terminating");

    server.kubectl_ok(&[
        "patch",
        "configmap",
        "held",
        "-n",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    server.kubectl_ok(&["wait", "--for=delete", "namespace/held", "--timeout=30s"]);
    assert!(!namespace_exists(&server, "held"));
}

#[test]
fn a_terminating_namespace_reports_the_content_it_waits_for() {
    let server = TestServer::start();
    server.kubectl_ok(&["create", "namespace", "slow"]);
    server.kubectl_apply_stdin(&["apply", "-n", "slow", "-f", "-"], HELD_CONFIGMAP);

    server.kubectl_ok(&["delete", "namespace", "slow", "--wait=false"]);
    let reported = eventually(Duration::from_secs(30), || {
        condition_status(&server, "slow", "NamespaceContentRemaining") == "True"
    });
    assert!(
        reported,
        "the namespace never reported its remaining content"
    );

    let described = server.kubectl_ok(&["describe", "namespace", "slow"]);
    assert!(described.contains("SomeResourcesRemain"), "{described}");
    assert!(described.contains("example.com/hold"), "{described}");
    assert_eq!(
        condition_status(&server, "slow", "NamespaceDeletionDiscoveryFailure"),
        "False"
    );
}
